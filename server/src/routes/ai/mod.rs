//! The task API (`/api/ai/…`): one endpoint per task, each a thin door onto
//! [`crate::services::tasks`], answering in the task dialect (`{"success": false, "error",
//! "code"}` on errors), and the provider chain's health.

pub mod analyze;
pub mod complete;
pub mod document;
pub mod generate;
pub mod health;
pub mod refactor;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::contract::tasks::{TaskKind, TaskRequest};
use crate::http::dialect_errors::Dialect;
use crate::http::extract::JsonBody;
use crate::http::metering::UsageNote;
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;
use crate::services::tasks;

/// Runs `kind` for the body and renders the answer (with its usage for the key's meter) or the
/// error in the task dialect.
async fn answer(state: &AppState, kind: TaskKind, caller: OpenCaller, JsonBody(body): JsonBody) -> Response {
    let request = match TaskRequest::parse(&body) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    };
    match tasks::run(state, kind, caller, request).await {
        Ok(answer) => {
            let note = UsageNote {
                model: Some(answer.model.clone()),
                prompt_tokens: answer.usage.prompt_tokens,
                generated_tokens: answer.usage.completion_tokens,
            };
            let mut response = Json(answer).into_response();
            response.extensions_mut().insert(note);
            response
        }
        Err(failure) => error(failure.status, &failure.message),
    }
}

/// An error body of the task dialect.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(Dialect::Task.body(status, message))).into_response()
}
