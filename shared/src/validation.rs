//! Request validation with FastAPI's error shape.
//!
//! Upstream (FastAPI + pydantic) answers invalid bodies with `422 {"detail": [issue, ...]}` where each
//! issue has `type`, `loc`, `msg`, `input` and sometimes `ctx`. Clients (the plugin, the website) show
//! `msg`, so we produce the same types and messages. [`Fields`] reads a JSON object field by field and
//! collects every issue instead of stopping at the first, as pydantic does.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// One validation failure, serialised exactly like a pydantic v2 error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Machine-readable kind (`missing`, `string_too_short`, `value_error`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "name"]`, `["query", "email"]`, ...
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// The offending input.
    pub input: Value,
    /// Parameters of the failed constraint, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl Issue {
    /// An issue at `loc`.
    pub fn new(kind: &str, loc: Vec<Value>, msg: impl Into<String>, input: Value, ctx: Option<Value>) -> Self {
        Self { kind: kind.to_owned(), loc, msg: msg.into(), input, ctx }
    }

    /// The body is not valid JSON (`json_invalid`, as FastAPI).
    pub fn json_invalid(position: usize, error: &str) -> Self {
        Self::new("json_invalid", vec![json!("body"), json!(position)], "JSON decode error", json!({}), Some(json!({"error": error})))
    }
}

/// A failed string constraint, before it is given a location.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    kind: &'static str,
    msg: String,
    ctx: Option<Value>,
}

impl Rejection {
    /// Shorter than `min` characters.
    pub fn too_short(min: usize) -> Self {
        let unit = if min == 1 { "character" } else { "characters" };
        Self { kind: "string_too_short", msg: format!("String should have at least {min} {unit}"), ctx: Some(json!({"min_length": min})) }
    }

    /// Longer than `max` characters.
    pub fn too_long(max: usize) -> Self {
        let unit = if max == 1 { "character" } else { "characters" };
        Self { kind: "string_too_long", msg: format!("String should have at most {max} {unit}"), ctx: Some(json!({"max_length": max})) }
    }

    /// Does not match `pattern`.
    pub fn pattern(pattern: &str) -> Self {
        Self { kind: "string_pattern_mismatch", msg: format!("String should match pattern '{pattern}'"), ctx: Some(json!({"pattern": pattern})) }
    }

    /// A `value_error` with pydantic's "Value error, ..." or email-validator's wording.
    pub fn value_error(msg: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { kind: "value_error", msg: msg.into(), ctx: Some(json!({"reason": reason.into()})) }
    }

    /// Places the rejection at `loc` with the offending `input`.
    pub fn at(self, loc: Vec<Value>, input: Value) -> Issue {
        Issue { kind: self.kind.to_owned(), loc, msg: self.msg, input, ctx: self.ctx }
    }
}

/// Reads the fields of one JSON object, collecting issues.
pub struct Fields<'a> {
    object: Option<&'a Map<String, Value>>,
    whole: &'a Value,
    prefix: Vec<Value>,
    issues: Vec<Issue>,
}

impl<'a> Fields<'a> {
    /// Starts reading `body` (located at `["body"]`). A non-object body is itself an issue.
    pub fn body(body: &'a Value) -> Self {
        Self::at(body, vec![json!("body")])
    }

    /// Starts reading `value` located at `prefix`.
    pub fn at(value: &'a Value, prefix: Vec<Value>) -> Self {
        let mut fields = Self { object: value.as_object(), whole: value, prefix, issues: Vec::new() };
        if fields.object.is_none() {
            let loc = fields.prefix.clone();
            fields.issues.push(Issue::new(
                "model_attributes_type",
                loc,
                "Input should be a valid dictionary or object to extract fields from",
                value.clone(),
                None,
            ));
        }
        fields
    }

    fn loc(&self, name: &str) -> Vec<Value> {
        let mut loc = self.prefix.clone();
        loc.push(json!(name));
        loc
    }

