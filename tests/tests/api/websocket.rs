//! The WebSocket endpoints with a tokio-tungstenite client: cookie auth and the Origin check before
//! the upgrade, streamed tokens, results as JSON objects, cancellation, superseded requests,
//! results crossing server instances, sockets closed when their session ends (on any server), and
//! oversize frames closed with 1009.

use std::time::Duration;

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::plugin::{Plugin, completion_body};
use code4me_tests::wait::wait_until;
use code4me_tests::worker::Worker;
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `path` on `base` (an `http://` address) with the plugin's cookies and optional Origin.
pub(crate) async fn open(base: &str, path: &str, plugin: Option<&Plugin>, origin: Option<&str>) -> Result<Socket, WsError> {
    let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    if let Some(cookies) = plugin.and_then(Plugin::cookie_header) {
        request.headers_mut().insert("cookie", cookies.parse().expect("header"));
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

pub(crate) async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).await.expect("send");
}

/// The next JSON frame, within 60 s.
pub(crate) async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next()).await.expect("a frame within 60 s").expect("open").expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("frames are JSON");
        }
    }
}

/// Frames until (and including) the `result` for `request_id`.
pub(crate) async fn until_result(socket: &mut Socket, request_id: &Value) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = next(socket).await;
        let done = frame["type"] == "result" && frame["request_id"] == *request_id;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

/// Reads until the server's Close (within 15 s): the frames before it, and its code and reason.
pub(crate) async fn until_closed(socket: &mut Socket) -> (Vec<Value>, u16, String) {
    let mut frames = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(15), socket.next()).await.expect("closed within 15 s");
        match message {
            Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(text.as_str()).expect("frames are JSON")),
            Some(Ok(Message::Close(Some(close)))) => return (frames, u16::from(close.code), close.reason.to_string()),
            Some(Ok(Message::Close(None))) => panic!("closed without a code after {frames:?}"),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("the connection failed instead of closing: {error} (after {frames:?})"),
            None => panic!("the connection ended without a Close frame (after {frames:?})"),
        }
    }
}

/// The close code and reason of a socket whose session was revoked: upstream's 401 message.
pub(crate) const REVOKED: (u16, &str) =
    (4401, "Session not found! You are not authenticated or your session has expired. Login before you can perform this action.");

pub(crate) fn chat_body(chat_id: uuid::Uuid, question: &str) -> Value {
    json!({
        "model_ids": [5], "chat_id": chat_id, "messages": [["user", question]],
        "context": {"prefix": "", "suffix": ""}, "contextual_telemetry": {"version_id": 3, "trigger_type_id": 1, "language_id": 47},
        "behavioral_telemetry": {},
    })
}

#[tokio::test]
async fn a_websocket_completion_streams_tokens_then_answers_with_a_json_object() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "ws-stream").await;
    let (plugin, _) = app.signed_in("stream@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, json!({"completion_request": completion_body(&[5], "def add(a, b):\n    ")})).await;
    let accepted = next(&mut socket).await;
    assert_eq!((accepted["type"].as_str(), accepted["action"].as_str()), (Some("accepted"), Some("completion_request")), "{accepted}");
    let frames = until_result(&mut socket, &accepted["request_id"]).await;
    let result = frames.last().expect("result");
    assert_eq!(result["status_code"], 200, "{result}");
    assert_eq!(result["content"]["message"], "Completions generated successfully. Ready for display in your IDE.");
    let completion = result["content"]["data"]["completions"][0]["completion"].as_str().expect("text");
    let streamed: String = frames.iter().filter(|f| f["type"] == "token").map(|f| f["text"].as_str().expect("text")).collect();
    assert!(!streamed.is_empty(), "tokens were streamed before the result");
    assert!(streamed.starts_with(completion), "the answer is what was streamed, cut at its stop: {streamed:?} vs {completion:?}");
    assert_eq!(result["content"]["data"]["meta_query_id"], accepted["request_id"], "the request id is the query id");

    // Feedback over the same socket.
    send(&mut socket, json!({"completion_feedback": {"meta_query_id": accepted["request_id"], "model_id": 5, "was_accepted": true}})).await;
    let feedback = next(&mut socket).await;
    assert_eq!((feedback["action"].as_str(), feedback["status_code"].as_u64()), (Some("completion_feedback"), Some(200)), "{feedback}");
    worker.stop().await;
}

