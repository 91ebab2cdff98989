//! `POST /api/ai/document`: The given code with docstrings and comments inserted.

use axum::extract::State;
use axum::response::Response;

use crate::contract::tasks::TaskKind;
use crate::http::extract::JsonBody;
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// The given code with docstrings and comments inserted.
#[utoipa::path(post, path = "/api/ai/document", tag = "tasks", security(("bearer" = []), ("auth_token" = [])),
    request_body = crate::contract::tasks::TaskRequestBody,
    responses(
        (status = 200, description = "The answer", body = crate::contract::tasks::TaskResponse),
        (status = 400, description = "The model has no template for this task, or no provider has that name, or the provider refused the request", body = crate::contract::tasks::TaskError),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::tasks::TaskError),
        (status = 403, description = "The key may not be used here", body = crate::contract::tasks::TaskError),
        (status = 404, description = "No model has that name", body = crate::contract::tasks::TaskError),
        (status = 408, description = "The body arrived too slowly", body = crate::contract::tasks::TaskError),
        (status = 413, description = "`content` or the body is larger than allowed", body = crate::contract::tasks::TaskError),
        (status = 415, description = "The body is not JSON", body = crate::contract::tasks::TaskError),
        (status = 422, description = "A field is missing, of the wrong type or out of range", body = crate::contract::tasks::TaskError),
        (status = 429, description = "The key's quota (or the address's hourly budget) is spent", body = crate::contract::tasks::TaskError,
            headers(("Retry-After" = u64, description = "Seconds until the spent budget resets"))),
        (status = 503, description = "No provider could answer", body = crate::contract::tasks::TaskError)
    ))]
pub async fn document(State(state): State<AppState>, caller: OpenCaller, body: JsonBody) -> Response {
    super::answer(&state, TaskKind::Document, caller, body).await
}
