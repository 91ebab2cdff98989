//! A run's event log: every event is stored in `agent_run_event` first, then announced on
//! `agent_events` (the run's id) (servers stream from the table), and logged with the run's request id.
//! Progress never falls (a run taken over continues from its last event); each finished stage logs
//! its duration (`stage`, `latency_ms`: the log analyzer's stage percentiles) and records
//! `agent_stage_seconds{stage}`. Text reaches PostgreSQL without U+0000 (neither text nor JSONB
//! can hold it, and git or a model may print one).

use std::time::{Duration, Instant};

use code4me_shared::agent::{AgentEvent, EventKind, RunStatus, Stage};
use code4me_shared::redis_keys::AGENT_EVENTS_CHANNEL;
use redis::aio::ConnectionManager;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::run_row::{Outcome, close};
use crate::pg_text::pg_string;

/// Attempts to store one event while PostgreSQL is away, then the run gives up.
const STORE_ATTEMPTS: u32 = 8;

/// The events of one run, written in order.
pub struct EventLog {
    db: PgPool,
    redis: ConnectionManager,
    run_id: Uuid,
    seq: i64,
    progress: u8,
    stage: Stage,
    stage_started: Instant,
}

/// The optional parts of an event.
#[derive(Default)]
pub struct Extra {
    /// The change.
    pub diff: Option<String>,
    /// The pushed branch.
    pub branch: Option<String>,
    /// Its commit.
    pub commit: Option<String>,
    /// The pull request.
    pub pr_url: Option<String>,
    /// Anything else.
    pub details: Option<Value>,
    /// The stage's duration.
    pub elapsed: Option<Duration>,
}

/// Another worker instance holds the run now: this one must write nothing more.
#[derive(Debug, thiserror::Error)]
#[error("another worker has taken this agent run over")]
pub struct TakenOver;

