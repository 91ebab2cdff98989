//! Snapshots of the plugin contract: the status and body of every REST endpoint the JetBrains
//! plugin calls (accounts, sessions, projects, completion, feedback, multi-file context, chat), the
//! admin config endpoints, ping, and the WebSocket frames. A change to any of them fails here and
//! shows as a `.snap` diff in review (`./test.sh` runs with `INSTA_UPDATE=no`; accept an intended
//! change with `INSTA_UPDATE=always` or `cargo insta review`).
//!
//! Volatile values are redacted, and each redaction checks the value's kind first (a UUID, an
//! RFC 3339 time, a duration in ms, a score in [0, 1], non-empty text), so the snapshot still pins
//! the type of what it hides.

mod accounts;
mod completion;
mod config;
mod websocket;

use code4me_tests::plugin::Reply;
use insta::internals::{Content, ContentPath, Redaction};
use serde_json::{Value, json};

/// What a snapshot holds of a reply: its status and JSON body.
fn reply(reply: &Reply) -> Value {
    json!({"status": reply.status, "body": reply.body})
}

/// A UUID string, shown as `[uuid]`.
fn uuid() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        let text = value.as_str().unwrap_or_else(|| panic!("{path} is a string: {value:?}"));
        uuid::Uuid::parse_str(text).unwrap_or_else(|e| panic!("{path} is a UUID ({e}): {text}"));
        "[uuid]"
    })
}

/// An RFC 3339 timestamp, shown as `[time]`.
fn time() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        let text = value.as_str().unwrap_or_else(|| panic!("{path} is a string: {value:?}"));
        chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{path} is an RFC 3339 time ({e}): {text}"));
        "[time]"
    })
}

/// A whole number of milliseconds, shown as `[ms]`.
fn millis() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        value.as_u64().unwrap_or_else(|| panic!("{path} is a non-negative integer: {value:?}"));
        "[ms]"
    })
}

/// A number in [0, 1] (a model's confidence), shown as `[score]`.
fn score() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        let number = value.as_f64().unwrap_or_else(|| panic!("{path} is a number: {value:?}"));
        assert!((0.0..=1.0).contains(&number), "{path} is in [0, 1]: {number}");
        "[score]"
    })
}

/// Text a model wrote (it varies with the weights and the machine), shown as `[text]`.
fn text() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        value.as_str().unwrap_or_else(|| panic!("{path} is a string: {value:?}"));
        "[text]"
    })
}

/// The HOCON config a user gets at log-in, shown as `[hocon]` (its text has a snapshot of its own).
fn hocon() -> Redaction {
    insta::dynamic_redaction(|value: Content, path: ContentPath<'_>| {
        let text = value.as_str().unwrap_or_else(|| panic!("{path} is a string: {value:?}"));
        assert!(text.contains("languages {"), "{path} is the HOCON config: {text}");
        "[hocon]"
    })
}
