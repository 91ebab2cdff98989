//! Reading JSON documents the way the contract reports problems (FastAPI/pydantic's 422 lists),
//! for REST bodies and WebSocket frames alike: field paths of parse errors, rule violations, and
//! text holding U+0000.

use code4me_shared::validation::Issue;
use serde_json::Value;

use crate::contract::error::ApiError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_anywhere_in_a_document_and_named_by_its_path() {
        let body = serde_json::json!({"context": {"prefix": "ok", "files": ["a", "b\u{0}c"]}});
        let ApiError::Validation(issues) = refuse_nul(&body).expect_err("a NUL") else { panic!("a 422") };
        assert_eq!(serde_json::to_value(&issues[0]).expect("json")["loc"], serde_json::json!(["body", "context", "files", 1]));
        assert!(refuse_nul(&serde_json::json!({"k\u{0}": 1})).is_err(), "keys too");
        assert!(refuse_nul(&serde_json::json!({"a": [1, "x", {"b": null}]})).is_ok());
    }
}
