//! `PUT /api/project/activate`: make an existing project active in the caller's session.

use axum::extract::State;
use axum::http::{HeaderMap, header};

use crate::contract::accounts::parse_project_id;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::Message;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::projects;
use crate::services::state::AppState;

/// Activates the project: from Redis when another session has it active, else from the database
/// (restoring its stored multi-file context). Only members may activate a project — upstream lets
/// anyone holding the id in; we answer a non-member exactly like an unknown project.
#[utoipa::path(put, path = "/api/project/activate", tag = "project", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::ActivateProjectBody),
    responses(
        (status = 200, description = "Activated; Set-Cookie project_token", body = crate::contract::responses::Message),
        (status = 401, description = "Not authenticated, no session, or unknown project", body = crate::contract::responses::Message),
        (status = 404, description = "Project active in Redis but deleted from the database", body = crate::contract::responses::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn activate(State(state): State<AppState>, caller: CurrentUser, JsonBody(body): JsonBody) -> Result<(HeaderMap, Reply<Message>), ApiError> {
    let project_id = parse_project_id(&body)?;
    projects::activate(&state, caller.user_id, project_id).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookies::set(cookies::PROJECT_TOKEN, &project_id.to_string(), None, state.settings.cookie_secure));
    Ok((headers, Reply(Message::new(messages::PROJECT_ACTIVATED))))
}
