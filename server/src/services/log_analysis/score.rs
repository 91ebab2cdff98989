//! The 0–100 health score of a window of logs, and the latency budgets it holds routes to.
//!
//! Score = 100 − the sum of four deductions, clamped to 0..=100 and rounded; absent when the window
//! holds no line. With R requests, of which E answered 5xx, L ERROR lines (tower-http's `response
//! failed` lines excepted: each restates a 5xx already counted), N lines of which U unparsable:
//! - **server_errors**: 4 points per percent of 5xx responses (100·E/R), at most 40;
//! - **error_lines**: 0.2 points per ERROR line per 1,000 requests (1000·L / max(R, 100): a quiet
//!   window's single error does not read as a flood), at most 20;
//! - **slow_route**: for each route with at least 10 requests and a budget, whose p90 exceeds it,
//!   10 points per 100 % over budget (10·(p90 − budget)/budget), at most 10 per route and 30 in all;
//! - **unparsable**: 0.5 points per percent of unparsable lines (100·U/N), at most 15.
//!
//! The status is `healthy` from 90, `degraded` from 70, `unhealthy` below.

use crate::contract::log_report::{LogDeduction, LogDeductionKind, LogHealth, LogHealthStatus, LogRouteLatency};

/// Routes need this many requests in the window before their p90 is judged: the p90 of five
/// requests is just the slowest of them.
pub const MIN_REQUESTS_FOR_LATENCY: u64 = 10;

/// The p90 budget of routes no entry of [`BUDGETS`] matches, in milliseconds. DESIGN.md asks a
/// cheap authenticated endpoint to serve 10,000 requests a second on 2 cores, so it answers in
/// well under a millisecond; 250 ms leaves room for PostgreSQL round trips and a password hash.
pub const DEFAULT_BUDGET_MS: f64 = 250.0;

/// p90 budgets by route prefix, first match wins; `None`: not judged, because the time is a model's
/// generation (chat, the task and OpenAI APIs, the agent), a stream's or an export's.
pub const BUDGETS: &[(&str, Option<f64>)] = &[
    // A study's export streams a whole table.
    ("/api/analytics/export", None),
    // DESIGN.md: every analytics endpoint ≤ 150 ms p50 at ~1M generations; the p90 gets twice that.
    ("/api/analytics/", Some(300.0)),
    // DESIGN.md: completion p50 ≤ 300 ms end to end on 2 cores; the p90 gets twice that.
    ("/api/completion/", Some(600.0)),
    ("/api/v1/", Some(600.0)),
    ("/v1/completions", Some(600.0)),
    ("/api/chat/", None),
    ("/api/ai/", None),
    ("/api/agent/code", None),
    ("/code", None),
    ("/v1/", None),
    // WebSocket upgrades and the editor's rooms: the line is logged at the upgrade; the session
    // lasts as long as the client stays.
    ("/api/ws/", None),
    ("/api/editor/rooms/", None),
];

/// The p90 budget of a route template, in milliseconds.
pub fn p90_budget_ms(route: &str) -> Option<f64> {
    BUDGETS.iter().find(|(prefix, _)| route.starts_with(prefix)).map_or(Some(DEFAULT_BUDGET_MS), |(_, budget)| *budget)
}

/// What the score is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Requests in the window.
    pub requests: u64,
    /// Of which answered 5xx.
    pub server_errors: u64,
    /// ERROR lines that count (tower-http's `response failed` excepted).
    pub error_lines: u64,
    /// Lines in the window.
    pub lines: u64,
    /// Of which unparsable.
    pub unparsable: u64,
    /// Each route's latency and budget.
    pub routes: &'a [LogRouteLatency],
}

/// The score and its reasons.
pub fn health(inputs: Inputs<'_>) -> LogHealth {
    if inputs.lines == 0 {
        return LogHealth { score: None, status: LogHealthStatus::Unknown, reasons: Vec::new() };
    }
    let mut reasons = Vec::new();
    if inputs.requests > 0 && inputs.server_errors > 0 {
        let percent = 100.0 * inputs.server_errors as f64 / inputs.requests as f64;
        reasons.push(deduction(
            LogDeductionKind::ServerErrors,
            percent,
            (4.0 * percent).min(40.0),
            format!("{} of {} requests answered 5xx ({}%)", inputs.server_errors, inputs.requests, round(percent, 2)),
        ));
    }
    if inputs.error_lines > 0 {
        let per_mille = 1000.0 * inputs.error_lines as f64 / inputs.requests.max(100) as f64;
        let counted = if inputs.requests < 100 { " (counted against at least 100)" } else { "" };
        reasons.push(deduction(
            LogDeductionKind::ErrorLines,
            per_mille,
            (0.2 * per_mille).min(20.0),
            format!("{} ERROR lines per 1,000 requests ({} lines, {} requests{counted})", round(per_mille, 2), inputs.error_lines, inputs.requests),
        ));
    }
    let mut slow = Vec::new();
    for route in inputs.routes.iter().filter(|r| r.latency.count >= MIN_REQUESTS_FOR_LATENCY) {
        let Some(budget) = route.p90_budget_ms else { continue };
        let p90 = route.latency.p90_ms;
        if p90 > budget {
            let over = (p90 - budget) / budget;
            slow.push(deduction(
                LogDeductionKind::SlowRoute,
                p90,
                (10.0 * over).min(10.0),
                format!("{} {}: p90 {} ms over its {} ms budget (+{}%)", route.method, route.route, p90, budget, round(100.0 * over, 1)),
            ));
        }
    }
    // At most 30 for every slow route together: the largest deductions are kept whole.
    slow.sort_by(|a, b| b.points.total_cmp(&a.points));
    let mut left = 30.0;
    for mut reason in slow {
        if left <= 0.0 {
            break;
        }
        reason.points = reason.points.min(left);
        left -= reason.points;
        reasons.push(reason);
    }
    if inputs.unparsable > 0 {
        let percent = 100.0 * inputs.unparsable as f64 / inputs.lines as f64;
        reasons.push(deduction(
            LogDeductionKind::Unparsable,
            percent,
            (0.5 * percent).min(15.0),
            format!("{} of {} lines are not our JSON logs ({}%)", inputs.unparsable, inputs.lines, round(percent, 2)),
        ));
    }
    let total: f64 = reasons.iter().map(|r| r.points).sum();
    let score = (100.0 - total).clamp(0.0, 100.0).round() as u8;
    for reason in &mut reasons {
        reason.points = round(reason.points, 1);
        reason.figure = round(reason.figure, 2);
    }
    reasons.sort_by(|a, b| b.points.total_cmp(&a.points));
    let status = match score {
        90.. => LogHealthStatus::Healthy,
        70.. => LogHealthStatus::Degraded,
        _ => LogHealthStatus::Unhealthy,
    };
    LogHealth { score: Some(score), status, reasons }
}

