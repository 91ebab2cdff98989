//! One log line as `tracing-subscriber`'s JSON formatter writes it (`shared::logging`: the event's
//! fields flattened beside `timestamp`, `level`, `message` and `target`, and the enclosing spans'
//! fields in `spans`, outermost first), and the durations its fields carry.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A parsed line: anything that is a JSON object with a string `level`.
#[derive(Debug, Clone)]
pub struct Event {
    /// `timestamp`, when present and RFC 3339.
    pub timestamp: Option<DateTime<Utc>>,
    /// `level`, upper case (`ERROR`, `WARN`, `INFO`, ...).
    pub level: String,
    /// `target`: the module that logged it.
    pub target: String,
    /// `message`.
    pub message: String,
    /// The event's own fields (without the four above and `spans`).
    fields: Map<String, Value>,
    /// The spans' fields, innermost first (so the nearest span wins a lookup).
    spans: Vec<Map<String, Value>>,
}

impl Event {
    /// Parses a line; `None` for anything else (a pretty-format line, a panic message, a line cut
    /// short by a crash or by a reader that started mid-line).
    pub fn parse(line: &str) -> Option<Self> {
        let Value::Object(mut fields) = serde_json::from_str::<Value>(line.trim()).ok()? else { return None };
        let level = match fields.remove("level")? {
            Value::String(level) => level.to_ascii_uppercase(),
            _ => return None,
        };
        let text = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let timestamp = match fields.remove("timestamp") {
            Some(Value::String(t)) => DateTime::parse_from_rfc3339(&t).ok().map(|t| t.with_timezone(&Utc)),
            _ => None,
        };
        let target = text(&mut fields, "target");
        let message = text(&mut fields, "message");
        let mut spans: Vec<Map<String, Value>> = match fields.remove("spans") {
            Some(Value::Array(spans)) => spans.into_iter().filter_map(|s| if let Value::Object(s) = s { Some(s) } else { None }).collect(),
            _ => Vec::new(),
        };
        spans.reverse();
        Some(Self { timestamp, level, target, message, fields, spans })
    }

    /// The event's own field `name`.
    pub fn own(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The event's own field `name` as text (numbers and booleans printed).
    pub fn own_text(&self, name: &str) -> Option<String> {
        self.own(name).map(as_text)
    }

    /// Field `name` of the event or, failing that, of the nearest span that has it: `request.id`
    /// and `http.route` live on the request's span, a `stage` may live on a job's.
    pub fn field_text(&self, name: &str) -> Option<String> {
        self.own(name).or_else(|| self.spans.iter().find_map(|s| s.get(name))).map(as_text)
    }

    /// Whether the line was written while serving an HTTP request (inside the request span).
    pub fn in_request(&self) -> bool {
        self.spans.iter().any(|s| s.contains_key("http.method"))
    }

    /// `METHOD /route/template` of the request the line was written in, if any; a request no route
    /// matched (the website's files, unknown paths) is `METHOD (unmatched)`.
    pub fn route_key(&self) -> Option<String> {
        self.in_request().then(|| format!("{} {}", self.method(), self.route()))
    }

    /// `http.method` of the enclosing request (`-` when not logged).
    pub fn method(&self) -> String {
        self.field_text("http.method").unwrap_or_else(|| "-".to_owned())
    }

    /// `http.route` of the enclosing request, `(unmatched)` when empty or absent.
    pub fn route(&self) -> String {
        self.field_text("http.route").filter(|r| !r.is_empty()).unwrap_or_else(|| UNMATCHED.to_owned())
    }

    /// The duration the event's own fields carry, in milliseconds: a number in `duration_ms`,
    /// `elapsed_ms` or `latency_ms`, or a text with its unit in `latency`, `elapsed` or `duration`
    /// (tower-http writes `"12 ms"`).
    pub fn duration_ms(&self) -> Option<f64> {
        ["duration_ms", "elapsed_ms", "latency_ms"]
            .iter()
            .find_map(|k| self.own(k).and_then(number))
            .or_else(|| ["latency", "elapsed", "duration"].iter().find_map(|k| self.own(k).and_then(parse_duration_ms)))
    }
}

/// The route label of requests no route template matched.
pub const UNMATCHED: &str = "(unmatched)";

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number, or a text holding one.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
}

