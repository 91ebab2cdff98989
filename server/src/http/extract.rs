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

/// The request body as JSON, ready for an endpoint's field-by-field parser.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::Detail(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type: send the body as application/json".to_owned()));
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

/// [`refuse_nul`] for `body`, parsed from the JSON text `raw`. JSON carries U+0000 only as the
/// escape `\u0000` (a raw control character does not parse), so a text without it is not walked.
pub fn refuse_nul_in(raw: &[u8], body: &Value) -> Result<(), ApiError> {
    if raw.windows(6).any(|w| w == b"\\u0000") { refuse_nul(body) } else { Ok(()) }
}

/// Refuses text holding U+0000 anywhere in a JSON document (keys included), naming the first
/// place. PostgreSQL text cannot store it: accepted, it would fail later, in a worker, where the
/// user's query would be lost; refused here, the client learns at once (invariant 6).
pub fn refuse_nul(body: &Value) -> Result<(), ApiError> {
    match nul_path(body) {
        None => Ok(()),
        Some(mut path) => {
            path.reverse();
            path.insert(0, Value::from("body"));
            Err(ApiError::Validation(vec![Issue::new("string_nul", path, "String should not contain NUL (U+0000) characters", Value::Null, None)]))
        }
    }
}

/// The path (innermost first) of the first string or key holding U+0000. JSON nesting is
/// bounded by serde_json's recursion limit (128), so the recursion is too.
fn nul_path(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::String(s) => s.contains('\0').then(Vec::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            nul_path(v).map(|mut p| {
                p.push(Value::from(i));
                p
            })
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(vec![Value::from(k.replace('\0', "\u{fffd}"))]);
            }
            nul_path(v).map(|mut p| {
                p.push(Value::from(k.as_str()));
                p
            })
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// Parses a JSON body into `T`, reporting the first problem pydantic-style at its field path
/// (`["body", "context", "prefix"]`). For nested bodies whose fields need no custom messages.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    let input = body.clone();
    serde_path_to_error::deserialize::<_, T>(body).map_err(|error| {
        let mut loc = vec![Value::from("body")];
        for segment in error.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
                serde_path_to_error::Segment::Map { key } => loc.push(Value::from(key.as_str())),
                serde_path_to_error::Segment::Enum { variant } => loc.push(Value::from(variant.as_str())),
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = error.inner().to_string();
        let kind = if message.starts_with("missing field") { "missing" } else { "value_error" };
        let value = field_at(&input, &loc[1..]).cloned().unwrap_or(Value::Null);
        ApiError::Validation(vec![Issue::new(kind, loc, message, value, None)])
    })
}

/// The value at `path` inside `value`, if any.
fn field_at<'a>(value: &'a Value, path: &[Value]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| match key {
        Value::String(k) => v.get(k.as_str()),
        Value::Number(n) => n.as_u64().and_then(|i| v.get(i as usize)),
        _ => None,
    })
}

/// A 422 for one field that parsed but breaks a rule (`ge`, `le`, ...), in pydantic's shape.
pub fn field_issue(loc: &[&str], kind: &str, msg: impl Into<String>, input: Value) -> Issue {
    let mut path = vec![Value::from("body")];
    path.extend(loc.iter().map(|s| Value::from(*s)));
    Issue::new(kind, path, msg, input, None)
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
    fn nul_is_found_anywhere_in_a_document_and_named_by_its_path() {
        let body = serde_json::json!({"context": {"prefix": "ok", "files": ["a", "b\u{0}c"]}});
        let ApiError::Validation(issues) = refuse_nul(&body).expect_err("a NUL") else { panic!("a 422") };
        assert_eq!(serde_json::to_value(&issues[0]).expect("json")["loc"], serde_json::json!(["body", "context", "files", 1]));
        assert!(refuse_nul(&serde_json::json!({"k\u{0}": 1})).is_err(), "keys too");
        assert!(refuse_nul(&serde_json::json!({"a": [1, "x", {"b": null}]})).is_ok());
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
