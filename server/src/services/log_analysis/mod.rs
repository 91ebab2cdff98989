//! The log analyzer behind `code4me-server logs analyze` and `GET /api/agent/health`: reads our
//! JSON logs (`LOG_FORMAT=json`) and reports errors by kind, request latency by route and stage,
//! the slowest requests, provider success rates and a 0–100 health score with its reasons
//! ([`score`] documents the formula).
//!
//! [`Analyzer`] is pure: it is fed lines and knows nothing of files, so its figures are tested on
//! logs the tests write in memory; [`source`] reads files and standard input into it.
//!
//! What it reads from the lines (the conventions our logging follows):
//! - a request is tower-http's `finished processing request` line: `status`, `latency` (`"37 ms"`),
//!   and the request span's `http.method`, `http.route`, `http.path`, `request.id`;
//! - an error is any ERROR or WARN line, of the kind its `error.kind` field names, else its message;
//! - a stage timing is a line with a `stage` field (its own or a span's) and a duration of its own
//!   (`duration_ms`, `elapsed_ms`, `latency_ms`, or `latency`/`elapsed`/`duration` with a unit);
//! - a provider attempt is a line with `provider` and `provider.outcome` (the provider chain writes
//!   `answered` or `failed`, with `latency_ms`).

pub mod line;
pub mod score;
pub mod source;
pub mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use self::line::Event;
use crate::contract::log_report::{
    LogErrorKind, LogLatency, LogLineCounts, LogProvider, LogReport, LogRequests, LogRouteLatency, LogSlowRequest, LogSource, LogStageLatency,
};

/// How many of the slowest requests the report lists.
pub const SLOWEST: usize = 10;

/// Messages longer than this are cut to make an error kind (a message with a long value in it
/// would otherwise be a kind of its own each time).
const KIND_CHARS: usize = 160;

/// Provider outcomes that count as the provider's success, and as its failure; any other outcome
/// (`rejected`: the request's fault; `cancelled`: the client's) counts as neither.
const SUCCEEDED: &[&str] = &["answered", "ok", "success", "succeeded"];
const FAILED: &[&str] = &["failed", "error", "timeout", "unavailable"];

/// Parses a window length: a whole number and a unit, `s`, `m`, `h`, `d` or `w` (`30m`, `1h`, `2d`).
pub fn parse_since(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let amount: i64 = text[..split].parse().map_err(|_| format!("{text:?} is not a duration like 30m, 1h or 2d"))?;
    let seconds_per_unit = match &text[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{text:?} is not a duration like 30m, 1h or 2d (units: s, m, h, d, w)")),
    };
    if amount == 0 {
        return Err("the window must be longer than 0".to_owned());
    }
    // Ten years at most: keeps the subtraction from `now` far from overflowing.
    amount
        .checked_mul(seconds_per_unit)
        .filter(|s| *s <= 10 * 366 * 86_400)
        .map(TimeDelta::seconds)
        .ok_or_else(|| format!("{text:?} is longer than ten years"))
}

/// One request line.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    route: String,
    path: String,
    status: u16,
    latency_ms: f64,
    request_id: Option<String>,
    timestamp: Option<DateTime<Utc>>,
}

/// ERROR/WARN lines of one kind, as they accumulate.
#[derive(Debug, Default)]
struct ErrorGroup {
    count: u64,
    routes: BTreeMap<String, u64>,
    last_seen: Option<DateTime<Utc>>,
}

/// One provider's attempts, as they accumulate.
#[derive(Debug, Default)]
struct ProviderTally {
    succeeded: u64,
    failed: u64,
    other: u64,
    latencies: Vec<f64>,
}

/// Accumulates lines into a [`LogReport`].
#[derive(Debug)]
pub struct Analyzer {
    /// Lines older than this are counted as `before_window` and otherwise ignored.
    since: Option<DateTime<Utc>>,
    sources: Vec<LogSource>,
    counts: LogLineCounts,
    /// The newest time read in the current source: an unparsable line (a panic's message, a
    /// backtrace) belongs to the moment of the line before it. `None` at the start of a source,
    /// where an unparsable line's time is unknown and it is counted.
    last_time: Option<DateTime<Utc>>,
    requests: Vec<Request>,
    errors: BTreeMap<(String, String, String), ErrorGroup>,
    /// ERROR lines the score counts (tower-http's `response failed` restates a 5xx).
    scored_error_lines: u64,
    stages: BTreeMap<String, Vec<f64>>,
    providers: BTreeMap<String, ProviderTally>,
}