impl EventLog {
    /// The log of `run_id`, continuing after any events already stored (and from their progress).
    pub async fn open(db: PgPool, redis: ConnectionManager, run_id: Uuid) -> Result<Self, sqlx::Error> {
        let (seq, progress): (i64, i64) =
            sqlx::query_as("SELECT coalesce(max(seq), 0), coalesce(max((event->>'progress')::bigint), 0) FROM agent_run_event WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(&db)
                .await?;
        let progress = u8::try_from(progress.clamp(0, 100)).unwrap_or(0);
        Ok(Self { db, redis, run_id, seq, progress, stage: Stage::Validation, stage_started: Instant::now() })
    }

    /// Enters `stage` with an info event.
    pub async fn begin(&mut self, stage: Stage, message: impl Into<String>) -> anyhow::Result<()> {
        self.stage = stage;
        self.stage_started = Instant::now();
        self.emit(EventKind::Info, message.into(), Extra::default()).await
    }

    /// Ends the current stage with an info event carrying its duration.
    pub async fn finish(&mut self, message: impl Into<String>, details: Option<Value>) -> anyhow::Result<()> {
        let elapsed = self.stage_started.elapsed();
        let stage = self.stage.as_str();
        let latency_ms = elapsed.as_millis() as u64;
        tracing::info!(request_id = %self.run_id, stage, latency_ms, "agent stage finished");
        metrics::histogram!("agent_stage_seconds", "stage" => stage).record(elapsed.as_secs_f64());
        self.emit(EventKind::Info, message.into(), Extra { details, elapsed: Some(elapsed), ..Extra::default() }).await
    }

    /// Appends one event of the current stage.
    pub async fn emit(&mut self, kind: EventKind, message: String, extra: Extra) -> anyhow::Result<()> {
        let (seq, json) = self.next(kind, message, extra)?;
        let (db, run_id) = (self.db.clone(), self.run_id);
        self.retrying("storing an agent event", || {
            let (db, json) = (db.clone(), json.clone());
            async move {
                let mut tx = db.begin().await?;
                insert(&mut *tx, run_id, seq, &json).await?;
                tx.commit().await?;
                Ok(())
            }
        })
        .await?;
        self.announce().await;
        Ok(())
    }

    /// Appends the run's final event and closes its row (if `worker` still holds it) in one
    /// transaction: whoever sees the event sees the run ended, and a stream that finds the run ended
    /// has its final event.
    pub async fn close(
        &mut self,
        kind: EventKind,
        message: String,
        extra: Extra,
        status: RunStatus,
        outcome: &Outcome,
        worker: &str,
    ) -> anyhow::Result<()> {
        let (seq, json) = self.next(kind, message, extra)?;
        let (db, run_id) = (self.db.clone(), self.run_id);
        self.retrying("closing an agent run", || {
            let (db, json, outcome, worker) = (db.clone(), json.clone(), outcome.clone(), worker.to_owned());
            async move {
                let mut tx = db.begin().await?;
                insert(&mut *tx, run_id, seq, &json).await?;
                if !close(&mut *tx, run_id, &worker, status, &outcome).await? {
                    return Err(TakenOver.into());
                }
                tx.commit().await?;
                Ok(())
            }
        })
        .await?;
        self.announce().await;
        Ok(())
    }

    /// Runs `write` until it succeeds, with backoff while PostgreSQL is away; a takeover or a
    /// conflicting event ends the run's writing at once.
    async fn retrying<Write, Written>(&self, what: &str, mut write: Write) -> anyhow::Result<()>
    where
        Write: FnMut() -> Written,
        Written: Future<Output = anyhow::Result<()>>,
    {
        let mut wait = Duration::from_millis(200);
        for attempt in 1.. {
            match write().await {
                Ok(()) => return Ok(()),
                Err(error) if attempt == STORE_ATTEMPTS || error.is::<TakenOver>() => return Err(error),
                Err(error) => {
                    tracing::warn!(request_id = %self.run_id, %error, attempt, "{what} failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        unreachable!("the loop returns by its last attempt")
    }

    async fn announce(&mut self) {
        let _: Result<i64, _> = redis::cmd("PUBLISH").arg(AGENT_EVENTS_CHANNEL).arg(self.run_id.to_string()).query_async(&mut self.redis).await;
    }

    /// The next event of the current stage, logged, as its sequence number and stored JSON.
    fn next(&mut self, kind: EventKind, message: String, extra: Extra) -> anyhow::Result<(i64, Value)> {
        self.progress = self.progress.max(self.stage.progress());
        self.seq += 1;
        let event = AgentEvent {
            request_id: self.run_id,
            seq: self.seq,
            kind,
            stage: self.stage,
            progress: self.progress,
            message: pg_string(message),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_ms: extra.elapsed.map(|e| e.as_millis() as u64),
            diff: extra.diff.map(pg_string),
            branch: extra.branch,
            commit: extra.commit,
            pr_url: extra.pr_url,
            details: extra.details.map(without_nul),
        };
        match kind {
            EventKind::Error => tracing::warn!(request_id = %self.run_id, stage = self.stage.as_str(), message = %event.message, "agent run failed"),
            EventKind::Thinking => tracing::debug!(request_id = %self.run_id, stage = self.stage.as_str(), "agent thinking"),
            _ => {
                tracing::info!(request_id = %self.run_id, stage = self.stage.as_str(), progress = self.progress, message = %event.message, "agent event")
            }
        }
        Ok((self.seq, serde_json::to_value(&event)?))
    }
}

/// `value` with U+0000 replaced in every string (JSONB refuses `\u0000`).
fn without_nul(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(pg_string(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (pg_string(k), without_nul(v))).collect()),
        other => other,
    }
}

/// Stores one event; a `seq` already taken means another worker writes this run.
async fn insert(db: impl sqlx::PgExecutor<'_>, run_id: Uuid, seq: i64, event: &Value) -> anyhow::Result<()> {
    let inserted = sqlx::query("INSERT INTO agent_run_event (run_id, seq, event) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(run_id)
        .bind(seq)
        .bind(event)
        .execute(db)
        .await?;
    if inserted.rows_affected() == 0 {
        return Err(TakenOver.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_leaves_every_string_of_the_details() {
        let cleaned = without_nul(json!({"a\u{0}": ["x\u{0}y", 1, {"b": "\u{0}"}]}));
        assert_eq!(cleaned, json!({"a\u{FFFD}": ["x\u{FFFD}y", 1, {"b": "\u{FFFD}"}]}));
    }
}
