//! The bodies of the config endpoints (`/api/config/...`, admin): config rows, the language table
//! and the models with the workers that serve them.

use std::collections::BTreeMap;

use code4me_shared::validation::{Fields, Issue, Rejection};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::contract::error::ApiError;

/// A config row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigRow {
    /// The config.
    pub config_id: i64,
    /// Its text parsed when it is JSON (an object, as the website stores it), otherwise the raw
    /// text (HOCON), as upstream does.
    pub config_data: Value,
}

impl ConfigRow {
    /// The row of `config_id` with the stored text `config_data`.
    pub fn new(config_id: i64, config_data: &str) -> Self {
        let config_data = serde_json::from_str(config_data).unwrap_or_else(|_| Value::String(config_data.to_owned()));
        Self { config_id, config_data }
    }
}

/// `GET /api/config`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigListResponse {
    /// Every config row, by id.
    pub configs: Vec<ConfigRow>,
}

/// `DELETE /api/config/{config_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigDeletedResponse {
    /// Always `true`.
    pub deleted: bool,
    /// The deleted config.
    pub config_id: i64,
}

/// `GET /api/config/languages`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LanguagesResponse {
    /// Every language row, by id.
    pub languages: Vec<ProgrammingLanguage>,
    /// Language name → id, as the plugin's config uses it.
    pub mapping: BTreeMap<String, i64>,
}

/// A `programming_language` row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammingLanguage {
    /// The language.
    pub language_id: i64,
    /// Its name, e.g. `Python`.
    pub language_name: String,
}

/// `GET /api/config/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// Every model row, by id.
    pub models: Vec<ModelAvailability>,
}

/// A model row with the live workers that serve it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelAvailability {
    /// The model.
    pub model_id: i64,
    /// Its name, e.g. `HuggingFaceTB/SmolLM2-135M-Instruct`.
    pub model_name: String,
    /// Whether it is instruction-tuned.
    pub is_instruction_tuned: bool,
    /// Whether some live worker has it loaded.
    pub available: bool,
    /// The live workers that have it loaded, by worker id.
    pub loaded_by: Vec<String>,
    /// Worker id → why that worker cannot serve it.
    pub unavailable: BTreeMap<String, String>,
}

/// `GET /api/config/models/validate`: a known model's row and workers, or why it is unknown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ModelValidation {
    /// A model row has this name.
    Known(KnownModel),
    /// No model row has this name.
    Unknown(UnknownModel),
}

/// A model name that a model row has.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnownModel {
    /// The name asked about.
    pub name: String,
    /// Always `true`.
    pub exists: bool,
    /// The row with its workers.
    #[serde(flatten)]
    pub model: ModelAvailability,
}

/// A model name that no model row has.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnknownModel {
    /// The name asked about.
    pub name: String,
    /// Always `false`.
    pub exists: bool,
    /// Always `false`.
    pub available: bool,
    /// `no model row has this name`.
    pub error: &'static str,
}

/// The text to store from a `{"config_data": object | string}` body: an object is stored as JSON
/// (which is HOCON), a string as it is (validated afterwards, [`crate::services::configs`]).
pub fn parse_config_text(body: &Value) -> Result<String, ApiError> {
    let mut fields = Fields::body(body);
    let text = match fields.raw("config_data") {
        Some(Value::Object(object)) => Some(serde_json::to_string(object).expect("a JSON object serialises")),
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            let other = other.clone();
            fields.reject("config_data", Rejection::value_error("Input should be an object or a HOCON string", "wrong type"), other);
            None
        }
        None => fields.required("config_data", |s| Ok(s.to_owned())),
    };
    fields.finish()?;
    Ok(text.expect("present when no issue was found"))
}

/// `?name=` of `GET /api/config/models/validate`: trimmed, and required (422 when missing or blank).
pub fn parse_model_name(name: Option<String>) -> Result<String, ApiError> {
    name.map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::Validation(vec![Issue::new("missing", vec![json!("query"), json!("name")], "Field required", Value::Null, None)]))
}
