//! The suggestion API (`/api/v1/…`, the "AI code completion backend" design document's wire
//! format): completions for editor plugins, and their metrics. Errors in its dialect,
//! `{"status": "error", "error": {"code", "message"}}`.

pub mod completion;
pub mod metrics;
