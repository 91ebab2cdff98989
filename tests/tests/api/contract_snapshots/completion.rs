//! `/api/completion/*` and `/api/chat/*` through the real worker: the bodies the plugin shows
//! completions and chats from, with the model's words, timings and scores redacted.

use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use code4me_tests::worker::Worker;
use insta::assert_json_snapshot;
use reqwest::Method;
use serde_json::json;

use super::{millis, reply, score, text, time, uuid};
use crate::websocket::chat_body;

/// A fixed chat id: the client chooses it, so the snapshots can show it.
const CHAT_ID: &str = "00000000-0000-4000-8000-00000000c4a7";

#[tokio::test]
async fn the_completion_endpoints_answer_the_plugin_as_snapshotted() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "snap-completion").await;
    let (mut plugin, _) = app.signed_in("completion@example.com").await;

    let update = json!({"context_updates": {"util.py": [
        {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["def helper():", "    return 42"]},
    ]}});
    let updated = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await;
    assert_json_snapshot!("completion_multi_file_context_update", reply(&updated));

    // Model 5 answers, model 2 has no weights here, 999 names no model: one item of each kind.
    let requested = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5, 2, 999], "def fibonacci(n):\n    "))).await;
    assert_json_snapshot!("completion_request", reply(&requested), {
        ".body.data.meta_query_id" => uuid(),
        ".body.data.completions[0].completion" => text(),
        ".body.data.completions[0].generation_time" => millis(),
        ".body.data.completions[0].confidence" => score(),
    });
    let query_id = requested.body["data"]["meta_query_id"].as_str().expect("query id").to_owned();
    let mut invalid = completion_body(&[5], "x");
    invalid["context"].as_object_mut().expect("object").remove("prefix");
    let invalid = plugin.call(Method::POST, "/api/completion/request", Some(invalid)).await;
    assert_json_snapshot!("completion_request_invalid", reply(&invalid));

    let feedback = json!({"meta_query_id": query_id, "model_id": 5, "was_accepted": true, "ground_truth": "return n"});
    let recorded = plugin.call(Method::POST, "/api/completion/feedback", Some(feedback)).await;
    assert_json_snapshot!("completion_feedback", reply(&recorded), { ".body.data.meta_query_id" => uuid() });
    let unknown = json!({"meta_query_id": uuid::Uuid::new_v4(), "model_id": 5, "was_accepted": false});
    let not_found = plugin.call(Method::POST, "/api/completion/feedback", Some(unknown)).await;
    assert_json_snapshot!("completion_feedback_unknown_query", reply(&not_found));

    // Once its rows are written: until then the answer comes from the query's Redis record, which
    // also lists the failed models' items (the body depends on timing).
    app.drain_queues().await;
    let fetched = plugin.call(Method::GET, &format!("/api/completion/{query_id}"), None).await;
    assert_json_snapshot!("completion_get", reply(&fetched), {
        ".body.data.meta_query_id" => uuid(),
        ".body.data.completions[].completion" => text(),
        ".body.data.completions[].generation_time" => millis(),
        ".body.data.completions[].confidence" => score(),
    });
    let missing = plugin.call(Method::GET, &format!("/api/completion/{}", uuid::Uuid::new_v4()), None).await;
    assert_json_snapshot!("completion_get_unknown_query", reply(&missing));
    worker.stop().await;
}

#[tokio::test]
async fn the_chat_endpoints_answer_the_plugin_as_snapshotted() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "snap-chat").await;
    let (mut plugin, _) = app.signed_in("chat@example.com").await;
    let chat_id = uuid::Uuid::parse_str(CHAT_ID).expect("uuid");

    let answered = plugin.call(Method::POST, "/api/chat/request", Some(chat_body(chat_id, "How do I reverse a list in Python?"))).await;
    assert_json_snapshot!("chat_request", reply(&answered), {
        ".body.title" => text(),
        ".body.history[].user_message.timestamp" => time(),
        ".body.history[].user_message.meta_query_id" => uuid(),
        ".body.history[].assistant_responses[].completion" => text(),
        ".body.history[].assistant_responses[].generation_time" => millis(),
        ".body.history[].assistant_responses[].confidence" => score(),
    });
    // The turn is listed once its rows are written.
    app.drain_queues().await;
    let page = plugin.call(Method::GET, "/api/chat/get/1", None).await;
    assert_json_snapshot!("chat_get", reply(&page), {
        ".body.items[].title" => text(),
        ".body.items[].history[].user_message.timestamp" => time(),
        ".body.items[].history[].user_message.meta_query_id" => uuid(),
        ".body.items[].history[].assistant_responses[].completion" => text(),
        ".body.items[].history[].assistant_responses[].generation_time" => millis(),
        ".body.items[].history[].assistant_responses[].confidence" => score(),
    });
    let page_zero = plugin.call(Method::GET, "/api/chat/get/0", None).await;
    assert_json_snapshot!("chat_get_page_zero", reply(&page_zero));

    let deleted = plugin.call(Method::DELETE, &format!("/api/chat/delete/{chat_id}"), None).await;
    assert_json_snapshot!("chat_delete", reply(&deleted));
    let again = plugin.call(Method::DELETE, &format!("/api/chat/delete/{chat_id}"), None).await;
    assert_json_snapshot!("chat_delete_unknown", reply(&again));
    worker.stop().await;
}
