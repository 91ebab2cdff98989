//! The reference tables telemetry points at: `plugin_version`, `trigger_type`,
//! `programming_language` (their ids only).

use sqlx::PgExecutor;

/// Every `plugin_version` id.
pub async fn version_ids(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT version_id FROM plugin_version").fetch_all(db).await
}

/// Every `trigger_type` id.
pub async fn trigger_type_ids(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT trigger_type_id FROM trigger_type").fetch_all(db).await
}

/// Every `programming_language` id.
pub async fn language_ids(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT language_id FROM programming_language").fetch_all(db).await
}
