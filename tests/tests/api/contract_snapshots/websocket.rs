//! The WebSocket frames: `accepted`, `token`, `result` (the REST status and body), `cancelled`,
//! `{"error": ...}` for frames that are not requests, the close on revocation, and upstream's
//! double-encoded framing.

use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use code4me_tests::worker::Worker;
use futures::SinkExt;
use insta::assert_json_snapshot;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{millis, score, text, time, uuid};
use crate::websocket::{Socket, chat_body, next, open, send, until_closed, until_result};

/// The first frame of each type, in the order they came: a stream of many tokens is one token
/// frame in the snapshot.
fn first_of_each_type(frames: &[Value]) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut firsts = Vec::new();
    for frame in frames {
        let kind = frame["type"].clone();
        if !seen.contains(&kind) {
            seen.push(kind);
            firsts.push(frame.clone());
        }
    }
    firsts
}

#[tokio::test]
async fn completion_frames_are_as_snapshotted() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "snap-ws-completion").await;
    let (plugin, _) = app.signed_in("ws-completion@example.com").await;
    let mut socket = open(&app.address, "/api/ws/completion", Some(&plugin), None).await.expect("upgrade");

    send(&mut socket, json!({"completion_request": completion_body(&[5], "def add(a, b):\n    ")})).await;
    let accepted = next(&mut socket).await;
    let mut frames = vec![accepted.clone()];
    frames.extend(until_result(&mut socket, &accepted["request_id"]).await);
    assert_json_snapshot!("ws_completion_request", first_of_each_type(&frames), {
        "[].request_id" => uuid(),
        "[].text" => text(),
        "[].content.data.meta_query_id" => uuid(),
        "[].content.data.completions[].completion" => text(),
        "[].content.data.completions[].generation_time" => millis(),
        "[].content.data.completions[].confidence" => score(),
    });

    send(&mut socket, json!({"completion_feedback": {"meta_query_id": accepted["request_id"], "model_id": 5, "was_accepted": true}})).await;
    assert_json_snapshot!("ws_completion_feedback", next(&mut socket).await, { ".content.data.meta_query_id" => uuid() });
    send(&mut socket, json!({"chat_get": {"page_number": 1}})).await;
    assert_json_snapshot!("ws_completion_unknown_action", next(&mut socket).await);
    send_text(&mut socket, "not json").await;
    assert_json_snapshot!("ws_completion_not_json", next(&mut socket).await);
    app.drain_queues().await;
    worker.stop().await;
}

#[tokio::test]
async fn chat_frames_are_as_snapshotted() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "snap-ws-chat").await;
    let (mut plugin, _) = app.signed_in("ws-chat@example.com").await;
    let mut socket = open(&app.address, "/api/ws/chat", Some(&plugin), None).await.expect("upgrade");
    let chat_id = uuid::Uuid::parse_str("00000000-0000-4000-8000-0000000005c7").expect("uuid");

    send(&mut socket, json!({"chat_request": chat_body(chat_id, "What is a closure?")})).await;
    let accepted = next(&mut socket).await;
    let mut frames = vec![accepted.clone()];
    frames.extend(until_result(&mut socket, &accepted["request_id"]).await);
    assert_json_snapshot!("ws_chat_request", first_of_each_type(&frames), {
        "[].request_id" => uuid(),
        "[].text" => text(),
        "[].content.title" => text(),
        "[].content.history[].user_message.timestamp" => time(),
        "[].content.history[].user_message.meta_query_id" => uuid(),
        "[].content.history[].assistant_responses[].completion" => text(),
        "[].content.history[].assistant_responses[].generation_time" => millis(),
        "[].content.history[].assistant_responses[].confidence" => score(),
    });
    app.drain_queues().await;
    send(&mut socket, json!({"chat_get": {"page_number": 1}})).await;
    assert_json_snapshot!("ws_chat_get", next(&mut socket).await, {
        ".content.items[].title" => text(),
        ".content.items[].history[].user_message.timestamp" => time(),
        ".content.items[].history[].user_message.meta_query_id" => uuid(),
        ".content.items[].history[].assistant_responses[].completion" => text(),
        ".content.items[].history[].assistant_responses[].generation_time" => millis(),
        ".content.items[].history[].assistant_responses[].confidence" => score(),
    });

    // A long answer cancelled after its first token: `cancelled`, and no result.
    send(&mut socket, json!({"chat_request": chat_body(chat_id, "Explain every sorting algorithm you know in detail.")})).await;
    let accepted = next(&mut socket).await;
    assert_eq!(next(&mut socket).await["type"], "token");
    send(&mut socket, json!({"cancel": {"request_id": accepted["request_id"]}})).await;
    let cancelled = loop {
        let frame = next(&mut socket).await;
        if frame["type"] == "cancelled" {
            break frame;
        }
    };
    assert_json_snapshot!("ws_chat_cancelled", cancelled, { ".request_id" => uuid() });

    send(&mut socket, json!({"chat_delete": {"chat_id": chat_id}})).await;
    assert_json_snapshot!("ws_chat_delete", next(&mut socket).await);

    // Logging out closes the socket with upstream's 401 message as the reason.
    assert_eq!(plugin.deactivate().await.status, 200);
    let (frames, code, reason) = until_closed(&mut socket).await;
    assert_json_snapshot!("ws_close_on_logout", json!({"frames": frames, "code": code, "reason": reason}));
    app.drain_queues().await;
    worker.stop().await;
}

#[tokio::test]
async fn multi_file_context_frames_are_as_snapshotted_in_both_framings() {
    let app = TestApp::spawn().await;
    let (plugin, _) = app.signed_in("ws-context@example.com").await;
    let update = json!({"multi_file_context_update": {"context_updates": {"a.py": [
        {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x = 1"]},
    ]}}});
    let mut socket = open(&app.address, "/api/ws/completion/multi-file-context", Some(&plugin), None).await.expect("upgrade");
    send(&mut socket, update.clone()).await;
    assert_json_snapshot!("ws_multi_file_context_update", next(&mut socket).await);
    send_text(&mut socket, r#"{"multi_file_context_update": 7}"#).await;
    assert_json_snapshot!("ws_multi_file_context_update_invalid", next(&mut socket).await);

    // Upstream's framing: each frame is a JSON string holding the JSON.
    let mut legacy = open(&app.address, "/api/ws/completion/multi-file-context?framing=upstream", Some(&plugin), None).await.expect("upgrade");
    send(&mut legacy, update).await;
    let frame = next(&mut legacy).await;
    insta::assert_snapshot!("ws_multi_file_context_update_upstream_framing", frame.as_str().expect("a JSON string, as upstream"));
}

/// Sends `text` as it is (not necessarily JSON).
async fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
}