/// `"12 ms"`, `"3 μs"`, `"1.5 s"`, `"40 ns"` (tower-http's `Latency` display, spaces optional), or
/// a bare number of milliseconds, in milliseconds.
pub fn parse_duration_ms(value: &Value) -> Option<f64> {
    let Value::String(text) = value else { return number(value) };
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let amount: f64 = text[..split].parse().ok()?;
    let factor = match text[split..].trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "μs" | "µs" | "us" => 0.001,
        "ns" => 0.000_001,
        _ => return None,
    };
    Some(amount * factor).filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A line exactly as our server writes it (copied from an end-to-end run's `server.log`).
    const REQUEST_LINE: &str = r#"{"timestamp":"2026-12-04T22:00:33.449843Z","level":"INFO","message":"finished processing request","latency":"37 ms","status":201,"target":"tower_http::trace::on_response","spans":[{"http.method":"POST","http.path":"/api/user/create","http.route":"/api/user/create","request.id":"8349f957-f526-4be1-91d5-f97ef9047e38","name":"request"}]}"#;

    #[test]
    fn a_server_line_yields_its_time_level_target_and_the_request_spans_fields() {
        let event = Event::parse(REQUEST_LINE).expect("parses");
        assert_eq!(event.timestamp.map(|t| t.to_rfc3339()), Some("2026-12-04T22:00:33.449843+00:00".to_owned()));
        assert_eq!((event.level.as_str(), event.target.as_str()), ("INFO", "tower_http::trace::on_response"));
        assert_eq!(event.message, "finished processing request");
        assert_eq!(event.own_text("status").as_deref(), Some("201"));
        assert_eq!(event.field_text("request.id").as_deref(), Some("8349f957-f526-4be1-91d5-f97ef9047e38"));
        assert_eq!(event.route_key().as_deref(), Some("POST /api/user/create"));
        assert_eq!(event.duration_ms(), Some(37.0));
    }

    #[test]
    fn the_nearest_span_wins_and_a_line_outside_requests_has_no_route() {
        let line = r#"{"level":"warn","message":"m","target":"t","stage":"clone","spans":[{"stage":"outer","http.method":"GET","http.route":""},{"stage":"inner"}]}"#;
        let event = Event::parse(line).expect("parses");
        assert_eq!(event.level, "WARN");
        assert_eq!(event.timestamp, None);
        assert_eq!(event.field_text("stage").as_deref(), Some("clone"), "the event's own field first");
        assert_eq!(event.route_key().as_deref(), Some("GET (unmatched)"));
        let outside = Event::parse(r#"{"level":"ERROR","message":"m","target":"t"}"#).expect("parses");
        assert_eq!(outside.route_key(), None);
    }

    #[test]
    fn anything_but_a_json_object_with_a_level_is_unparsable() {
        for line in [
            "",
            "thread 'main' panicked at server/src/main.rs:1:1:",
            "2026-12-04T22:00:32.386413Z  INFO code4me_server: code4me-server listening",
            r#"{"timestamp":"2026-12-04T22:00:33Z","level":"INFO","message":"cut sh"#,
            r#"{"message":"no level"}"#,
            r#"{"level":3}"#,
            "[1,2]",
        ] {
            assert!(Event::parse(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn durations_are_read_in_every_unit_tower_http_writes() {
        assert_eq!(parse_duration_ms(&json!("12 ms")), Some(12.0));
        assert_eq!(parse_duration_ms(&json!("12ms")), Some(12.0));
        assert_eq!(parse_duration_ms(&json!("1.5 s")), Some(1500.0));
        assert_eq!(parse_duration_ms(&json!("250 μs")), Some(0.25));
        assert_eq!(parse_duration_ms(&json!("250 us")), Some(0.25));
        assert_eq!(parse_duration_ms(&json!("2000000 ns")), Some(2.0));
        assert_eq!(parse_duration_ms(&json!(7)), Some(7.0));
        assert_eq!(parse_duration_ms(&json!("7 parsecs")), None);
        assert_eq!(parse_duration_ms(&json!("fast")), None);
        let event = Event::parse(r#"{"level":"INFO","message":"m","target":"t","duration_ms":"41.5","latency":"1 s"}"#).expect("parses");
        assert_eq!(event.duration_ms(), Some(41.5), "a *_ms number first");
    }
}
