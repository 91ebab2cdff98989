//! The `model_name` and `programming_language` reference tables.

use sqlx::PgExecutor;

/// A `model_name` row.
#[derive(Debug, sqlx::FromRow)]
pub struct ModelRow {
    /// The model.
    pub model_id: i64,
    /// Its name (the worker's catalog key).
    pub model_name: String,
    /// Whether it is a chat model.
    pub is_instruction_tuned: bool,
}

/// Every model row, by id.
pub async fn all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ModelRow>> {
    sqlx::query_as("SELECT model_id, model_name, is_instruction_tuned FROM model_name ORDER BY model_id").fetch_all(db).await
}

/// A model's id and name.
#[derive(Debug, sqlx::FromRow)]
pub struct ModelName {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
}

/// The names of those of `ids` that name a model.
pub async fn names(db: impl PgExecutor<'_>, ids: &[i64]) -> sqlx::Result<Vec<ModelName>> {
    sqlx::query_as("SELECT model_id, model_name FROM model_name WHERE model_id = ANY($1)").bind(ids).fetch_all(db).await
}

/// A `programming_language` row.
#[derive(Debug, sqlx::FromRow)]
pub struct LanguageRow {
    /// The language.
    pub language_id: i64,
    /// Its name, e.g. `Python`.
    pub language_name: String,
}

/// Every language row, by id.
pub async fn languages(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<LanguageRow>> {
    sqlx::query_as("SELECT language_id, language_name FROM programming_language ORDER BY language_id").fetch_all(db).await
}

/// A `model_name` row with its templates and parameters, for the open APIs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelDefinition {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Whether it is a chat model.
    pub is_instruction_tuned: bool,
    /// `prompt_templates` JSON text (FIM, chat style, task prompts).
    pub prompt_templates: String,
}

/// Every model row with its templates, by id.
pub async fn definitions(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ModelDefinition>> {
    sqlx::query_as("SELECT model_id, model_name, is_instruction_tuned, prompt_templates FROM model_name ORDER BY model_id").fetch_all(db).await
}
