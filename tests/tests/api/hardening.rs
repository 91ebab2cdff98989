//! Hostile input at the door: sizes a client controls are bounded before they cost memory, numbers
//! readers cannot aggregate are refused, text PostgreSQL cannot store is refused, metric labels stay
//! a closed set, tokens have one spelling, JSON endpoints want JSON, and slow or greedy connections
//! are cut off (headers, bodies, connections per IP).

use std::time::{Duration, Instant};

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::plugin::{Plugin, completion_body};
use code4me_tests::wait::wait_until;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn plugin_with_project(app: &TestApp, email: &str) -> Plugin {
    let mut plugin = app.plugin();
    plugin.signed_in_with_project(email, "Secret123").await;
    plugin
}

#[tokio::test]
async fn a_change_far_past_the_end_of_a_file_is_refused_without_growing_the_context() {
    let app = TestApp::spawn().await;
    let mut plugin = plugin_with_project(&app, "lines@example.com").await;
    let kept = json!({"context_updates": {"a.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x = 1"]}]}});
    assert_eq!(plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(kept)).await.status, 200);

    for line in [4_000_000_u64, 4_294_967_295] {
        let body = json!({"context_updates": {"a.py": [{"change_type": "remove", "start_line": line, "end_line": line}]}});
        let reply = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(body)).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert!(reply.text.len() < 2_000, "the refusal is small, not the would-be context: {} bytes", reply.text.len());
        assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "context_updates", "a.py"]));
    }
    let next = json!({"context_updates": {"b.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["y = 2"]}]}});
    let reply = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(next)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"], json!({"a.py": ["x = 1"], "b.py": ["y = 2"]}), "nothing of the refused updates was kept");
}

#[tokio::test]
async fn telemetry_numbers_outside_their_ranges_are_refused_with_the_field_path() {
    let app = TestApp::spawn().await;
    let mut plugin = plugin_with_project(&app, "ranges@example.com").await;
    let cases = [
        (["behavioral_telemetry", "typing_speed"], json!(1e308)),
        (["behavioral_telemetry", "typing_speed"], json!(10_001.0)),
        (["behavioral_telemetry", "time_since_last_shown"], json!(9_223_372_036_854_775_000_i64)),
        (["behavioral_telemetry", "time_since_last_accepted"], json!(2_592_000_001_i64)),
        (["contextual_telemetry", "caret_line"], json!(2_147_483_648_i64)),
        (["contextual_telemetry", "document_char_length"], json!(-1)),
        (["contextual_telemetry", "relative_document_position"], json!(1.5)),
    ];
    for ([group, field], value) in cases {
        let mut body = completion_body(&[5], "def f():\n    return ");
        body[group][field] = value.clone();
        let reply = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
        assert_eq!(reply.status, 422, "{group}.{field} = {value}: {}", reply.text);
        assert_eq!(reply.body["detail"][0]["loc"], json!(["body", group, field]), "{}", reply.text);
    }
    let mut body = completion_body(&[5], "x");
    body["stop_sequences"] = json!(vec!["\n"; 17]);
    assert_eq!(plugin.call(Method::POST, "/api/completion/request", Some(body)).await.status, 422, "too many stop sequences");
    let mut body = completion_body(&[5], "x");
    body["context"]["context_files"] = json!(vec!["f.py"; 101]);
    assert_eq!(plugin.call(Method::POST, "/api/completion/request", Some(body)).await.status, 422, "too many context files");
}

#[tokio::test]
async fn text_with_nul_is_refused_at_the_door_wherever_it_is() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.plugin();
    let reply = anonymous.sign_up("nul@example.com", "Eve\u{0}Smith", "Secret123").await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "name"]));

    let mut plugin = plugin_with_project(&app, "nul2@example.com").await;
    let reply = plugin.call(Method::POST, "/api/project/create", Some(json!({"project_name": "p\u{0}"}))).await;
    assert_eq!(reply.status, 422, "{}", reply.text);

    let mut body = completion_body(&[5], "def f(\u{0}):");
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(body.clone())).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "context", "prefix"]));
    body["context"]["prefix"] = json!("ok");
    body["context"]["file_name"] = json!("a\u{0}.py");
    assert_eq!(plugin.call(Method::POST, "/api/completion/request", Some(body)).await.status, 422);
    let update = json!({"context_updates": {"x\u{0}.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["a"]}]}});
    assert_eq!(plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await.status, 422);

    // A query parameter bound into SQL as text (PostgreSQL would refuse the NUL: a 5xx before).
    let reply = plugin.call(Method::GET, "/api/analytics/usage/queries-over-time?language=py%00", None).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["type"], "string_nul");
    assert_eq!(
        plugin.call(Method::GET, "/api/analytics/usage/queries-over-time?language=py%2500", None).await.status,
        200,
        "an encoded percent sign is text"
    );
}

#[tokio::test]
async fn json_endpoints_refuse_bodies_that_are_not_declared_json() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "ct@example.com", "name": "C T", "password": "Secret123", "config_id": 1}).to_string();
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = app.client.post(app.url("/api/user/create")).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 415, "{content_type:?}");
    }
    let response = app
        .client
        .post(app.url("/api/user/create"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn tokens_count_only_in_the_form_the_server_issued_them() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("case@example.com", "Case", "Secret123").await;
    plugin.log_in("case@example.com", "Secret123").await;
    let token = plugin.auth_token.clone().expect("auth token");
    assert_eq!(plugin.get_user().await.status, 200);
    for spelling in [token.to_uppercase(), format!("{{{token}}}"), token.replace('-', "")] {
        let response = app.client.get(app.url("/api/user/get")).header("cookie", format!("auth_token={spelling}")).send().await.expect("request");
        assert_eq!(response.status(), 401, "{spelling}");
        let response = app.client.get(app.url("/api/user/get")).bearer_auth(&spelling).send().await.expect("request");
        assert_eq!(response.status(), 401, "bearer {spelling}");
    }
}

#[tokio::test]
async fn random_methods_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
    let size = |text: String| text.len();
    let before = size(app.get("/metrics").await.text().await.expect("metrics"));
    for i in 0..40 {
        let method = Method::from_bytes(format!("M{i}{}", "X".repeat(200)).as_bytes()).expect("method token");
        let _ = app.client.request(method, app.url(&format!("/no/such/{i}"))).send().await.expect("request");
    }
    let text = app.get("/metrics").await.text().await.expect("metrics");
    assert!(!text.contains("XXXXXXXXXX"), "a client's method never becomes a label");
    assert!(text.contains("method=\"other\""));
    assert!(size(text) < before + 8_000, "the label set stays closed");
}

