//! The `agent_run` row as the worker keeps it: claimed when a run starts (by one worker instance,
//! under the row's lock), closed only by the instance that holds it, and reaped when it has been
//! `running` far longer than any run may take.

use std::time::Duration;

use code4me_shared::agent::{AgentEvent, EventKind, RunStatus, Stage};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Attempts at claiming a run while PostgreSQL is away (about a minute); the job is not given up
/// before, or its row would stay `queued` for good.
const CLAIM_ATTEMPTS: u32 = 15;
/// How often the reaper looks for stuck runs.
const REAP_EVERY: Duration = Duration::from_secs(60);
/// A run `running` this much past the run deadline has lost its worker.
const REAP_GRACE: Duration = Duration::from_secs(300);

/// What claiming a run found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This worker runs it now.
    Claimed,
    /// Its owner cancelled it before it started.
    CancelledBeforeStart,
    /// Another worker had started it and is gone (its job came back): this worker took it over to
    /// end it with an error (it may have pushed already, so it is not run again).
    Abandoned {
        /// Its owner had asked for it to stop.
        cancel_requested: bool,
    },
    /// It has ended already, or no longer exists (its user was deleted): nothing to do.
    Gone,
}

/// Marks the run as `worker`'s, under the row's lock (two deliveries of one job cannot both claim
/// it).
pub async fn claim(db: &PgPool, run_id: Uuid, worker: &str) -> Result<Claim, sqlx::Error> {
    let mut tx = db.begin().await?;
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT status, cancel_requested FROM agent_run WHERE run_id = $1 FOR UPDATE").bind(run_id).fetch_optional(&mut *tx).await?;
    let claim = match row {
        None => Claim::Gone,
        Some((status, cancel)) => match RunStatus::parse(&status) {
            Some(RunStatus::Queued) if cancel => Claim::CancelledBeforeStart,
            Some(RunStatus::Queued) => Claim::Claimed,
            Some(RunStatus::Running) => Claim::Abandoned { cancel_requested: cancel },
            _ => Claim::Gone,
        },
    };
    if claim != Claim::Gone {
        sqlx::query("UPDATE agent_run SET status = 'running', started_at = coalesce(started_at, now()), worker_id = $2 WHERE run_id = $1")
            .bind(run_id)
            .bind(worker)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(claim)
}

/// [`claim`], retried with backoff while PostgreSQL is unreachable.
pub async fn claim_retrying(db: &PgPool, run_id: Uuid, worker: &str) -> Result<Claim, sqlx::Error> {
    let mut wait = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match claim(db, run_id, worker).await {
            Err(error) if attempt < CLAIM_ATTEMPTS => {
                tracing::warn!(request_id = %run_id, %error, attempt, "claiming an agent run failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Whether the run's owner asked for it to stop.
pub async fn cancel_requested(db: &PgPool, run_id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar("SELECT cancel_requested FROM agent_run WHERE run_id = $1").bind(run_id).fetch_optional(db).await?.unwrap_or(false))
}

/// The outcome of a run.
#[derive(Debug, Default, Clone)]
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

/// Closes the run with `status` if `worker` still holds it; `false` when another instance took it
/// over (then this one must write nothing more).
pub async fn close(db: impl PgExecutor<'_>, run_id: Uuid, worker: &str, status: RunStatus, outcome: &Outcome) -> Result<bool, sqlx::Error> {
    let closed = sqlx::query(
        "UPDATE agent_run SET status = $3, branch = $4, commit_sha = $5, pr_url = $6, error = $7, finished_at = now() \
         WHERE run_id = $1 AND worker_id = $2 AND status = 'running'",
    )
    .bind(run_id)
    .bind(worker)
    .bind(status.as_str())
    .bind(&outcome.branch)
    .bind(&outcome.commit)
    .bind(&outcome.pr_url)
    .bind(outcome.error.as_deref().map(|e| e.chars().take(2000).collect::<String>()))
    .execute(db)
    .await?;
    Ok(closed.rows_affected() == 1)
}

/// Ends runs `running` for longer than `run_timeout` plus a grace — their worker lost them without
/// ending them (PostgreSQL away at the end, a worker killed whose job never came back) — each with
/// a final error event, in one transaction with its status. Returns how many.
pub async fn reap(db: &PgPool, run_timeout: Duration) -> Result<usize, sqlx::Error> {
    let limit = (run_timeout + REAP_GRACE).as_secs() as f64;
    let stuck: Vec<Uuid> =
        sqlx::query_scalar("SELECT run_id FROM agent_run WHERE status = 'running' AND started_at < now() - make_interval(secs => $1)")
            .bind(limit)
            .fetch_all(db)
            .await?;
    let mut reaped = 0;
    for run_id in stuck {
        let mut tx = db.begin().await?;
        let still: Option<String> = sqlx::query_scalar("SELECT status FROM agent_run WHERE run_id = $1 AND status = 'running' FOR UPDATE")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
        if still.is_none() {
            continue;
        }
        let (seq, progress): (i64, i64) =
            sqlx::query_as("SELECT coalesce(max(seq), 0) + 1, coalesce(max((event->>'progress')::bigint), 0) FROM agent_run_event WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await?;
        let message = "the run's worker stopped without ending it; start the run again";
        let event = AgentEvent {
            request_id: run_id,
            seq,
            kind: EventKind::Error,
            stage: Stage::Complete,
            progress: u8::try_from(progress.clamp(0, 100)).unwrap_or(0),
            message: message.into(),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_ms: None,
            diff: None,
            branch: None,
            commit: None,
            pr_url: None,
            details: None,
        };
        let json = serde_json::to_value(&event).expect("events serialise");
        sqlx::query("INSERT INTO agent_run_event (run_id, seq, event) VALUES ($1, $2, $3)")
            .bind(run_id)
            .bind(seq)
            .bind(json)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE agent_run SET status = 'failed', error = $2, finished_at = now() WHERE run_id = $1")
            .bind(run_id)
            .bind(message)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(request_id = %run_id, "reaped an agent run its worker lost");
        reaped += 1;
    }
    Ok(reaped)
}

/// Reaps every minute, until aborted.
pub async fn reap_forever(db: PgPool, run_timeout: Duration) {
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        if let Err(error) = reap(&db, run_timeout).await {
            tracing::warn!(%error, "could not reap stuck agent runs");
        }
    }
}
