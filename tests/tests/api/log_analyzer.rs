//! The log analyzer from the outside: `code4me-server logs analyze` run as a process on log files
//! the tests write with known counts, and `GET /api/agent/health` over the server's `LOG_FILES`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, TimeDelta, Utc};
use code4me_tests::app::{Options, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

/// A line as our JSON logs write it, at `time`, inside the request `request` (method, route, id)
/// when given.
fn line(time: DateTime<Utc>, level: &str, target: &str, message: &str, fields: Value, request: Option<(&str, &str, &str)>) -> String {
    let mut line = json!({"timestamp": time.to_rfc3339(), "level": level, "message": message, "target": target});
    for (key, value) in fields.as_object().expect("an object") {
        line[key] = value.clone();
    }
    if let Some((method, route, id)) = request {
        line["spans"] = json!([{"http.method": method, "http.path": route, "http.route": route, "request.id": id, "name": "request"}]);
    }
    line.to_string()
}

/// tower-http's line at the end of a request.
fn request(time: DateTime<Utc>, status: u16, latency_ms: u64, id: &str) -> String {
    let fields = json!({"latency": format!("{latency_ms} ms"), "status": status});
    line(time, "INFO", "tower_http::trace::on_response", "finished processing request", fields, Some(("GET", "/api/ping", id)))
}

/// One request from 2020, then, five minutes before `now`: 10 requests of 1..=10 ms (`ping-10`
/// answered 503), 2 ERROR lines while serving it, 1 WARN, the local provider answering 3 of 4
/// attempts, and a panic's line: 19 lines.
fn fixture(now: DateTime<Utc>) -> String {
    let old = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").expect("a time").with_timezone(&Utc);
    let recent = now - TimeDelta::minutes(5);
    let mut lines = vec![request(old, 200, 5000, "old")];
    for ms in 1..=10 {
        lines.push(request(recent, if ms == 10 { 503 } else { 200 }, ms, &format!("ping-{ms}")));
    }
    for _ in 0..2 {
        lines.push(line(recent, "ERROR", "code4me_server::http::error", "dependency unavailable", json!({}), Some(("GET", "/api/ping", "ping-10"))));
    }
    lines.push(line(recent, "WARN", "code4me_server::services::suggestions", "could not cache suggestions", json!({}), None));
    for (n, outcome) in ["answered", "answered", "failed", "answered"].into_iter().enumerate() {
        let level = if outcome == "failed" { "WARN" } else { "INFO" };
        let fields = json!({"provider": "local", "provider.outcome": outcome, "latency_ms": 10 * (n + 1)});
        lines.push(line(recent, level, "code4me_server::services::providers", "provider attempt", fields, None));
    }
    lines.push("thread 'tokio-runtime-worker' panicked at server/src/x.rs:1:1:".to_owned());
    lines.join("\n") + "\n"
}

/// Runs the server binary with `args` in an empty environment (plus `env`), `stdin` on its input.
fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_code4me-server-cli"));
    command.args(args).env_clear().env("LOG_FORMAT", "pretty").envs(env.iter().copied());
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("run the server binary");
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        std::io::Write::write_all(&mut input, text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("the binary ends")
}

/// `logs analyze --json ...`'s report.
fn analyze_json(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    let mut all = vec!["logs", "analyze", "--json"];
    all.extend_from_slice(args);
    let output = run(&all, env, stdin);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the directory");
    std::fs::write(path, text).expect("write the log");
}

#[test]
fn logs_analyze_reports_the_figures_of_a_log_file_with_known_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("server.log");
    write(&file, &fixture(Utc::now()));
    let report = analyze_json(&[file.to_str().expect("a UTF-8 path")], &[], None);

    for key in ["generated_at", "since", "sources", "lines", "requests", "errors", "routes", "stages", "slowest", "providers", "health"] {
        assert!(report.get(key).is_some(), "{key} missing from {report}");
    }
    assert_eq!(report["lines"], json!({"total": 19, "parsed": 18, "unparsable": 1, "before_window": 0}));
    assert_eq!(report["since"], Value::Null);
    // 11 latencies: 1..=10 and 5000; nearest ranks 6, 10 and 11.
    assert_eq!(report["requests"]["count"], 11);
    assert_eq!(report["requests"]["server_errors"], 1);
    assert_eq!(report["requests"]["latency"], json!({"count": 11, "p50_ms": 6.0, "p90_ms": 10.0, "p99_ms": 5000.0, "max_ms": 5000.0}));
    assert_eq!(report["routes"][0]["route"], "/api/ping");
    assert_eq!(report["routes"][0]["p90_budget_ms"], 250.0);
    assert_eq!(report["slowest"][0]["request_id"], "old");
    assert_eq!(report["slowest"][1]["request_id"], "ping-10");
    assert_eq!(report["slowest"].as_array().map(Vec::len), Some(10));

    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        (errors[0]["level"].as_str(), errors[0]["kind"].as_str(), errors[0]["count"].as_u64()),
        (Some("ERROR"), Some("dependency unavailable"), Some(2))
    );
    assert_eq!(errors[0]["routes"], json!({"GET /api/ping": 2}));

    assert_eq!(report["providers"][0]["provider"], "local");
    assert_eq!(report["providers"][0]["success_rate"], 0.75);
    assert_eq!(report["stages"], json!([]));
    // 1 of 11 requests 5xx → 36.4; 2 ERROR lines per max(11, 100) requests = 20‰ → 4; 1 of 19
    // lines unparsable → 2.6. 100 − 43.0 = 57.
    assert_eq!(report["health"]["score"], 57);
    assert_eq!(report["health"]["status"], "unhealthy");
    let kinds: Vec<_> = report["health"]["reasons"].as_array().expect("reasons").iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(kinds, [json!("server_errors"), json!("error_lines"), json!("unparsable")]);
}

