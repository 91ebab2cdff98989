//! `agent_run` and `agent_run_event`: the repository agent's runs and their event logs. The server
//! writes a run's row when it is requested and its cancel flag; the worker writes the rest.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// One run's row.
#[derive(Debug, sqlx::FromRow)]
pub struct RunRow {
    /// The run.
    pub run_id: Uuid,
    /// The repository.
    pub repo_url: String,
    /// The request.
    pub prompt: String,
    /// The base branch asked for.
    pub base_branch: Option<String>,
    /// The pinned provider.
    pub provider: Option<String>,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    /// The pushed branch.
    pub branch: Option<String>,
    /// Its commit.
    pub commit_sha: Option<String>,
    /// The pull request.
    pub pr_url: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Taken by a worker.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A new queued run.
pub struct NewRun<'a> {
    /// Its id.
    pub run_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The repository.
    pub repo_url: &'a str,
    /// The request (redacted).
    pub prompt: &'a str,
    /// The base branch.
    pub base_branch: Option<&'a str>,
    /// The pinned provider.
    pub provider: Option<&'a str>,
}

/// Stores a queued run unless the user has `max_active` runs queued or running already (then
/// `false`). The user's advisory lock makes the count and the insert one step, so two racing
/// requests cannot both pass.
pub async fn insert_within(db: &PgPool, run: &NewRun<'_>, max_active: i64) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('agent_run:' || $1::text, 0))").bind(run.user_id).execute(&mut *tx).await?;
    let active: i64 = sqlx::query_scalar("SELECT count(*) FROM agent_run WHERE user_id = $1 AND status IN ('queued', 'running')")
        .bind(run.user_id)
        .fetch_one(&mut *tx)
        .await?;
    if active >= max_active {
        return Ok(false);
    }
    insert(&mut *tx, run).await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores a queued run.
async fn insert(db: impl PgExecutor<'_>, run: &NewRun<'_>) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO agent_run (run_id, user_id, repo_url, prompt, base_branch, provider) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(run.run_id)
        .bind(run.user_id)
        .bind(run.repo_url)
        .bind(run.prompt)
        .bind(run.base_branch)
        .bind(run.provider)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a run that could not be queued as failed, with `error`.
pub async fn fail_unqueued(db: impl PgExecutor<'_>, run_id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE agent_run SET status = 'failed', error = $2, finished_at = now() WHERE run_id = $1 AND status = 'queued'")
        .bind(run_id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// The user's runs, newest first.
pub async fn list(db: &PgPool, user_id: Uuid, limit: i64) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(
        "SELECT run_id, repo_url, prompt, base_branch, provider, status, branch, commit_sha, pr_url, error, created_at, started_at, finished_at \
         FROM agent_run WHERE user_id = $1 ORDER BY created_at DESC, run_id LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One run of the user's; `None` for a run that is not theirs or does not exist.
pub async fn get(db: &PgPool, user_id: Uuid, run_id: Uuid) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(
        "SELECT run_id, repo_url, prompt, base_branch, provider, status, branch, commit_sha, pr_url, error, created_at, started_at, finished_at \
         FROM agent_run WHERE run_id = $1 AND user_id = $2",
    )
    .bind(run_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The run's events after `after`, in order, at most `limit`, each with its `seq`.
pub async fn events_after(db: &PgPool, run_id: Uuid, after: i64, limit: i64) -> sqlx::Result<Vec<(i64, serde_json::Value)>> {
    sqlx::query_as("SELECT seq, event FROM agent_run_event WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Asks for the run to stop; `false` when it is not the user's or has ended.
pub async fn request_cancel(db: &PgPool, user_id: Uuid, run_id: Uuid) -> sqlx::Result<bool> {
    let updated = sqlx::query("UPDATE agent_run SET cancel_requested = true WHERE run_id = $1 AND user_id = $2 AND status IN ('queued', 'running')")
        .bind(run_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// The run's status (any owner): the stream's watchdog reads it.
pub async fn status(db: &PgPool, run_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT status FROM agent_run WHERE run_id = $1").bind(run_id).fetch_optional(db).await
}

/// The run's owner.
pub async fn owner(db: &PgPool, run_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM agent_run WHERE run_id = $1").bind(run_id).fetch_optional(db).await
}