#[tokio::test]
async fn the_handshake_needs_a_session_and_an_allowed_origin() {
    let app = TestApp::spawn().await;
    let (plugin, _) = app.signed_in("gate@example.com").await;
    let status = |error: WsError| match error {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    };
    let anonymous = open(&app.address, "/api/ws/completion", None, None).await.expect_err("no cookies");
    assert_eq!(status(anonymous), 401);
    let hijack = open(&app.address, "/api/ws/chat", Some(&plugin), Some("https://evil.example")).await.expect_err("foreign origin");
    assert_eq!(status(hijack), 403, "cross-site WebSocket hijacking is refused before the upgrade");
    open(&app.address, "/api/ws/chat", Some(&plugin), Some("http://localhost:3000")).await.expect("an allowed origin upgrades");
    open(&app.address, "/api/ws/completion/multi-file-context", Some(&plugin), None).await.expect("IDE clients send no origin");
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_connection_stays_usable() {
    let app = TestApp::spawn().await;
    let (plugin, _) = app.signed_in("garbage@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion/multi-file-context", Some(&plugin), None).await.expect("upgrade");
    for garbage in ["not json", "[1,2]", r#"{"a":1,"b":2}"#, r#"{"chat_get":{"page_number":1}}"#, "null", r#"{"multi_file_context_update": 7}"#] {
        socket.send(Message::text(garbage)).await.expect("send");
        let reply = next(&mut socket).await;
        let is_error = reply.get("error").is_some() || reply["status_code"].as_u64().is_some_and(|s| (400..500).contains(&s));
        assert!(is_error, "{garbage} → {reply}");
    }
    socket.send(Message::binary(vec![0u8, 159, 146, 150])).await.expect("send");
    assert!(next(&mut socket).await.get("error").is_some());
    let update = json!({"multi_file_context_update": {"context_updates": {"a.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x = 1"]}]}}});
    send(&mut socket, update).await;
    let reply = next(&mut socket).await;
    assert_eq!(reply["status_code"], 200, "{reply}");
    assert_eq!(reply["content"]["data"], json!({"a.py": ["x = 1"]}));
}

#[tokio::test]
async fn chat_runs_over_its_websocket_and_a_cancel_stops_a_running_answer() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "ws-chat").await;
    let (plugin, _) = app.signed_in("chatter@example.com").await;
    let mut socket = open(&app.address, "/api/ws/chat", Some(&plugin), None).await.expect("upgrade");
    let chat_id = uuid::Uuid::new_v4();
    send(&mut socket, json!({"chat_request": chat_body(chat_id, "What is a closure?")})).await;
    let accepted = next(&mut socket).await;
    let result = until_result(&mut socket, &accepted["request_id"]).await.pop().expect("result");
    assert_eq!(result["status_code"], 200, "{result}");
    assert_eq!(result["content"]["chat_id"], json!(chat_id));

    send(&mut socket, json!({"chat_get": {"page_number": 1}})).await;
    let page = next(&mut socket).await;
    assert_eq!(page["content"]["items"][0]["chat_id"], json!(chat_id), "{page}");
    send(&mut socket, json!({"chat_get": {"page_number": 0}})).await;
    assert_eq!(next(&mut socket).await["status_code"], 422);

    // A long answer, cancelled after its first token: no result follows, only `cancelled`.
    send(&mut socket, json!({"chat_request": chat_body(chat_id, "Explain every sorting algorithm you know in detail.")})).await;
    let accepted = next(&mut socket).await;
    let first = next(&mut socket).await;
    assert_eq!(first["type"], "token", "{first}");
    send(&mut socket, json!({"cancel": {"request_id": accepted["request_id"]}})).await;
    loop {
        let frame = next(&mut socket).await;
        assert_ne!(frame["type"], "result", "a cancelled request has no result: {frame}");
        if frame["type"] == "cancelled" {
            assert_eq!(frame["request_id"], accepted["request_id"]);
            break;
        }
    }
    send(&mut socket, json!({"chat_delete": {"chat_id": chat_id}})).await;
    assert_eq!(next(&mut socket).await["status_code"], 200);
    worker.stop().await;
}

#[tokio::test]
async fn a_new_completion_request_supersedes_the_running_one() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "ws-supersede").await;
    let (plugin, _) = app.signed_in("typist@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, json!({"completion_request": completion_body(&[5], "import numpy as np\n\ndef normalise(v):\n    ")})).await;
    let first = next(&mut socket).await;
    send(&mut socket, json!({"completion_request": completion_body(&[5], "import numpy as np\n\ndef normalise(vector):\n    ")})).await;
    let mut cancelled = false;
    let mut second = None;
    loop {
        let frame = next(&mut socket).await;
        assert!(!(frame["type"] == "result" && frame["request_id"] == first["request_id"]), "the superseded request never answers: {frame}");
        match frame["type"].as_str() {
            Some("cancelled") => cancelled |= frame["request_id"] == first["request_id"],
            Some("accepted") => second = Some(frame["request_id"].clone()),
            Some("result") if Some(&frame["request_id"]) == second.as_ref() => {
                assert_eq!(frame["status_code"], 200, "{frame}");
                break;
            }
            _ => {}
        }
    }
    assert!(cancelled, "the first request was cancelled");
    worker.stop().await;
}

