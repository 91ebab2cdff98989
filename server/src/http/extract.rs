//! Request body and query extraction with FastAPI's error behaviour: an unparsable body is a 422
//! `json_invalid`, an oversized one a 413, and field problems are reported by the endpoint's parser.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use code4me_shared::validation::Issue;
use serde_json::Value;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::parse::refuse_nul_in;

/// The request body as JSON, ready for an endpoint's field-by-field parser.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::Detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, messages::UNSUPPORTED_MEDIA_TYPE.to_owned()));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection_is_timeout(&rejection) {
                ApiError::RequestTimeout
            } else if rejection.into_response().status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Validation(vec![Issue::json_invalid(0, "could not read the body")])
            }
        })?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let position = byte_offset(&bytes, e.line(), e.column());
            ApiError::Validation(vec![Issue::json_invalid(position, &e.to_string())])
        })?;
        refuse_nul_in(&bytes, &body)?;
        Ok(JsonBody(body))
    }
}

/// `application/json` or any `application/*+json`, with or without parameters. Browsers send
/// other types (`text/plain`, forms) cross-site without a CORS preflight: refusing them keeps a
/// JSON endpoint out of reach of a forged form post, and tells a client that forgot the header.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether reading the body failed because the client was too slow (the body deadline layer).
fn rejection_is_timeout(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(rejection);
    while let Some(error) = source {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Offset of (1-based) `line`, `column` in `bytes`, for `loc: ["body", offset]`.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes.split(|b| *b == b'\n').take(line.saturating_sub(1)).map(|l| l.len() + 1).sum();
    (line_start + column.saturating_sub(1)).min(bytes.len())
}

/// The query string as a JSON object (every value a string), for the same field parsers.
pub struct QueryFields(pub Value);

impl<S: Send + Sync> FromRequestParts<S> for QueryFields {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut object = serde_json::Map::new();
        for (key, value) in form_urlencoded_pairs(query) {
            object.insert(key, Value::String(value));
        }
        Ok(Self(Value::Object(object)))
    }
}

/// Decodes `a=1&b=x%20y` pairs (also used for HTML form posts).
pub fn form_urlencoded_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

fn decode_component(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    cookie::Cookie::parse_encoded(format!("x={spaced}")).map(|c| c.value().to_owned()).unwrap_or(spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_are_percent_and_plus_decoded() {
        let pairs = form_urlencoded_pairs("token=abc&new_password=Pa%24s+word1&empty=");
        assert_eq!(pairs[1], ("new_password".into(), "Pa$s word1".into()));
        assert_eq!(pairs[2], ("empty".into(), String::new()));
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(axum::http::header::CONTENT_TYPE, value.parse().expect("header"));
            is_json_content_type(&headers)
        };
        assert!(with("application/json") && with("Application/JSON; charset=utf-8") && with("application/merge-patch+json"));
        assert!(!with("text/plain") && !with("application/x-www-form-urlencoded") && !with("multipart/form-data; boundary=x"));
        assert!(!is_json_content_type(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn json_error_offsets_count_lines() {
        assert_eq!(byte_offset(b"{\n  \"a\": x", 2, 8), 9);
    }
}