#[test]
fn logs_analyze_since_keeps_only_the_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("server.log");
    write(&file, &fixture(Utc::now()));
    let report = analyze_json(&["--since", "1h", file.to_str().expect("a UTF-8 path")], &[], None);
    assert_eq!(report["lines"], json!({"total": 18, "parsed": 17, "unparsable": 1, "before_window": 1}));
    assert!(report["since"].is_string());
    assert_eq!(report["requests"]["latency"], json!({"count": 10, "p50_ms": 5.0, "p90_ms": 9.0, "p99_ms": 10.0, "max_ms": 10.0}));
    assert_eq!(report["slowest"][0]["request_id"], "ping-10");
    // 10% 5xx → 40; 20 ERROR lines per 1,000 → 4; 1 of 18 unparsable → 2.8. 100 − 46.8 = 53.
    assert_eq!(report["health"]["score"], 53);

    let output = run(&["logs", "analyze", "--since", "soon", file.to_str().expect("a UTF-8 path")], &[], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a duration"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn logs_analyze_reads_standard_input_and_the_data_dirs_logs_by_default() {
    let text = fixture(Utc::now());
    let from_stdin = analyze_json(&["-"], &[], Some(&text));
    assert_eq!(from_stdin["sources"], json!([{"name": "-", "lines": 19, "truncated": false}]));
    assert_eq!(from_stdin["requests"]["count"], 11);

    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("logs/server.log"), &text);
    let data_dir = dir.path().to_str().expect("a UTF-8 path");
    let by_default = analyze_json(&[], &[("C4M_DATA_DIR", data_dir)], None);
    let sources = by_default["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 1, "worker.log does not exist and is skipped: {sources:?}");
    assert!(sources[0]["name"].as_str().is_some_and(|n| n.ends_with("logs/server.log")));
    assert_eq!(by_default["health"]["score"], 57);

    // The text report, from the same file.
    let output = run(&["logs", "analyze"], &[("C4M_DATA_DIR", data_dir)], None);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Health: 57/100 (unhealthy)"), "{text}");
    assert!(text.contains("local: 3 answered, 1 failed, 0 other; success rate 75%"), "{text}");
}

#[test]
fn logs_analyze_fails_naming_a_file_it_cannot_read() {
    let output = run(&["logs", "analyze", "/nonexistent/c4m/server.log"], &[], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/c4m/server.log"), "{}", String::from_utf8_lossy(&output.stderr));
    let empty = tempfile::tempdir().expect("temp dir");
    let output = run(&["logs", "analyze"], &[("C4M_DATA_DIR", empty.path().to_str().expect("a UTF-8 path"))], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no log file"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn agent_health_is_for_admins_and_reports_the_servers_log_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("server.log");
    let app = TestApp::spawn_with(Options::default().env("LOG_FILES", file.to_str().expect("a UTF-8 path"))).await;

    let anonymous = app.plugin().call(Method::GET, "/api/agent/health", None).await;
    assert_eq!((anonymous.status, anonymous.body), (401, json!({"detail": "Authentication required"})));
    let (mut user, _) = app.signed_up("user@example.com", false).await;
    let refused = user.call(Method::GET, "/api/agent/health", None).await;
    assert_eq!((refused.status, refused.body), (403, json!({"detail": "Admin privileges required"})));

    // No log file yet: 200, no score, and the source says why.
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let missing = admin.call(Method::GET, "/api/agent/health", None).await;
    assert_eq!(missing.status, 200, "{}", missing.text);
    assert_eq!(missing.body["health"], json!({"score": null, "status": "unknown", "reasons": []}));
    assert_eq!(missing.body["sources"][0]["name"], file.to_str().expect("a UTF-8 path"));
    assert!(missing.body["sources"][0]["error"].is_string(), "{}", missing.body);

    // The default window is the last hour: the request from 2020 is outside it.
    write(&file, &fixture(Utc::now()));
    let report = admin.call(Method::GET, "/api/agent/health", None).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["lines"], json!({"total": 18, "parsed": 17, "unparsable": 1, "before_window": 1}));
    assert_eq!(report.body["requests"]["count"], 10);
    assert_eq!(report.body["providers"][0]["success_rate"], 0.75);
    assert_eq!(report.body["health"]["score"], 53);
    assert!(report.body["sources"][0].get("error").is_none(), "{}", report.body);

    // A shorter window leaves every recent line out; a window that is not one is refused.
    let narrow = admin.call(Method::GET, "/api/agent/health?since=1m", None).await;
    assert_eq!(narrow.body["lines"]["before_window"], 19);
    assert_eq!(narrow.body["health"]["status"], "unknown");
    let bad = admin.call(Method::GET, "/api/agent/health?since=soon", None).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["query", "since"]));
    // Attacker-shaped queries answer in the contract's shape too: a repeated field, a NUL, a huge number.
    for query in ["since=1h&since=zz", "since=1%00h", "since=99999999999999999999d", "since=-5m"] {
        let odd = admin.call(Method::GET, &format!("/api/agent/health?{query}"), None).await;
        assert_eq!(odd.status, 422, "{query}: {}", odd.text);
        // (a NUL anywhere in a query is refused for the whole query, before any field)
        assert_eq!(odd.body["detail"][0]["loc"][0], "query", "{query}: {}", odd.text);
    }
}