#[tokio::test]
async fn upstream_framing_sends_each_frame_as_a_json_string() {
    let app = TestApp::spawn().await;
    let (plugin, _) = app.signed_in("legacy@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion/multi-file-context?framing=upstream", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, json!({"multi_file_context_update": {"context_updates": {}}})).await;
    let frame = next(&mut socket).await;
    let inner: Value = serde_json::from_str(frame.as_str().expect("a JSON string, as upstream")).expect("holding JSON");
    assert_eq!((inner["status_code"].as_u64(), inner["content"]["message"].as_str()), (Some(200), Some("Multi-file context updated successfully.")));
}

#[tokio::test]
async fn two_servers_and_two_workers_each_socket_gets_its_own_results() {
    let app = TestApp::spawn().await;
    let second_server = app.start_another_server().await;
    let workers = [Worker::start(&app, "pair-a").await, Worker::start(&app, "pair-b").await];
    let (plugin_a, _) = app.signed_in("on-a@example.com").await;
    let (mut plugin_b, _) = app.signed_in("on-b@example.com").await;
    plugin_b.use_server(&second_server.address);
    let mut on_a = open(&app.address, "/api/ws/completion", Some(&plugin_a), None).await.expect("upgrade on A");
    let mut on_b = open(&second_server.address, "/api/ws/completion", Some(&plugin_b), None).await.expect("upgrade on B");
    for round in 0..3 {
        send(&mut on_a, json!({"completion_request": completion_body(&[5], &format!("a{round} = "))})).await;
        send(&mut on_b, json!({"completion_request": completion_body(&[5], &format!("b{round} = "))})).await;
        let (ids_a, ids_b) = (next(&mut on_a).await["request_id"].clone(), next(&mut on_b).await["request_id"].clone());
        let a = until_result(&mut on_a, &ids_a).await.pop().expect("result on A");
        let b = until_result(&mut on_b, &ids_b).await.pop().expect("result on B");
        assert_eq!((a["status_code"].as_u64(), b["status_code"].as_u64()), (Some(200), Some(200)), "{a} {b}");
        assert_eq!(a["content"]["data"]["meta_query_id"], ids_a);
        assert_eq!(b["content"]["data"]["meta_query_id"], ids_b);
    }
    for worker in workers {
        worker.stop().await;
    }
    second_server.stop().await;
}

#[tokio::test]
async fn a_completion_socket_closes_when_its_session_is_deactivated_and_answers_nothing_after() {
    let app = TestApp::spawn().await;
    let (mut plugin, _) = app.signed_in("leaving@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade");
    let probe = json!({"completion_feedback": {"meta_query_id": uuid::Uuid::new_v4(), "model_id": 5, "was_accepted": true}});
    send(&mut socket, probe.clone()).await;
    assert_eq!(next(&mut socket).await["status_code"], 404, "the socket works while the session lives");

    assert_eq!(plugin.deactivate().await.status, 200);
    // Sent at once: whether the revocation or this frame reaches the server first, nothing runs.
    let _ = socket.send(Message::text(json!({"completion_request": completion_body(&[5], "x = ")}).to_string())).await;
    let _ = socket.send(Message::text(probe.to_string())).await;
    let (frames, code, reason) = until_closed(&mut socket).await;
    assert_eq!(frames, Vec::<Value>::new(), "nothing is accepted or answered after the session ended");
    assert_eq!((code, reason.as_str()), REVOKED);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM meta_query").fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_running_chat_answer_is_cancelled_and_never_stored_when_the_session_ends() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "ws-revoked").await;
    let (mut plugin, _) = app.signed_in("cut-off@example.com").await;
    let mut socket = open(&app.address, "/api/ws/chat", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, json!({"chat_request": chat_body(uuid::Uuid::new_v4(), "Explain every sorting algorithm you know in detail.")})).await;
    let accepted = next(&mut socket).await;
    assert_eq!(next(&mut socket).await["type"], "token", "the answer is running");

    assert_eq!(plugin.deactivate().await.status, 200);
    let (frames, code, reason) = until_closed(&mut socket).await;
    assert_eq!((code, reason.as_str()), REVOKED);
    assert!(frames.iter().all(|f| f["type"] != "result"), "no result after the session ended: {frames:?}");
    assert!(frames.iter().any(|f| f["type"] == "cancelled" && f["request_id"] == accepted["request_id"]), "{frames:?}");
    app.drain_queues().await; // whatever the cancelled job left behind has run
    let query_id: uuid::Uuid = serde_json::from_value(accepted["request_id"].clone()).expect("uuid");
    let stored: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)")
        .bind(query_id)
        .fetch_one(&app.db)
        .await
        .expect("query");
    assert!(!stored, "the cancelled turn was not recorded");
    worker.stop().await;
}

