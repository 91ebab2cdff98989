//! Errors in the dialect of the door they come from. The open APIs' clients parse errors in their
//! own shape — the official OpenAI SDKs read `{"error": {"message", "type", "code"}}` and raise
//! `AuthenticationError`, `NotFoundError`, `RateLimitError` from it — so every error response
//! under a dialect's paths is translated, whoever produced it: the key door (401/403/429), the
//! body bounds (408/413/415), axum's rejections, the 404 of an unknown path. Handlers of a dialect
//! answer in its shape already; those pass through untouched.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

/// Largest error body read for translation (ours are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The error shapes of the open APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1/…`: OpenAI's `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `/api/v1/…` and `/health`: the suggestion API's `{"status": "error", "error": {"code", "message"}}`.
    Suggestion,
    /// `/api/ai/…` and `/api/status`: the task API's `{"success": false, "error", "code"}`.
    Task,
}

impl Dialect {
    /// The dialect of a path, if any.
    pub fn of_path(path: &str) -> Option<Self> {
        if path == "/v1" || path.starts_with("/v1/") {
            Some(Self::OpenAi)
        } else if path.starts_with("/api/v1/") || path == "/api/v1" {
            Some(Self::Suggestion)
        } else if path.starts_with("/api/ai/") || path == "/api/ai" || path == "/api/status" {
            Some(Self::Task)
        } else {
            None
        }
    }

    /// Whether `body` is already in this dialect's shape.
    fn is_shaped(self, body: &Value) -> bool {
        match self {
            Self::OpenAi => body.get("error").is_some_and(Value::is_object),
            Self::Suggestion => body.get("status").and_then(Value::as_str) == Some("error"),
            Self::Task => body.get("success").and_then(Value::as_bool) == Some(false),
        }
    }

    /// The error body for `status` with `message`.
    pub fn body(self, status: StatusCode, message: &str) -> Value {
        let code = error_code(status);
        match self {
            Self::OpenAi => json!({"error": {"message": message, "type": openai_type(status), "param": null, "code": code}}),
            Self::Suggestion => json!({"status": "error", "error": {"code": code, "message": message}}),
            Self::Task => json!({"success": false, "error": message, "code": code}),
        }
    }
}

/// OpenAI's error `type` for a status.
fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        429 => "rate_limit_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// A machine-readable code for a status.
pub fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "invalid_api_key",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "request_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_request",
        429 => "rate_limit_exceeded",
        503 => "service_unavailable",
        _ => "server_error",
    }
}

/// The message of one of our other error bodies: `detail` (text, or FastAPI's list of problems
/// with their field paths), `message`, or the status's reason.
fn message_of(body: &Value, status: StatusCode) -> String {
    let reason = || status.canonical_reason().unwrap_or("Error").to_owned();
    match body.get("detail").or_else(|| body.get("message")) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(problems)) => {
            let parts: Vec<String> = problems
                .iter()
                .map(|problem| {
                    let location: Vec<String> = problem
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|loc| loc.iter().map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)).collect())
                        .unwrap_or_default();
                    let msg = problem.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    if location.is_empty() { msg.to_owned() } else { format!("{}: {msg}", location.join(".")) }
                })
                .collect();
            if parts.is_empty() { reason() } else { parts.join("; ") }
        }
        _ => reason(),
    }
}

/// The middleware.
pub async fn translate(request: Request, next: Next) -> Response {
    let Some(dialect) = Dialect::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if dialect.is_shaped(&parsed) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let message =
        if parsed.is_null() && !bytes.is_empty() { String::from_utf8_lossy(&bytes).chars().take(500).collect() } else { message_of(&parsed, status) };
    let translated = serde_json::to_vec(&dialect.body(status, &message)).expect("JSON serialises");
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(translated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_door_has_its_dialect() {
        assert_eq!(Dialect::of_path("/v1/chat/completions"), Some(Dialect::OpenAi));
        assert_eq!(Dialect::of_path("/api/v1/completion"), Some(Dialect::Suggestion));
        assert_eq!(Dialect::of_path("/api/ai/refactor"), Some(Dialect::Task));
        assert_eq!(Dialect::of_path("/api/status"), Some(Dialect::Task));
        assert_eq!(Dialect::of_path("/api/completion/request"), None);
        assert_eq!(Dialect::of_path("/v10/x"), None);
    }

    #[test]
    fn our_bodies_become_the_dialects_with_their_message() {
        let detail = json!({"detail": "Invalid API key"});
        assert_eq!(
            Dialect::OpenAi.body(StatusCode::UNAUTHORIZED, &message_of(&detail, StatusCode::UNAUTHORIZED)),
            json!({"error": {"message": "Invalid API key", "type": "authentication_error", "param": null, "code": "invalid_api_key"}})
        );
        let problems = json!({"detail": [{"type": "missing", "loc": ["body", "model"], "msg": "Field required"}]});
        assert_eq!(message_of(&problems, StatusCode::UNPROCESSABLE_ENTITY), "body.model: Field required");
        assert_eq!(message_of(&Value::Null, StatusCode::NOT_FOUND), "Not Found");
        assert!(Dialect::Task.is_shaped(&Dialect::Task.body(StatusCode::BAD_REQUEST, "x")));
        assert!(Dialect::Suggestion.is_shaped(&Dialect::Suggestion.body(StatusCode::BAD_REQUEST, "x")));
        assert!(!Dialect::OpenAi.is_shaped(&detail));
    }
}