/// Writes `head` on a raw connection and returns what the server answered and when it closed.
async fn raw_exchange(app: &TestApp, head: &[u8], trickle: Option<Duration>) -> (String, Duration) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let started = Instant::now();
    match trickle {
        None => stream.write_all(head).await.expect("write"),
        Some(pause) => {
            for byte in head {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(pause).await; // the slow client is the behaviour under test
            }
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await.expect("the server closes the connection");
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[tokio::test]
async fn slow_and_greedy_connections_are_cut_off() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1")
            .env("HTTP_BODY_TIMEOUT_SECONDS", "1")
            .env("HTTP_MAX_CONNECTIONS_PER_IP", "64"),
    )
    .await;

    let (answer, took) = raw_exchange(&app, b"", None).await;
    assert!(answer.is_empty() && took < Duration::from_secs(5), "an idle connection is closed: {took:?}");

    let head = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (_, took) = raw_exchange(&app, head, Some(Duration::from_millis(300))).await;
    assert!(took < Duration::from_secs(5), "headers trickled a byte at a time are cut off: {took:?}");

    let oversize = b"POST /api/user/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
    let (answer, took) = raw_exchange(&app, oversize, None).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(took < Duration::from_secs(3), "refused before the body: {took:?}");

    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow_body = TcpStream::connect(&address).await.expect("connect");
    slow_body
        .write_all(b"POST /api/user/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let started = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(20), slow_body.read_to_end(&mut answer)).await.expect("closed in time");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
    assert!(started.elapsed() < Duration::from_secs(5));

    // The server is still healthy for everyone else.
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn one_ip_may_hold_only_so_many_connections() {
    let app = TestApp::spawn_with(Options::default().env("HTTP_MAX_CONNECTIONS_PER_IP", "4")).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&address).await.expect("connect"));
    }
    // No wait needed: the server accepts connections in order and takes a slot as it accepts, so
    // the four held ones hold theirs before the next is accepted.
    let mut extra = TcpStream::connect(&address).await.expect("the TCP handshake itself succeeds");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), extra.read_to_end(&mut answer)).await.expect("answered at once").expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).expect("body")).expect("json body");
    assert_eq!(body["message"], "Too many requests. Please try again later.");

    drop(held);
    // Until then a probe is refused with a 429 written before its request is read, which the client
    // may see as a failed request; either way, not yet.
    wait_until("closed connections give their slots back", Duration::from_secs(10), async || {
        app.client.get(app.url("/api/health")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}
