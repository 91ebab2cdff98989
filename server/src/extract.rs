//! Request body and query extraction with FastAPI's error behaviour: an unparsable body is a 422
//! `json_invalid`, an oversized one a 413, and field problems are reported by the endpoint's parser.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use code4me_shared::validation::Issue;
use serde_json::Value;

use crate::error::ApiError;

/// The request body as JSON, ready for an endpoint's field-by-field parser.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.into_response().status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Validation(vec![Issue::json_invalid(0, "could not read the body")])
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let position = byte_offset(&bytes, e.line(), e.column());
            ApiError::Validation(vec![Issue::json_invalid(position, &e.to_string())])
        })
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
    cookie::Cookie::parse_encoded(format!("x={spaced}"))
        .map(|c| c.value().to_owned())
        .unwrap_or(spaced)
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
    fn json_error_offsets_count_lines() {
        assert_eq!(byte_offset(b"{\n  \"a\": x", 2, 8), 9);
    }
}
