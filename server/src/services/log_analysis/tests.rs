//! The analyzer's figures on logs built here with known counts, in the shape our server writes.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::contract::log_report::{LogDeductionKind, LogHealthStatus};

/// 2026-12-04 22:00:00 UTC, the fixture's first second.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 22, 0, 0).single().expect("a valid time")
}

fn at(seconds: i64) -> String {
    (t0() + TimeDelta::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The request span as the router's `request_span` writes it.
fn span(method: &str, route: &str, id: &str) -> Value {
    json!({"http.method": method, "http.path": route, "http.route": route, "request.id": id, "name": "request"})
}

/// tower-http's line at the end of a request.
fn request(second: i64, method: &str, route: &str, status: u16, latency_ms: u64, id: &str) -> String {
    json!({"timestamp": at(second), "level": "INFO", "message": "finished processing request", "latency": format!("{latency_ms} ms"),
        "status": status, "target": "tower_http::trace::on_response", "spans": [span(method, route, id)]})
    .to_string()
}

/// A line at `level` from `target`, inside the request `within` when given.
fn logged(second: i64, level: &str, target: &str, message: &str, fields: Value, within: Option<Value>) -> String {
    let mut line = json!({"timestamp": at(second), "level": level, "message": message, "target": target});
    for (key, value) in fields.as_object().expect("fields are an object") {
        line[key] = value.clone();
    }
    if let Some(span) = within {
        line["spans"] = json!([span]);
    }
    line.to_string()
}

/// The fixture: 100 requests on two routes, 7 ERROR lines of two kinds plus 3 WARN lines, 5
/// provider attempts, 4 timed stage lines, 2 unparsable lines, 125 lines in all.
fn fixture() -> String {
    let mut lines = Vec::new();
    // GET /api/user/get: 80 requests of 1..=80 ms, in a scrambled order; 5 of them 404.
    for n in 0..80u64 {
        let latency = (n * 37) % 80 + 1;
        let status = if n < 5 { 404 } else { 200 };
        lines.push(request(n as i64, "GET", "/api/user/get", status, latency, &format!("get-{latency}")));
    }
    // POST /api/completion/request: 20 requests of 100, 200, ... 2000 ms; the three slowest 500.
    for k in (1..=20u64).rev() {
        let status = if k >= 18 { 500 } else { 200 };
        let id = format!("req-{k}");
        lines.push(request(100 + k as i64, "POST", "/api/completion/request", status, k * 100, &id));
        if status == 500 {
            let within = Some(span("POST", "/api/completion/request", &id));
            lines.push(logged(100 + k as i64, "ERROR", "code4me_server::http::error", "unexpected error", json!({"error": "boom"}), within.clone()));
            lines.push(logged(
                100 + k as i64,
                "ERROR",
                "tower_http::trace::on_failure",
                "response failed",
                json!({"classification": "Status code: 500 Internal Server Error", "latency": format!("{} ms", k * 100)}),
                within,
            ));
        }
    }
    // A fourth "unexpected error", outside any request (a background task).
    lines.push(logged(200, "ERROR", "code4me_server::http::error", "unexpected error", json!({}), None));
    lines.push(logged(201, "WARN", "code4me_server::services::suggestions", "could not cache suggestions", json!({}), None));
    lines.push(logged(202, "WARN", "code4me_server::services::suggestions", "could not cache suggestions", json!({}), None));
    // The provider chain: local answers 3 of 4; remote-a refuses one request (its caller's fault).
    for (n, outcome) in ["answered", "failed", "answered", "answered"].iter().enumerate() {
        let level = if *outcome == "failed" { "WARN" } else { "INFO" };
        let message = if *outcome == "failed" { "provider failed; trying the next" } else { "provider answered" };
        let fields = json!({"provider": "local", "provider.outcome": outcome, "latency_ms": (n + 1) * 100});
        lines.push(logged(210 + n as i64, level, "code4me_server::services::providers", message, fields, None));
    }
    lines.push(logged(
        215,
        "INFO",
        "code4me_server::services::providers",
        "provider refused",
        json!({"provider": "remote-a", "outcome": "rejected"}),
        None,
    ));
    // Stages: three timed clones, one analysis whose stage is on its span, one untimed line.
    for ms in [30, 10, 20] {
        lines.push(logged(220, "INFO", "code4me_worker::agent", "stage done", json!({"stage": "clone", "duration_ms": ms}), None));
    }
    lines.push(logged(
        221,
        "INFO",
        "code4me_worker::agent",
        "stage done",
        json!({"elapsed_ms": 5}),
        Some(json!({"name": "agent", "stage": "analysis"})),
    ));
    lines.push(logged(222, "INFO", "code4me_worker::agent", "entering stage", json!({"stage": "push"}), None));
    // Noise, and two lines that are not JSON logs.
    for n in 0..4 {
        lines.push(logged(230 + n, "INFO", "code4me_server", "user created", json!({"user.id": n}), None));
    }
    lines.push("thread 'tokio-runtime-worker' panicked at server/src/x.rs:1:1:".to_owned());
    lines.push(r#"{"timestamp":"2026-12-04T22:05:00Z","level":"INFO","message":"cut sh"#.to_owned());
    lines.join("\n")
}

fn report() -> LogReport {
    analyze(&[("server.log", &fixture())], None, t0() + TimeDelta::hours(1))
}

#[test]
fn lines_are_counted_as_parsed_or_unparsable() {
    let report = report();
    assert_eq!(report.lines, LogLineCounts { total: 125, parsed: 123, unparsable: 2, before_window: 0 });
    assert_eq!(report.sources.len(), 1);
    assert_eq!((report.sources[0].name.as_str(), report.sources[0].lines, report.sources[0].error.as_ref()), ("server.log", 125, None));
}

#[test]
fn requests_get_nearest_rank_percentiles_overall_and_by_route() {
    let report = report();
    let requests = &report.requests;
    assert_eq!((requests.count, requests.server_errors, requests.client_errors), (100, 3, 5));
    assert_eq!(requests.server_error_rate, 0.03);
    // Sorted: 1..=80, then 100..=2000 by 100; ranks 50, 90 and 99 of 100.
    assert_eq!(requests.latency, Some(LogLatency { count: 100, p50_ms: 50.0, p90_ms: 1000.0, p99_ms: 1900.0, max_ms: 2000.0 }));

    let routes: Vec<_> = report.routes.iter().map(|r| (r.method.as_str(), r.route.as_str(), r.server_errors, r.latency, r.p90_budget_ms)).collect();
    assert_eq!(
        routes,
        [
            ("GET", "/api/user/get", 0, LogLatency { count: 80, p50_ms: 40.0, p90_ms: 72.0, p99_ms: 80.0, max_ms: 80.0 }, Some(250.0)),
            (
                "POST",
                "/api/completion/request",
                3,
                LogLatency { count: 20, p50_ms: 1000.0, p90_ms: 1800.0, p99_ms: 2000.0, max_ms: 2000.0 },
                Some(600.0)
            ),
        ]
    );
}

#[test]
fn the_ten_slowest_requests_come_slowest_first_with_their_ids() {
    let report = report();
    let slowest: Vec<_> = report.slowest.iter().map(|r| (r.latency_ms, r.status, r.request_id.as_deref().unwrap_or("-"))).collect();
    let expected: Vec<_> = (11..=20u64).rev().map(|k| (k as f64 * 100.0, if k >= 18 { 500 } else { 200 }, format!("req-{k}"))).collect::<Vec<_>>();
    assert_eq!(slowest, expected.iter().map(|(l, s, id)| (*l, *s, id.as_str())).collect::<Vec<_>>());
    let first = &report.slowest[0];
    assert_eq!((first.method.as_str(), first.route.as_str(), first.path.as_str()), ("POST", "/api/completion/request", "/api/completion/request"));
    assert_eq!(first.timestamp, Some(t0() + TimeDelta::seconds(120)));
}

#[test]
fn equally_slow_requests_keep_the_order_of_their_lines() {
    let log =
        [request(0, "GET", "/a", 200, 5, "first"), request(1, "GET", "/a", 200, 9, "slow"), request(2, "GET", "/a", 200, 5, "second")].join("\n");
    let report = analyze(&[("s", &log)], None, t0());
    let ids: Vec<_> = report.slowest.iter().map(|r| r.request_id.clone().unwrap_or_default()).collect();
    assert_eq!(ids, ["slow", "first", "second"]);
}

#[test]
fn errors_and_warnings_are_grouped_by_kind_with_the_routes_they_happened_in() {
    let report = report();
    let kinds: Vec<_> = report.errors.iter().map(|e| (e.level.as_str(), e.target.as_str(), e.kind.as_str(), e.count)).collect();
    assert_eq!(
        kinds,
        [
            ("ERROR", "code4me_server::http::error", "unexpected error", 4),
            ("ERROR", "tower_http::trace::on_failure", "response failed: Status code: 500 Internal Server Error", 3),
            ("WARN", "code4me_server::services::suggestions", "could not cache suggestions", 2),
            ("WARN", "code4me_server::services::providers", "provider failed; trying the next", 1),
        ]
    );
    let unexpected = &report.errors[0];
    assert_eq!(unexpected.routes, BTreeMap::from([("POST /api/completion/request".to_owned(), 3)]), "the fourth was outside requests");
    assert_eq!(unexpected.last_seen, Some(t0() + TimeDelta::seconds(200)));
    assert!(report.errors[2].routes.is_empty());
}

#[test]
fn an_error_kind_field_names_the_kind() {
    let log = [
        logged(0, "ERROR", "code4me_worker::agent", "clone failed: exit 128", json!({"error.kind": "clone"}), None),
        logged(1, "ERROR", "code4me_worker::agent", "clone failed: exit 1", json!({"error.kind": "clone"}), None),
        logged(2, "WARN", "t", &"x".repeat(500), json!({}), None),
    ]
    .join("\n");
    let report = analyze(&[("w", &log)], None, t0());
    assert_eq!((report.errors[0].kind.as_str(), report.errors[0].count), ("clone", 2));
    assert_eq!(report.errors[1].kind.chars().count(), 160, "long messages are cut");
}

#[test]
fn providers_get_success_rates_from_their_outcomes() {
    let report = report();
    let local = &report.providers.iter().find(|p| p.provider == "local").expect("local");
    assert_eq!((local.succeeded, local.failed, local.other), (3, 1, 0));
    assert_eq!(local.success_rate, Some(0.75));
    assert_eq!(local.latency, Some(LogLatency { count: 4, p50_ms: 200.0, p90_ms: 400.0, p99_ms: 400.0, max_ms: 400.0 }));
    let remote = &report.providers.iter().find(|p| p.provider == "remote-a").expect("remote-a");
    assert_eq!((remote.succeeded, remote.failed, remote.other, remote.success_rate, remote.latency), (0, 0, 1, None, None));
    assert_eq!(report.providers.len(), 2);
}

#[test]
fn timed_stage_lines_give_latency_by_stage() {
    let report = report();
    let stages: Vec<_> = report.stages.iter().map(|s| (s.stage.as_str(), s.latency)).collect();
    assert_eq!(
        stages,
        [
            ("clone", LogLatency { count: 3, p50_ms: 20.0, p90_ms: 30.0, p99_ms: 30.0, max_ms: 30.0 }),
            ("analysis", LogLatency { count: 1, p50_ms: 5.0, p90_ms: 5.0, p99_ms: 5.0, max_ms: 5.0 }),
        ],
        "the untimed push line is not a timing"
    );
}

#[test]
fn the_bad_fixture_scores_69_with_each_deduction_and_its_figure() {
    let health = report().health;
    let reasons: Vec<_> = health.reasons.iter().map(|r| (r.kind, r.figure, r.points)).collect();
    // 3% 5xx → 12; 4 ERROR lines (the 3 "response failed" restate the 5xx) per 100 requests = 40‰
    // → 8; POST /api/completion/request p90 1800 ms, three times its 600 ms budget → 10 (capped);
    // 2 of 125 lines unparsable = 1.6% → 0.8. 100 − 30.8 = 69.2.
    assert_eq!(
        reasons,
        [
            (LogDeductionKind::ServerErrors, 3.0, 12.0),
            (LogDeductionKind::SlowRoute, 1800.0, 10.0),
            (LogDeductionKind::ErrorLines, 40.0, 8.0),
            (LogDeductionKind::Unparsable, 1.6, 0.8),
        ]
    );
    assert_eq!((health.score, health.status), (Some(69), LogHealthStatus::Unhealthy));
    assert_eq!(health.reasons[0].reason, "3 of 100 requests answered 5xx (3%)");
}

#[test]
fn a_clean_log_scores_100_with_no_reasons() {
    let log: Vec<String> = (0..50).map(|n| request(n, "GET", "/api/user/get", 200, 10 + n as u64 % 3, &format!("r{n}"))).collect();
    let report = analyze(&[("server.log", &log.join("\n"))], None, t0());
    assert_eq!(report.health.score, Some(100));
    assert_eq!(report.health.status, LogHealthStatus::Healthy);
    assert!(report.health.reasons.is_empty());
    assert!(report.errors.is_empty() && report.providers.is_empty() && report.stages.is_empty());
}

#[test]
fn since_keeps_the_window_and_unparsable_lines_belong_to_the_line_before_them() {
    let since = t0() + TimeDelta::hours(1);
    let log = [
        "not JSON, before any time: counted".to_owned(),
        request(0, "GET", "/old", 200, 5, "old"),
        "a panic after the old line: before the window".to_owned(),
        logged(0, "ERROR", "t", "old error", json!({}), None),
        request(3600, "GET", "/new", 200, 7, "at-the-start"),
        "a panic after a new line: counted".to_owned(),
        request(7200, "GET", "/new", 500, 9, "new"),
    ]
    .join("\n");
    let report = analyze(&[("server.log", &log)], Some(since), t0() + TimeDelta::hours(2));
    assert_eq!(report.lines, LogLineCounts { total: 4, parsed: 2, unparsable: 2, before_window: 3 });
    assert_eq!(report.requests.count, 2);
    assert_eq!(report.slowest.iter().map(|r| r.request_id.clone().unwrap_or_default()).collect::<Vec<_>>(), ["new", "at-the-start"]);
    assert!(report.errors.is_empty(), "the old error is outside the window");
    assert_eq!(report.since, Some(since));
}

#[test]
fn a_new_source_does_not_inherit_the_previous_ones_time() {
    let since = t0() + TimeDelta::hours(1);
    let server = request(0, "GET", "/old", 200, 5, "old");
    let report = analyze(&[("server.log", &server), ("worker.log", "worker panicked")], Some(since), t0() + TimeDelta::hours(2));
    assert_eq!(report.lines, LogLineCounts { total: 1, parsed: 0, unparsable: 1, before_window: 1 });
    assert_eq!((report.sources[0].lines, report.sources[1].lines), (1, 1));
}

#[test]
fn an_empty_log_has_no_score_and_empty_sections() {
    let report = analyze(&[("server.log", "\n\n")], None, t0());
    assert_eq!(report.lines.total, 0);
    assert_eq!(report.health.score, None);
    assert_eq!(report.health.status, LogHealthStatus::Unknown);
    assert_eq!(report.requests.latency, None);
    let text = text::render(&report);
    assert!(text.contains("Health: unknown"), "{text}");
}

#[test]
fn the_text_report_names_every_section() {
    let text = text::render(&report());
    for needle in [
        "Health: 69/100 (unhealthy)",
        "-12    3 of 100 requests answered 5xx (3%)",
        "Requests: 100 (3 5xx, 5 4xx), n=100 p50 50 ms, p90 1000 ms, p99 1900 ms, max 2000 ms",
        "ERROR      4  unexpected error  (code4me_server::http::error)",
        "3×  while serving POST /api/completion/request",
        "POST /api/completion/request: n=20 p50 1000 ms, p90 1800 ms, p99 2000 ms, max 2000 ms, p90 budget 600 ms",
        "clone: n=3 p50 20 ms",
        "2000 ms  500  POST /api/completion/request  2026-12-04 22:02:00  request req-20",
        "local: 3 answered, 1 failed, 0 other; success rate 75%",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let values: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!((percentile(&values, 50), percentile(&values, 90), percentile(&values, 99)), (50.0, 90.0, 99.0));
    assert_eq!((percentile(&[7.0], 50), percentile(&[7.0], 99)), (7.0, 7.0));
    assert_eq!((percentile(&[1.0, 2.0, 3.0], 50), percentile(&[1.0, 2.0, 3.0], 90)), (2.0, 3.0));
}

#[test]
fn windows_are_whole_numbers_with_a_unit() {
    assert_eq!(parse_since("30m"), Ok(TimeDelta::minutes(30)));
    assert_eq!(parse_since("1h"), Ok(TimeDelta::hours(1)));
    assert_eq!(parse_since(" 2d "), Ok(TimeDelta::days(2)));
    assert_eq!(parse_since("45s"), Ok(TimeDelta::seconds(45)));
    assert_eq!(parse_since("1w"), Ok(TimeDelta::weeks(1)));
    for bad in ["", "h", "1", "1.5h", "-1h", "0m", "1y", "99999999999999999999d", "5000w"] {
        assert!(parse_since(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_over_long_line_is_one_unparsable_line_and_the_next_line_still_counts() {
    let mut analyzer = Analyzer::new(None);
    analyzer.begin_source("huge.log");
    let mut input = "x".repeat(source::MAX_LINE_BYTES as usize * 2 + 17).into_bytes();
    input.push(b'\n');
    input.extend(request(1, "GET", "/api/health", 200, 5, "r1").into_bytes());
    input.push(b'\n');
    source::feed(&mut analyzer, std::io::Cursor::new(input)).expect("read");
    let report = analyzer.finish(t0() + TimeDelta::hours(1));
    assert_eq!(report.lines, LogLineCounts { total: 2, parsed: 1, unparsable: 1, before_window: 0 });
    assert_eq!(report.requests.count, 1);
}