impl Analyzer {
    /// An analyzer of the lines at or after `since` (every line when `None`).
    pub fn new(since: Option<DateTime<Utc>>) -> Self {
        Self {
            since,
            sources: Vec::new(),
            counts: LogLineCounts::default(),
            last_time: None,
            requests: Vec::new(),
            errors: BTreeMap::new(),
            scored_error_lines: 0,
            stages: BTreeMap::new(),
            providers: BTreeMap::new(),
        }
    }

    /// Starts the next source; the lines fed after it count towards it.
    pub fn begin_source(&mut self, name: &str) {
        self.sources.push(LogSource { name: name.to_owned(), lines: 0, truncated: false, error: None });
        self.last_time = None;
    }

    /// Marks the current source as read only in part.
    pub fn mark_truncated(&mut self) {
        if let Some(source) = self.sources.last_mut() {
            source.truncated = true;
        }
    }

    /// Records that the current source could not be read (or read to its end), and why.
    pub fn source_failed(&mut self, why: String) {
        if let Some(source) = self.sources.last_mut() {
            source.error = Some(why);
        }
    }

    /// Takes one line (without its newline). Blank lines are skipped; nothing makes it fail.
    pub fn line(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        if self.sources.is_empty() {
            self.begin_source("-");
        }
        if let Some(source) = self.sources.last_mut() {
            source.lines += 1;
        }
        let event = Event::parse(text);
        let time = event.as_ref().and_then(|e| e.timestamp).or(self.last_time);
        if event.as_ref().is_some_and(|e| e.timestamp.is_some()) {
            self.last_time = time;
        }
        if let (Some(since), Some(time)) = (self.since, time)
            && time < since
        {
            self.counts.before_window += 1;
            return;
        }
        self.counts.total += 1;
        let Some(event) = event else {
            self.counts.unparsable += 1;
            return;
        };
        self.counts.parsed += 1;
        self.event(&event);
    }

    fn event(&mut self, event: &Event) {
        let from_tower = event.target.starts_with("tower_http::trace");
        if from_tower && event.message == "finished processing request" {
            let status = event.own("status").and_then(serde_json::Value::as_u64).and_then(|s| u16::try_from(s).ok());
            if let (Some(status), Some(latency_ms)) = (status, event.duration_ms()) {
                self.requests.push(Request {
                    method: event.method(),
                    route: event.route(),
                    path: event.field_text("http.path").unwrap_or_default(),
                    status,
                    latency_ms,
                    request_id: event.field_text("request.id"),
                    timestamp: event.timestamp,
                });
            }
        } else if let (Some(stage), Some(ms)) = (event.field_text("stage"), event.duration_ms()) {
            self.stages.entry(stage).or_default().push(ms);
        }
        if let (Some(provider), Some(outcome)) =
            (event.field_text("provider"), event.own_text("provider.outcome").or_else(|| event.own_text("outcome")))
        {
            let tally = self.providers.entry(provider).or_default();
            let outcome = outcome.to_ascii_lowercase();
            if SUCCEEDED.contains(&outcome.as_str()) {
                tally.succeeded += 1;
            } else if FAILED.contains(&outcome.as_str()) {
                tally.failed += 1;
            } else {
                tally.other += 1;
            }
            tally.latencies.extend(event.duration_ms());
        }
        if matches!(event.level.as_str(), "ERROR" | "WARN") {
            let failed_response = from_tower && event.message == "response failed";
            if event.level == "ERROR" && !failed_response {
                self.scored_error_lines += 1;
            }
            let kind = match event.own_text("error.kind").or_else(|| event.own_text("error_kind")) {
                Some(kind) => kind,
                None if failed_response => format!("response failed: {}", event.own_text("classification").unwrap_or_default()),
                None => event.message.chars().take(KIND_CHARS).collect(),
            };
            let group = self.errors.entry((event.level.clone(), event.target.clone(), kind)).or_default();
            group.count += 1;
            if let Some(route) = event.route_key() {
                *group.routes.entry(route).or_default() += 1;
            }
            group.last_seen = group.last_seen.max(event.timestamp);
        }
    }