    /// The raw value of `name` when present and not null.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.object.and_then(|o| o.get(name)).filter(|v| !v.is_null())
    }

    fn missing(&mut self, name: &str) {
        let loc = self.loc(name);
        let input = self.whole.clone();
        self.issues.push(Issue::new("missing", loc, "Field required", input, None));
    }

    /// Records `issue` (from a domain parser) for field `name`.
    pub fn reject(&mut self, name: &str, rejection: Rejection, input: Value) {
        let loc = self.loc(name);
        self.issues.push(rejection.at(loc, input));
    }

    /// A required string, parsed by `parse`.
    pub fn required<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Rejection>) -> Option<T> {
        match self.raw(name) {
            None if self.object.is_some() => {
                self.missing(name);
                None
            }
            None => None,
            Some(value) => self.parse_str(name, value, parse),
        }
    }

    /// An optional string (absent or null → `None`), parsed by `parse` when present.
    pub fn optional<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Rejection>) -> Option<Option<T>> {
        match self.raw(name) {
            None => Some(None),
            Some(value) => self.parse_str(name, value, parse).map(Some),
        }
    }

    fn parse_str<T>(&mut self, name: &str, value: &Value, parse: impl FnOnce(&str) -> Result<T, Rejection>) -> Option<T> {
        let Some(text) = value.as_str() else {
            let loc = self.loc(name);
            self.issues.push(Issue::new("string_type", loc, "Input should be a valid string", value.clone(), None));
            return None;
        };
        match parse(text) {
            Ok(parsed) => Some(parsed),
            Err(rejection) => {
                self.reject(name, rejection, value.clone());
                None
            }
        }
    }

    /// An optional integer `>= min`; `default` when absent.
    pub fn integer_at_least(&mut self, name: &str, min: i64, default: Option<i64>) -> Option<Option<i64>> {
        let Some(value) = self.raw(name) else {
            return match default {
                Some(d) => Some(Some(d)),
                None => Some(None),
            };
        };
        let parsed = match value {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        let loc = self.loc(name);
        match parsed {
            None => {
                self.issues.push(Issue::new("int_parsing", loc, "Input should be a valid integer", value.clone(), None));
                None
            }
            Some(n) if n < min => {
                self.issues.push(Issue::new(
                    "greater_than_equal",
                    loc,
                    format!("Input should be greater than or equal to {min}"),
                    value.clone(),
                    Some(json!({"ge": min})),
                ));
                None
            }
            Some(n) => Some(Some(n)),
        }
    }

    /// A required integer `>= min`.
    pub fn required_integer(&mut self, name: &str, min: i64) -> Option<i64> {
        if self.raw(name).is_none() {
            if self.object.is_some() {
                self.missing(name);
            }
            return None;
        }
        self.integer_at_least(name, min, None).flatten()
    }

    /// An optional boolean (pydantic's lax parsing of "true"/"false"/0/1 strings included).
    pub fn boolean(&mut self, name: &str) -> Option<Option<bool>> {
        let Some(value) = self.raw(name) else { return Some(None) };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_i64() == Some(0) => Some(false),
            Value::Number(n) if n.as_i64() == Some(1) => Some(true),
            Value::String(s) => parse_bool(s),
            _ => None,
        };
        if parsed.is_none() {
            let loc = self.loc(name);
            self.issues.push(Issue::new("bool_parsing", loc, "Input should be a valid boolean", value.clone(), None));
            return None;
        }
        Some(parsed)
    }

    /// An optional JSON object, returned as is.
    pub fn object(&mut self, name: &str) -> Option<Option<Map<String, Value>>> {
        let Some(value) = self.raw(name) else { return Some(None) };
        match value.as_object() {
            Some(o) => Some(Some(o.clone())),
            None => {
                let loc = self.loc(name);
                self.issues.push(Issue::new("dict_type", loc, "Input should be a valid dictionary", value.clone(), None));
                None
            }
        }
    }

    /// Finishes: `Ok(())` when every field was valid, else every issue found.
    pub fn finish(self) -> Result<(), Vec<Issue>> {
        if self.issues.is_empty() { Ok(()) } else { Err(self.issues) }
    }
}

/// pydantic's lax boolean strings.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}
