//! What must survive failures: telemetry through a PostgreSQL outage, and a server fed a thousand
//! malformed bodies and frames.

use std::time::Duration;

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::plugin::completion_body;
use code4me_tests::tcp_proxy::TcpProxy;
use code4me_tests::worker::Worker;
use futures::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn telemetry_and_feedback_sent_while_postgres_is_down_for_30_s_all_land_afterwards() {
    let app = TestApp::spawn().await;
    let relay = TcpProxy::start(app.database.port).await;
    let worker = Worker::start_with(&app, "outage", &[("DB_PORT", relay.port.to_string())]).await;
    let (mut plugin, _) = app.signed_in("outage@example.com").await;
    // The worker is up (its models are loaded from PostgreSQL at start) before the outage.
    let warm = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "n = "))).await;
    assert_eq!(warm.status, 200, "{}", warm.text);

    relay.cut();
    let outage = std::time::Instant::now();
    let mut queries = Vec::new();
    for i in 0..6 {
        let reply = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], &format!("value_{i} = ")))).await;
        assert_eq!(reply.status, 200, "completions need no database: {}", reply.text);
        let query_id = reply.body["data"]["meta_query_id"].as_str().expect("id").to_owned();
        let feedback = json!({"meta_query_id": query_id, "model_id": 5, "was_accepted": i % 2 == 0, "ground_truth": format!("value_{i} = {i}")});
        assert_eq!(plugin.call(Method::POST, "/api/completion/feedback", Some(feedback)).await.status, 200);
        queries.push(uuid::Uuid::parse_str(&query_id).expect("uuid"));
    }
    // The outage lasting 30 s is the behaviour under test: the worker must hold on that long.
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed())).await;
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM meta_query WHERE meta_query_id = ANY($1)").bind(&queries).fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, 0, "nothing could be written during the outage");
    relay.restore();

    // Every write retried until PostgreSQL came back, then was acknowledged.
    app.drain_queues().await;
    let (generations, accepted, truths): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE was_accepted), (SELECT count(*) FROM ground_truth WHERE completion_query_id = ANY($1)) \
         FROM had_generation WHERE meta_query_id = ANY($1)",
    )
    .bind(&queries)
    .fetch_one(&app.db)
    .await
    .expect("count");
    assert_eq!((generations, accepted, truths), (6, 3, 6), "after the outage: generations, accepted, ground truths");
    worker.stop().await;
}

/// A mutation of `base`: truncated, retyped, emptied, nested, or random bytes.
fn mutate(base: &Value, rng: &mut rand::rngs::StdRng) -> String {
    let text = base.to_string();
    match rng.random_range(0..8) {
        0 => text[..rng.random_range(0..text.len())].to_owned(),
        1 => {
            let bytes: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        2 => "[".repeat(rng.random_range(100..5000)),
        3 => json!([base, base]).to_string(),
        _ => {
            let mut value = base.clone();
            let replacements = [json!(null), json!(-1), json!(1e308), json!("x"), json!([]), json!({}), json!(true), json!(u64::MAX)];
            let replacement = replacements[rng.random_range(0..replacements.len())].clone();
            let mut cursor = &mut value;
            loop {
                let keys: Vec<String> = cursor.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
                if keys.is_empty() || rng.random_bool(0.4) {
                    *cursor = replacement;
                    break;
                }
                let key = keys[rng.random_range(0..keys.len())].clone();
                cursor = &mut cursor[key.as_str()];
            }
            value.to_string()
        }
    }
}

#[tokio::test]
async fn a_thousand_malformed_bodies_and_frames_get_client_errors_never_a_5xx_or_a_crash() {
    // No worker: a mutation that happens to be valid is answered with error items after 300 ms.
    let app = TestApp::spawn_with(Options::default().env("COMPLETION_TIMEOUT_MS", "300").env("CHAT_TIMEOUT_MS", "300")).await;
    let (mut plugin, _) = app.signed_in("fuzz@example.com").await;
    let chat = json!({"model_ids": [5], "chat_id": uuid::Uuid::new_v4(), "messages": [["user", "hi"]], "context": {"prefix": "", "suffix": ""},
                      "contextual_telemetry": {"version_id": 1, "trigger_type_id": 1, "language_id": 1}, "behavioral_telemetry": {}});
    let feedback = json!({"meta_query_id": uuid::Uuid::new_v4(), "model_id": 5, "was_accepted": true, "ground_truth": "x"});
    let update = json!({"context_updates": {"a.py": [{"change_type": "update", "start_line": 0, "end_line": 1, "new_lines": ["x"]}]}});
    let targets = [
        ("/api/completion/request", completion_body(&[5], "x = ")),
        ("/api/completion/feedback", feedback),
        ("/api/completion/multi-file-context/update", update),
        ("/api/chat/request", chat),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let cookies = plugin.cookie_header().expect("cookies");
    for i in 0..1000 {
        let (path, base) = &targets[i % targets.len()];
        let body = mutate(base, &mut rng);
        let response = app
            .client
            .post(app.url(path))
            .header("cookie", &cookies)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        let status = response.status().as_u16();
        assert!(status < 500, "{path} answered {status} to {body:?}");
    }
    for path in ["/api/chat/get/-1", "/api/chat/get/x", "/api/chat/delete/nope", "/api/completion/nope"] {
        let status = plugin.call(Method::GET, path, None).await.status;
        assert!((400..500).contains(&status) || status == 405, "{path} → {status}");
    }

    let url = format!("{}/api/ws/chat", app.address.replacen("http://", "ws://", 1));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).expect("request");
    request.headers_mut().insert("cookie", cookies.parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    let frames = [("chat_get", json!({"page_number": 1})), ("chat_delete", json!({"chat_id": uuid::Uuid::new_v4()}))];
    for i in 0..1000 {
        let (action, base) = &frames[i % frames.len()];
        let frame = if i % 3 == 0 {
            mutate(base, &mut rng)
        } else {
            json!({ *action: serde_json::from_str::<Value>(&mutate(base, &mut rng)).unwrap_or(Value::Null) }).to_string()
        };
        socket.send(tokio_tungstenite::tungstenite::Message::text(frame.clone())).await.expect("the socket stays open");
        let reply = loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a reply").expect("open").expect("frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                break serde_json::from_str::<Value>(text.as_str()).expect("JSON");
            }
        };
        let status = reply["status_code"].as_u64().unwrap_or(400);
        assert!(reply.get("error").is_some() || status < 500, "{frame:?} → {reply}");
    }
}