#[tokio::test]
async fn every_socket_of_a_user_closes_when_the_account_is_deleted() {
    let app = TestApp::spawn().await;
    let (mut plugin, _) = app.signed_in("gone@example.com").await;
    let mut completion = open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade");
    let mut context = open(&app.address, "/api/ws/completion/multi-file-context", Some(&plugin), None).await.expect("upgrade");
    assert_eq!(plugin.call(Method::DELETE, "/api/user/delete?delete_data=true", None).await.status, 200);
    for socket in [&mut completion, &mut context] {
        let (frames, code, reason) = until_closed(socket).await;
        assert_eq!((frames.len(), code, reason.as_str()), (0, REVOKED.0, REVOKED.1));
    }
}

#[tokio::test]
async fn chat_get_is_refused_once_the_session_is_deactivated() {
    let app = TestApp::spawn().await;
    let (mut plugin, _) = app.signed_in("history@example.com").await;
    let mut socket = open(&app.address, "/api/ws/chat", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, json!({"chat_get": {"page_number": 1}})).await;
    assert_eq!(next(&mut socket).await["status_code"], 200);
    assert_eq!(plugin.deactivate().await.status, 200);
    let _ = socket.send(Message::text(json!({"chat_get": {"page_number": 1}}).to_string())).await;
    let (frames, code, reason) = until_closed(&mut socket).await;
    assert_eq!(frames, Vec::<Value>::new(), "no history after the session ended");
    assert_eq!((code, reason.as_str()), REVOKED);
}

#[tokio::test]
async fn a_logout_on_one_server_closes_the_socket_held_by_another() {
    let app = TestApp::spawn().await;
    let second_server = app.start_another_server().await;
    let (mut plugin, _) = app.signed_in("roaming@example.com").await;
    let mut on_b = open(&second_server.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade on B");
    assert_eq!(plugin.deactivate().await.status, 200, "logged out through A");
    // Nothing is sent: the revocation itself reaches B and closes the socket.
    let (frames, code, reason) = until_closed(&mut on_b).await;
    assert_eq!((frames.len(), code, reason.as_str()), (0, REVOKED.0, REVOKED.1));
    second_server.stop().await;
}

#[tokio::test]
async fn a_socket_closes_when_its_session_expires() {
    let options = Options::default().env("SESSION_TOKEN_EXPIRES_IN_SECONDS", "3").env("TOKEN_HOOK_ACTIVATION_IN_SECONDS", "1");
    let app = TestApp::spawn_with(options).await;
    let (plugin, _) = app.signed_in("idle@example.com").await;
    let mut socket = open(&app.address, "/api/ws/chat", Some(&plugin), None).await.expect("upgrade");
    let (frames, code, reason) = until_closed(&mut socket).await;
    assert_eq!((frames.len(), code, reason.as_str()), (0, REVOKED.0, REVOKED.1));
}

#[tokio::test]
async fn a_five_megabyte_frame_is_closed_with_1009_not_reset() {
    let app = TestApp::spawn().await;
    let (plugin, _) = app.signed_in("flood@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion/multi-file-context", Some(&plugin), None).await.expect("upgrade");
    let _ = socket.send(Message::text("x".repeat(5 * 1024 * 1024))).await;
    let (frames, code, _) = until_closed(&mut socket).await;
    assert_eq!((frames.len(), code), (0, 1009), "message too big");
}

#[tokio::test]
async fn open_websockets_count_against_the_connections_one_ip_may_hold() {
    let app = TestApp::spawn_with(Options::default().env("HTTP_MAX_CONNECTIONS_PER_IP", "3").env("HTTP_HEADER_READ_TIMEOUT_SECONDS", "1")).await;
    let (plugin, _) = app.signed_in("sockets@example.com").await;
    // The sign-in's idle keep-alive connections close after the header timeout; then only the
    // sockets below are open. Time passing is the behaviour here: nothing signals the close.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade"));
    }
    // The three upgraded sockets still hold their slots: the next connection is over the cap.
    let mut extra = TcpStream::connect(app.address.trim_start_matches("http://")).await.expect("connect");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read_to_end(&mut extra, &mut answer))
        .await
        .expect("at once")
        .expect("read");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 429"), "{}", String::from_utf8_lossy(&answer));
    sockets.clear();
    // While the slots are still held, a probe is refused with a 429 written before its request
    // is read, which the client may see as a failed request; either way, not yet.
    wait_until("closed sockets give their slots back", Duration::from_secs(10), async || {
        reqwest::Client::new().get(app.url("/api/health")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}