fn deduction(kind: LogDeductionKind, figure: f64, points: f64, reason: String) -> LogDeduction {
    LogDeduction { kind, figure, points, reason }
}

/// `value` rounded to `decimals` places, for display.
pub fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::log_report::LogLatency;

    fn route(route: &str, count: u64, p90_ms: f64) -> LogRouteLatency {
        LogRouteLatency {
            method: "GET".into(),
            route: route.into(),
            server_errors: 0,
            latency: LogLatency { count, p50_ms: 1.0, p90_ms, p99_ms: p90_ms, max_ms: p90_ms },
            p90_budget_ms: p90_budget_ms(route),
        }
    }

    fn inputs(routes: &[LogRouteLatency]) -> Inputs<'_> {
        Inputs { requests: 1000, server_errors: 0, error_lines: 0, lines: 2000, unparsable: 0, routes }
    }

    #[test]
    fn budgets_follow_the_design_documents_figures_and_skip_generation_routes() {
        assert_eq!(p90_budget_ms("/api/completion/request"), Some(600.0));
        assert_eq!(p90_budget_ms("/api/analytics/usage/acceptance-rates"), Some(300.0));
        assert_eq!(p90_budget_ms("/api/analytics/export"), None);
        assert_eq!(p90_budget_ms("/api/chat/request"), None);
        assert_eq!(p90_budget_ms("/v1/chat/completions"), None);
        assert_eq!(p90_budget_ms("/v1/completions"), Some(600.0));
        assert_eq!(p90_budget_ms("/api/user/get"), Some(DEFAULT_BUDGET_MS));
    }

    #[test]
    fn a_clean_window_scores_100_with_no_reasons_and_an_empty_one_has_no_score() {
        let health = health(inputs(&[route("/api/user/get", 500, 20.0)]));
        assert_eq!((health.score, health.status, health.reasons.len()), (Some(100), LogHealthStatus::Healthy, 0));
        let empty = super::health(Inputs { lines: 0, ..inputs(&[]) });
        assert_eq!((empty.score, empty.status), (None, LogHealthStatus::Unknown));
    }

    #[test]
    fn each_deduction_follows_the_documented_formula() {
        // 2% 5xx → 8; 30 ERROR lines per 1,000 → 6; p90 900 ms against 600 → 5; 4% unparsable → 2.
        let routes = [route("/api/completion/request", 100, 900.0), route("/api/user/get", 9, 10_000.0)];
        let health = health(Inputs { requests: 1000, server_errors: 20, error_lines: 30, lines: 2000, unparsable: 80, routes: &routes });
        let got: Vec<_> = health.reasons.iter().map(|r| (r.kind, r.figure, r.points)).collect();
        assert_eq!(
            got,
            [
                (LogDeductionKind::ServerErrors, 2.0, 8.0),
                (LogDeductionKind::ErrorLines, 30.0, 6.0),
                (LogDeductionKind::SlowRoute, 900.0, 5.0),
                (LogDeductionKind::Unparsable, 4.0, 2.0),
            ],
            "the route with 9 requests is not judged"
        );
        assert_eq!(health.score, Some(79));
        assert_eq!(health.status, LogHealthStatus::Degraded);
        assert_eq!(health.reasons[2].reason, "GET /api/completion/request: p90 900 ms over its 600 ms budget (+50%)");
    }

    #[test]
    fn deductions_are_capped_and_the_score_never_goes_below_zero() {
        let routes: Vec<_> = (0..5).map(|n| route(&format!("/api/r{n}"), 100, 2500.0)).collect();
        let health = health(Inputs { requests: 100, server_errors: 50, error_lines: 1000, lines: 200, unparsable: 100, routes: &routes });
        let points: Vec<f64> = health.reasons.iter().map(|r| r.points).collect();
        assert_eq!(points, [40.0, 20.0, 15.0, 10.0, 10.0, 10.0], "slow routes share 30 points");
        assert_eq!((health.score, health.status), (Some(0), LogHealthStatus::Unhealthy));
    }

    #[test]
    fn a_quiet_window_counts_its_errors_against_at_least_100_requests() {
        let health = health(Inputs { requests: 20, server_errors: 0, error_lines: 2, lines: 50, unparsable: 0, routes: &[] });
        assert_eq!(health.reasons[0].figure, 20.0);
        assert_eq!(health.reasons[0].points, 4.0);
        assert_eq!(health.score, Some(96));
    }
}
