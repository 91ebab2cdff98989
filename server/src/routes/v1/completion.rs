//! `POST /api/v1/completion`: ranked code suggestions for the caret of an editor.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::contract::suggestions::{SuggestionErrorBody, SuggestionRequest, SuggestionResponse};
use crate::http::auth::OpenCaller;
use crate::http::dialect_errors::Dialect;
use crate::http::metering::UsageNote;
use crate::services::generation::GenerationError;
use crate::services::providers::ChainFailure;
use crate::services::state::AppState;
use crate::services::suggestions::{self, REQUESTS};

/// Suggests completions for the caret: the analysed context heads the prompt, the model's
/// answers come back trimmed, deduplicated and ranked by confidence. Identical requests are
/// answered from the cache (`cacheHit`) for `SUGGESTION_CACHE_TTL_SECONDS`. `user_id` in the body
/// is ignored: the caller is the API key's (or the signed-in) user.
#[utoipa::path(post, path = "/api/v1/completion", tag = "suggestions", security(("bearer" = []), ("auth_token" = [])),
    request_body = SuggestionRequest,
    responses(
        (status = 200, description = "The suggestions (possibly none)", body = SuggestionResponse),
        (status = 400, description = "A field is missing, of the wrong type or out of bounds (the message names it), the body is not JSON, or the model is unknown", body = SuggestionErrorBody),
        (status = 401, description = "No credentials, or an invalid API key", body = SuggestionErrorBody),
        (status = 413, description = "The body is larger than `MAX_REQUEST_BODY_BYTES`, or the prompt longer than the tier allows", body = SuggestionErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = SuggestionErrorBody),
        (status = 422, description = "The URL holds an encoded U+0000", body = SuggestionErrorBody),
        (status = 429, description = "The API key's quota is spent (see `X-RateLimit-*` and `Retry-After`)", body = SuggestionErrorBody),
        (status = 502, description = "The model's provider failed mid-answer", body = SuggestionErrorBody),
        (status = 503, description = "No worker serves a completion model now, or PostgreSQL/Redis is unreachable", body = SuggestionErrorBody)
    ))]
#[tracing::instrument(skip_all, fields(user.id = %caller.user_id))]
pub async fn complete(State(state): State<AppState>, caller: OpenCaller, Json(body): Json<Value>) -> Response {
    let query = match SuggestionRequest::parse(body) {
        Ok(query) => query,
        Err(invalid) => {
            metrics::counter!(REQUESTS, "outcome" => "invalid").increment(1);
            return failure(StatusCode::BAD_REQUEST, &invalid.message());
        }
    };
    match suggestions::suggest(&state, caller, query).await {
        Ok(served) => {
            let note = UsageNote {
                model: Some(served.response.metadata.model_version.clone()),
                prompt_tokens: served.prompt_tokens,
                generated_tokens: served.generated_tokens,
            };
            let mut response = Json(served.response).into_response();
            response.extensions_mut().insert(note);
            response
        }
        Err(error) => {
            let (status, message) = status_of(error);
            failure(status, &message)
        }
    }
}

/// An error body in the suggestion API's dialect.
fn failure(status: StatusCode, message: &str) -> Response {
    (status, Json(Dialect::Suggestion.body(status, message))).into_response()
}

/// The status and message of a failed generation; unexpected failures are logged here, once.
fn status_of(error: GenerationError) -> (StatusCode, String) {
    match error {
        GenerationError::UnknownModel(name) => (StatusCode::BAD_REQUEST, format!("model: no model is named {name:?}")),
        GenerationError::WrongKind { model, wanted } => (StatusCode::BAD_REQUEST, format!("model: {model} cannot do {wanted}")),
        GenerationError::NoDefaultModel(kind) => (StatusCode::SERVICE_UNAVAILABLE, format!("No {kind} model is configured.")),
        GenerationError::PromptTooLong { chars, limit } => {
            (StatusCode::PAYLOAD_TOO_LARGE, format!("context: the prompt has {chars} characters; your tier allows {limit}"))
        }
        GenerationError::Chain(failure) => {
            let status = match &failure {
                ChainFailure::Rejected(_) | ChainFailure::UnknownProvider(_) => StatusCode::BAD_REQUEST,
                ChainFailure::Interrupted(_) => StatusCode::BAD_GATEWAY,
                ChainFailure::NoProvider(_) | ChainFailure::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, failure.message())
        }
        GenerationError::Unavailable(error) => {
            tracing::error!(error = format!("{error:#}"), "suggestion failed");
            (StatusCode::SERVICE_UNAVAILABLE, "The service is unavailable; try again shortly.".to_owned())
        }
    }
}
