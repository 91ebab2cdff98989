//! A run's event log: every event is stored in `agent_run_event` first, then announced on
//! `agent_events:<run_id>` (servers stream from the table), and logged with the run's request id.
//! Progress never falls; each finished stage logs its duration (`stage`, `latency_ms`: the log
//! analyzer's stage percentiles) and records `agent_stage_seconds{stage}`.

use std::time::{Duration, Instant};

use code4me_shared::agent::{AgentEvent, EventKind, RunStatus, Stage};
use code4me_shared::redis_keys::agent_events_channel;
use redis::aio::ConnectionManager;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::run_row::{Outcome, close};

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

impl EventLog {
    /// The log of `run_id`, continuing after any events already stored.
    pub async fn open(db: PgPool, redis: ConnectionManager, run_id: Uuid) -> Result<Self, sqlx::Error> {
        let seq: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM agent_run_event WHERE run_id = $1").bind(run_id).fetch_one(&db).await?;
        Ok(Self { db, redis, run_id, seq, progress: 0, stage: Stage::Validation, stage_started: Instant::now() })
    }

    /// The stage now.
    pub fn stage(&self) -> Stage {
        self.stage
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

    /// Appends the run's final event and closes its row in one transaction: whoever sees the
    /// event sees the run ended, and a stream that finds the run ended has its final event.
    pub async fn close(&mut self, kind: EventKind, message: String, extra: Extra, status: RunStatus, outcome: &Outcome) -> anyhow::Result<()> {
        let event = self.next(kind, message, extra);
        let json = serde_json::to_value(&event)?;
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=STORE_ATTEMPTS {
            let stored = async {
                let mut tx = self.db.begin().await?;
                insert(&mut *tx, self.run_id, event.seq, &json).await?;
                close(&mut *tx, self.run_id, status, outcome).await?;
                tx.commit().await
            };
            match stored.await {
                Ok(()) => break,
                Err(error) if attempt == STORE_ATTEMPTS => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(request_id = %self.run_id, %error, attempt, "closing an agent run failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.announce().await;
        Ok(())
    }

    /// Appends one event of the current stage.
    pub async fn emit(&mut self, kind: EventKind, message: String, extra: Extra) -> anyhow::Result<()> {
        let event = self.next(kind, message, extra);
        self.store(&event).await?;
        self.announce().await;
        Ok(())
    }

    async fn announce(&mut self) {
        let _: Result<i64, _> = redis::cmd("PUBLISH").arg(agent_events_channel(self.run_id)).arg(self.seq).query_async(&mut self.redis).await;
    }

    /// The next event of the current stage, logged.
    fn next(&mut self, kind: EventKind, message: String, extra: Extra) -> AgentEvent {
        self.progress = self.progress.max(self.stage.progress());
        self.seq += 1;
        let event = AgentEvent {
            request_id: self.run_id,
            seq: self.seq,
            kind,
            stage: self.stage,
            progress: self.progress,
            message,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            elapsed_ms: extra.elapsed.map(|e| e.as_millis() as u64),
            diff: extra.diff,
            branch: extra.branch,
            commit: extra.commit,
            pr_url: extra.pr_url,
            details: extra.details,
        };
        match kind {
            EventKind::Error => tracing::warn!(request_id = %self.run_id, stage = self.stage.as_str(), message = %event.message, "agent run failed"),
            EventKind::Thinking => tracing::debug!(request_id = %self.run_id, stage = self.stage.as_str(), "agent thinking"),
            _ => {
                tracing::info!(request_id = %self.run_id, stage = self.stage.as_str(), progress = self.progress, message = %event.message, "agent event")
            }
        }
        event
    }

    async fn store(&self, event: &AgentEvent) -> anyhow::Result<()> {
        let json = serde_json::to_value(event)?;
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=STORE_ATTEMPTS {
            let stored = insert(&self.db, self.run_id, event.seq, &json).await;
            match stored {
                Ok(_) => return Ok(()),
                Err(error) if attempt == STORE_ATTEMPTS => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(request_id = %self.run_id, %error, attempt, "storing an agent event failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}

async fn insert(db: impl sqlx::PgExecutor<'_>, run_id: Uuid, seq: i64, event: &Value) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO agent_run_event (run_id, seq, event) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(run_id)
        .bind(seq)
        .bind(event)
        .execute(db)
        .await?;
    Ok(())
}
