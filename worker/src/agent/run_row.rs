//! The `agent_run` row as the worker keeps it: claimed when a run starts, closed when it ends.

use code4me_shared::agent::RunStatus;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// What claiming a run found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This worker runs it now.
    Claimed,
    /// Its owner cancelled it before it started.
    CancelledBeforeStart,
    /// Another worker had started it and is gone (its job came back): it ends with an error.
    Abandoned,
    /// It has ended already, or no longer exists (its user was deleted): nothing to do.
    Gone,
}

/// Marks the run running on `worker`, under the row's lock (two deliveries of one job cannot both
/// claim it).
pub async fn claim(db: &PgPool, run_id: Uuid, worker: &str) -> Result<Claim, sqlx::Error> {
    let mut tx = db.begin().await?;
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT status, cancel_requested FROM agent_run WHERE run_id = $1 FOR UPDATE").bind(run_id).fetch_optional(&mut *tx).await?;
    let claim = match row {
        None => Claim::Gone,
        Some((status, cancel)) => match RunStatus::parse(&status) {
            Some(RunStatus::Queued) if cancel => Claim::CancelledBeforeStart,
            Some(RunStatus::Queued) => Claim::Claimed,
            Some(RunStatus::Running) => Claim::Abandoned,
            _ => Claim::Gone,
        },
    };
    if claim == Claim::Claimed {
        sqlx::query("UPDATE agent_run SET status = 'running', started_at = now(), worker_id = $2 WHERE run_id = $1")
            .bind(run_id)
            .bind(worker)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(claim)
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The pushed branch.
    pub branch: Option<String>,
    /// Its commit.
    pub commit: Option<String>,
    /// The pull request.
    pub pr_url: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Closes the run with `status`.
pub async fn close(db: impl PgExecutor<'_>, run_id: Uuid, status: RunStatus, outcome: &Outcome) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agent_run SET status = $2, branch = $3, commit_sha = $4, pr_url = $5, error = $6, finished_at = now() WHERE run_id = $1")
        .bind(run_id)
        .bind(status.as_str())
        .bind(&outcome.branch)
        .bind(&outcome.commit)
        .bind(&outcome.pr_url)
        .bind(outcome.error.as_deref().map(|e| e.chars().take(2000).collect::<String>()))
        .execute(db)
        .await?;
    Ok(())
}
