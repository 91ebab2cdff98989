//! The OpenAI-compatible API (`/v1/…`, outside `/api`, where OpenAI clients look for it): thin adapters over [`crate::services::generation`] for
//! off-the-shelf clients (the official SDKs, Continue, editors' OpenAI integrations). Every
//! response, error or event stream, is in OpenAI's shape; see [`crate::contract::openai`].

pub mod chat_completions;
pub mod completions;
pub mod embeddings;
pub mod models;
pub mod stream;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::contract::error::ApiError;
use crate::contract::openai::OpenAiError;
use crate::http::extract::JsonBody;

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The request body as JSON, refused as OpenAI does: an unparsable body (or one holding U+0000)
/// is a `400 invalid_request_error`, not the plugin contract's 422. A missing content type (415)
/// or an oversize body (413) keep their statuses; the dialect middleware gives them OpenAI's shape.
pub struct OpenAiJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for OpenAiJson {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match JsonBody::from_request(request, state).await {
            Ok(JsonBody(body)) => Ok(Self(body)),
            Err(ApiError::Validation(issues)) => {
                let issue = issues.first();
                let message = match issue {
                    Some(issue) if issue.kind == "json_invalid" => {
                        let why = issue.ctx.as_ref().and_then(|c| c.get("error")).and_then(Value::as_str).unwrap_or("invalid JSON");
                        format!("We could not parse the JSON body of your request: {why}.")
                    }
                    Some(issue) => issue.msg.clone(),
                    None => "The request body is invalid.".to_owned(),
                };
                let param = issue
                    .map(|issue| {
                        issue.loc.iter().skip(1).map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)).collect::<Vec<_>>().join(".")
                    })
                    .filter(|param| !param.is_empty() && issue.is_some_and(|i| i.kind != "json_invalid"));
                let mut error = OpenAiError::bad_request(message, None);
                error.param = param;
                Err(error.into_response())
            }
            Err(other) => Err(other.into_response()),
        }
    }
}

/// What the metering records for a finished generation.
fn usage_note(outcome: &crate::services::generation::Outcome) -> crate::http::metering::UsageNote {
    let answer = &outcome.answer;
    crate::http::metering::UsageNote {
        model: Some(answer.model.clone()),
        prompt_tokens: answer.prompt_tokens,
        generated_tokens: answer.completion_tokens,
    }
}

/// A JSON answer with its usage note attached for the metering.
fn metered<T: serde::Serialize>(body: T, outcome: &crate::services::generation::Outcome) -> Response {
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(usage_note(outcome));
    response
}
