//! The log analyzer's report: what `code4me-server logs analyze --json` prints and
//! `GET /api/agent/health` answers (built by [`crate::services::log_analysis`]). Field names are
//! stable; every type is prefixed `Log` so none can collide with another contract schema.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The whole report over the lines of a window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogReport {
    /// When the report was made (the end of the window).
    pub generated_at: DateTime<Utc>,
    /// Start of the window (`--since`, `?since=`); absent: every line read.
    pub since: Option<DateTime<Utc>>,
    /// The files (or standard input) read, in order.
    pub sources: Vec<LogSource>,
    /// How the lines read were counted.
    pub lines: LogLineCounts,
    /// Every HTTP request the window holds (tower-http's `finished processing request` lines).
    pub requests: LogRequests,
    /// ERROR and WARN lines grouped by kind: ERROR first, then by count, most first.
    pub errors: Vec<LogErrorKind>,
    /// Latency by route template and method, the busiest first.
    pub routes: Vec<LogRouteLatency>,
    /// Latency by stage, from lines carrying `stage` and a duration; the busiest first.
    pub stages: Vec<LogStageLatency>,
    /// The ten slowest requests, slowest first.
    pub slowest: Vec<LogSlowRequest>,
    /// Provider attempts (lines carrying `provider` and `provider.outcome`), by provider name.
    pub providers: Vec<LogProvider>,
    /// The 0–100 score and every deduction behind it.
    pub health: LogHealth,
}

/// One input of the report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogSource {
    /// The path as given, or `-` for standard input.
    pub name: String,
    /// Non-empty lines read from it (in the window or not).
    pub lines: u64,
    /// Only the file's last bytes were read (`GET /api/agent/health` reads at most 16 MiB of each).
    pub truncated: bool,
    /// Why it could not be read (absent when it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Line counts over every source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LogLineCounts {
    /// Non-empty lines in the window (`parsed + unparsable`).
    pub total: u64,
    /// JSON objects with a `level` (our JSON logs).
    pub parsed: u64,
    /// Everything else: pretty-format lines, panics, lines cut short.
    pub unparsable: u64,
    /// Lines older than the window, not counted anywhere else.
    pub before_window: u64,
}

/// The requests of the window, all routes together.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogRequests {
    /// Requests answered.
    pub count: u64,
    /// Answered 5xx.
    pub server_errors: u64,
    /// Answered 4xx.
    pub client_errors: u64,
    /// `server_errors / count` (0 without requests).
    pub server_error_rate: f64,
    /// Latency of them all (absent without requests).
    pub latency: Option<LogLatency>,
}

/// Latency percentiles in milliseconds, by the nearest-rank definition: the p-th percentile of n
/// sorted values is the value at rank ⌈p·n/100⌉ (so it is always a latency that was observed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct LogLatency {
    /// How many values.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The largest.
    pub max_ms: f64,
}

/// ERROR or WARN lines of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogErrorKind {
    /// `ERROR` or `WARN`.
    pub level: String,
    /// The module that logged it (`target`).
    pub target: String,
    /// The line's `error.kind` field when it has one; for tower-http's failed responses
    /// `response failed: <classification>`; otherwise its message (at most 160 characters).
    pub kind: String,
    /// Lines of this kind.
    pub count: u64,
    /// How many of them were logged while serving each route (`METHOD /route/template`).
    pub routes: BTreeMap<String, u64>,
    /// The newest line's time.
    pub last_seen: Option<DateTime<Utc>>,
}

/// Requests of one route template and method.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogRouteLatency {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The matched route template (`/api/config/{config_id}`); `(unmatched)` for the website and
    /// unknown paths.
    pub route: String,
    /// Answered 5xx.
    pub server_errors: u64,
    /// Their latency.
    pub latency: LogLatency,
    /// The p90 budget the health score holds this route to (absent: none, e.g. generation routes
    /// whose time is the model's).
    pub p90_budget_ms: Option<f64>,
}

/// Timed lines of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogStageLatency {
    /// The `stage` field.
    pub stage: String,
    /// Their durations.
    pub latency: LogLatency,
}

/// One request among the slowest.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogSlowRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The matched route template.
    pub route: String,
    /// The path asked for.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// Time to the response's headers.
    pub latency_ms: f64,
    /// `request.id` (the `x-request-id` header), when logged.
    pub request_id: Option<String>,
    /// When the response was logged.
    pub timestamp: Option<DateTime<Utc>>,
}

/// One provider's attempts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogProvider {
    /// The `provider` field.
    pub provider: String,
    /// Attempts that answered (`provider.outcome` `answered`, `ok`, `success` or `succeeded`).
    pub succeeded: u64,
    /// Attempts that failed (`failed`, `error`, `timeout` or `unavailable`).
    pub failed: u64,
    /// Other outcomes (`rejected`, `cancelled`, ...): neither the provider's success nor its fault.
    pub other: u64,
    /// `succeeded / (succeeded + failed)`; absent when both are 0.
    pub success_rate: Option<f64>,
    /// The attempts' `latency_ms` (absent when none carried one).
    pub latency: Option<LogLatency>,
}

/// How healthy the window looks.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogHealth {
    /// 0–100: 100 less the deductions, rounded; absent when the window holds no line.
    pub score: Option<u8>,
    /// `healthy` (≥ 90), `degraded` (≥ 70), `unhealthy`, or `unknown` without lines.
    pub status: LogHealthStatus,
    /// Every deduction, the largest first; empty for a clean window.
    pub reasons: Vec<LogDeduction>,
}

/// The score's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogHealthStatus {
    /// Score 90 or more.
    Healthy,
    /// Score 70 to 89.
    Degraded,
    /// Score below 70.
    Unhealthy,
    /// No line to judge.
    Unknown,
}

/// What a deduction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogDeductionKind {
    /// The share of 5xx responses.
    ServerErrors,
    /// ERROR lines per 1,000 requests.
    ErrorLines,
    /// A route's p90 latency over its budget.
    SlowRoute,
    /// The share of lines that are not our JSON.
    Unparsable,
}

/// One deduction from 100.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogDeduction {
    /// What it is for.
    pub kind: LogDeductionKind,
    /// The measured figure: a percentage (`server_errors`, `unparsable`), lines per 1,000
    /// requests (`error_lines`) or milliseconds (`slow_route`: the route's p90).
    pub figure: f64,
    /// Points deducted.
    pub points: f64,
    /// The deduction in words, with its figure.
    pub reason: String,
}
