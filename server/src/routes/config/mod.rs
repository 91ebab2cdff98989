//! `/api/config/...` (admin): the HOCON config rows users are assigned to, validated before they
//! are stored, plus the language table and the models with the workers that serve them.
//!
//! Upstream declares `/{config_id}` before `/languages` and `/models`, which shadows both (422);
//! here static segments win, so every endpoint answers.

pub mod crud;
pub mod models;

use serde_json::{Value, json};

/// A config row as the endpoints return it: `config_data` parsed when it is JSON, otherwise the raw
/// text (HOCON), as upstream does.
pub fn config_json(config_id: i64, config_data: &str) -> Value {
    let data = serde_json::from_str::<Value>(config_data).unwrap_or_else(|_| Value::String(config_data.to_owned()));
    json!({"config_id": config_id, "config_data": data})
}
