//! The bodies of the operators' health endpoints (`/api/health/live`, `/ready`, `/detailed`).
//! `/api/health` itself keeps newer upstream's shape, next to its handler.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed.
    Ok,
    /// It failed; the `reason` beside it says why.
    Error,
}

/// Body of `GET /api/health/live`: always `{"status": "ok"}` while the process serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// Whether this instance should receive traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Every check passed.
    Ready,
    /// At least one failed.
    NotReady,
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`.
    pub status: Outcome,
    /// Why it failed (absent when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok() -> Self {
        Self { status: Outcome::Ok, reason: None }
    }

    /// A failed check and why.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self { status: Outcome::Error, reason: Some(reason.into()) }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.status == Outcome::Ok
    }
}

/// The readiness checks, by what they need.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// PostgreSQL answered `SELECT 1` within `HEALTH_CHECK_TIMEOUT_MS`.
    pub postgres: Check,
    /// Redis answered `PING` within `HEALTH_CHECK_TIMEOUT_MS`.
    pub redis: Check,
    /// At least one live worker announces the default completion model as loaded.
    pub worker: Check,
}

/// Body of `GET /api/health/ready` (200 when `ready`, 503 otherwise).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: ReadyStatus,
    /// Each check with its outcome.
    pub checks: ReadinessChecks,
}

/// Overall verdict of the detailed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing in `problems`.
    Ok,
    /// Something is wrong; `problems` says what.
    Degraded,
}

/// A dependency's probe.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Component {
    /// `ok` or `error`.
    pub status: Outcome,
    /// Round trip of the probe in milliseconds (absent when it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The dependencies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Components {
    /// PostgreSQL (`SELECT 1`).
    pub postgres: Component,
    /// Redis (`PING`).
    pub redis: Component,
}

/// Jobs of one queue by state (apalis-redis' key layout).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueReport {
    /// `llm`, `db` or `index`.
    pub queue: String,
    /// Ready to be taken by a worker.
    pub waiting: u64,
    /// Scheduled for later (a retry after a backoff).
    pub delayed: u64,
    /// Taken by a worker and not yet finished (a killed worker's jobs stay here until another
    /// worker recovers them).
    pub running: u64,
    /// Failed for good; apalis never empties this set.
    pub dead: u64,
}

/// A live worker, from its `worker_models:<id>` announcement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerReport {
    /// `WORKER_ID`.
    pub worker_id: String,
    /// `model_id`s it has loaded.
    pub models: Vec<i64>,
    /// `model_id` (a JSON object key, so a string of digits) → why it could not load it.
    #[schema(value_type = BTreeMap<String, String>)]
    pub unavailable: BTreeMap<i64, String>,
    /// When it last refreshed its announcement (absent for workers older than the field).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Seconds since then.
    pub heartbeat_age_seconds: Option<f64>,
}

/// The model readiness waits for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefaultModel {
    /// Its `model_id`.
    pub model_id: i64,
    /// Its name in the config.
    pub name: String,
}

/// The server's PostgreSQL pool.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolReport {
    /// Connections open now (in use or idle).
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// In use by a request or task.
    pub in_use: u32,
    /// The most it opens (`DB_POOL_SIZE`).
    pub max: u32,
}

/// Free space on the file system holding the data directory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskReport {
    /// The directory (`C4M_DATA_DIR`).
    pub path: String,
    /// Bytes an unprivileged process may still write.
    pub free_bytes: u64,
    /// Size of the file system.
    pub total_bytes: u64,
}

/// Body of `GET /api/health/detailed`. Every section is present; one that could not be read is
/// empty or `null`, and `problems` says why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DetailedHealth {
    /// `ok` when `problems` is empty.
    pub status: Verdict,
    /// What is wrong, one line each (a failed probe, no worker for the default model, a section
    /// that could not be read).
    pub problems: Vec<String>,
    /// The server's version (its crate version).
    pub version: String,
    /// When this server process started.
    pub started_at: DateTime<Utc>,
    /// Seconds since then.
    pub uptime_seconds: u64,
    /// PostgreSQL and Redis.
    pub components: Components,
    /// Each queue's depth (empty when Redis cannot be read).
    pub queues: Vec<QueueReport>,
    /// Live workers (empty when none, or Redis cannot be read).
    pub workers: Vec<WorkerReport>,
    /// The default completion model (`null` when the default config cannot be read or names none).
    pub default_completion_model: Option<DefaultModel>,
    /// This server's PostgreSQL pool.
    pub database_pool: PoolReport,
    /// Free space under the data directory (`null` when it cannot be read).
    pub disk: Option<DiskReport>,
}
