//! The `config` table: the HOCON documents users and studies point at.

use sqlx::PgExecutor;
use uuid::Uuid;

/// A `config` row.
#[derive(Debug, sqlx::FromRow)]
pub struct ConfigRow {
    /// The config.
    pub config_id: i64,
    /// Its HOCON (or JSON) text.
    pub config_data: String,
}

/// Every config row, by id.
pub async fn all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<ConfigRow>> {
    sqlx::query_as("SELECT config_id, config_data FROM config ORDER BY config_id").fetch_all(db).await
}

/// The config `user_id` runs with, `None` when the user is gone.
pub async fn of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<ConfigRow>> {
    sqlx::query_as("SELECT c.config_id, c.config_data FROM \"user\" u JOIN config c ON c.config_id = u.config_id WHERE u.user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Stores a new config; returns its id.
pub async fn insert(db: impl PgExecutor<'_>, config_data: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO config (config_data) VALUES ($1) RETURNING config_id").bind(config_data).fetch_one(db).await
}

/// Replaces a config's text; `false` when there is no such config.
pub async fn update(db: impl PgExecutor<'_>, config_id: i64, config_data: &str) -> sqlx::Result<bool> {
    let updated = sqlx::query("UPDATE config SET config_data = $2 WHERE config_id = $1").bind(config_id).bind(config_data).execute(db).await?;
    Ok(updated.rows_affected() > 0)
}

/// Who still refers to a config.
#[derive(Debug, sqlx::FromRow)]
pub struct ConfigUse {
    /// Users on it.
    pub users: i64,
    /// Studies with it as default, plus assignments to it.
    pub studies: i64,
}

/// How many users and study references point at `config_id`.
pub async fn uses(db: impl PgExecutor<'_>, config_id: i64) -> sqlx::Result<ConfigUse> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM \"user\" WHERE config_id = $1) AS users, \
                (SELECT count(*) FROM study WHERE default_config_id = $1) + (SELECT count(*) FROM config_assignment_history WHERE assigned_config_id = $1) AS studies",
    )
    .bind(config_id)
    .fetch_one(db)
    .await
}

/// What [`delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The row is gone.
    Deleted,
    /// There was no such config.
    NotFound,
    /// A user or study refers to it (someone took it into use after the caller checked).
    InUse,
}

/// Deletes a config.
pub async fn delete(db: impl PgExecutor<'_>, config_id: i64) -> sqlx::Result<Deleted> {
    match sqlx::query("DELETE FROM config WHERE config_id = $1").bind(config_id).execute(db).await {
        Ok(done) if done.rows_affected() == 0 => Ok(Deleted::NotFound),
        Ok(_) => Ok(Deleted::Deleted),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(Deleted::InUse),
        Err(error) => Err(error),
    }
}
