//! Every SQL statement of the server, one module per table family. Functions take a pool or
//! transaction and parsed domain values, return rows as `FromRow` structs, and never validate.

pub mod agent_runs;
pub mod analytics;
pub mod api_keys;
pub mod changes;
pub mod chats;
pub mod configs;
pub mod demo;
pub mod editor_documents;
pub mod editor_files;
pub mod models;
pub mod projects;
pub mod queries;
pub mod reference;
pub mod studies;
pub mod usage;
pub mod users;

/// Whether PostgreSQL answers (`SELECT 1`), for the health check.
pub async fn ping(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}