    /// The report, as of `now`.
    pub fn finish(self, now: DateTime<Utc>) -> LogReport {
        let requests = &self.requests;
        let server_errors = requests.iter().filter(|r| r.status >= 500).count() as u64;
        let client_errors = requests.iter().filter(|r| (400..500).contains(&r.status)).count() as u64;
        let count = requests.len() as u64;

        let mut by_route: BTreeMap<(&str, &str), (Vec<f64>, u64)> = BTreeMap::new();
        for request in requests {
            let entry = by_route.entry((&request.route, &request.method)).or_default();
            entry.0.push(request.latency_ms);
            entry.1 += u64::from(request.status >= 500);
        }
        let mut routes: Vec<LogRouteLatency> = by_route
            .into_iter()
            .filter_map(|((route, method), (mut latencies, server_errors))| {
                Some(LogRouteLatency {
                    method: method.to_owned(),
                    route: route.to_owned(),
                    server_errors,
                    latency: latency(&mut latencies)?,
                    p90_budget_ms: score::p90_budget_ms(route),
                })
            })
            .collect();
        // The busiest first; the map's order (route, method) breaks ties.
        routes.sort_by_key(|r| std::cmp::Reverse(r.latency.count));

        let mut slowest: Vec<&Request> = requests.iter().collect();
        // Stable: among equal latencies the earlier line comes first.
        slowest.sort_by(|a, b| b.latency_ms.total_cmp(&a.latency_ms));
        let slowest = slowest
            .into_iter()
            .take(SLOWEST)
            .map(|r| LogSlowRequest {
                method: r.method.clone(),
                route: r.route.clone(),
                path: r.path.clone(),
                status: r.status,
                latency_ms: r.latency_ms,
                request_id: r.request_id.clone(),
                timestamp: r.timestamp,
            })
            .collect();

        let mut errors: Vec<LogErrorKind> = self
            .errors
            .into_iter()
            .map(|((level, target, kind), group)| LogErrorKind {
                level,
                target,
                kind,
                count: group.count,
                routes: group.routes,
                last_seen: group.last_seen,
            })
            .collect();
        errors.sort_by(|a, b| (a.level != "ERROR").cmp(&(b.level != "ERROR")).then(b.count.cmp(&a.count)));

        let mut stages: Vec<LogStageLatency> =
            self.stages.into_iter().filter_map(|(stage, mut durations)| Some(LogStageLatency { stage, latency: latency(&mut durations)? })).collect();
        stages.sort_by_key(|s| std::cmp::Reverse(s.latency.count));

        let providers = self
            .providers
            .into_iter()
            .map(|(provider, mut tally)| {
                let judged = tally.succeeded + tally.failed;
                LogProvider {
                    provider,
                    succeeded: tally.succeeded,
                    failed: tally.failed,
                    other: tally.other,
                    success_rate: (judged > 0).then(|| tally.succeeded as f64 / judged as f64),
                    latency: latency(&mut tally.latencies),
                }
            })
            .collect();

        let health = score::health(score::Inputs {
            requests: count,
            server_errors,
            error_lines: self.scored_error_lines,
            lines: self.counts.total,
            unparsable: self.counts.unparsable,
            routes: &routes,
        });
        let mut all: Vec<f64> = requests.iter().map(|r| r.latency_ms).collect();
        LogReport {
            generated_at: now,
            since: self.since,
            sources: self.sources,
            lines: self.counts,
            requests: LogRequests {
                count,
                server_errors,
                client_errors,
                server_error_rate: if count == 0 { 0.0 } else { server_errors as f64 / count as f64 },
                latency: latency(&mut all),
            },
            errors,
            routes,
            stages,
            slowest,
            providers,
            health,
        }
    }
}

/// The nearest-rank percentile of sorted values: the value at rank ⌈p·n/100⌉ (1-based), so p50 of
/// 1..=100 is 50 and p99 is 99. `values` must be sorted and not empty.
pub fn percentile(sorted: &[f64], p: u32) -> f64 {
    let n = sorted.len();
    // Integer arithmetic: 0.9 × 100 in floating point is not always exactly 90.
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    sorted[rank - 1]
}

/// Percentiles of `values` (sorted in place); `None` when there are none. statrs' percentile
/// interpolates between values (it would report latencies nobody saw); the nearest rank is one
/// line and what operators expect of a "p99".
fn latency(values: &mut [f64]) -> Option<LogLatency> {
    values.sort_by(f64::total_cmp);
    let max = *values.last()?;
    Some(LogLatency {
        count: values.len() as u64,
        p50_ms: percentile(values, 50),
        p90_ms: percentile(values, 90),
        p99_ms: percentile(values, 99),
        max_ms: max,
    })
}

/// Analyses in-memory sources (name, text) as of `now`: what the tests and the endpoint's callers
/// without files use.
pub fn analyze(sources: &[(&str, &str)], since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> LogReport {
    let mut analyzer = Analyzer::new(since);
    for (name, text) in sources {
        analyzer.begin_source(name);
        for line in text.lines() {
            analyzer.line(line);
        }
    }
    analyzer.finish(now)
}

#[cfg(test)]
mod tests;
