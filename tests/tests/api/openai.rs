//! The OpenAI-compatible API (`/v1/models`, `/v1/completions`, `/v1/chat/completions`,
//! `/v1/embeddings`) against the real server, PostgreSQL, Redis and a worker running SmolLM2 and
//! MiniLM: the shapes the official SDKs parse, streaming as server-sent events, telemetry tagged
//! with the dialect, errors in OpenAI's shape for whatever an attacker sends, and a client that
//! goes away mid-stream cancelling its job.

use std::time::{Duration, Instant};

use base64::Engine;
use code4me_tests::TestApp;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const MODEL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";
const EMBEDDING_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// A signed-up user with an API key (returns the key).
async fn key_for(app: &TestApp, email: &str) -> String {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Open User", "Secret123").await.status, 201);
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    let created = plugin.call(Method::POST, "/api/keys", Some(json!({"name": "sdk"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["key"].as_str().expect("key").to_owned()
}

/// `POST path` with the key and a JSON body: the status and the body (JSON, or the raw text as a
/// JSON string when it is not JSON).
async fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).bearer_auth(key).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The `data:` payloads of an event stream, in order.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n").filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_owned)).collect()
}

/// Asserts an error in OpenAI's shape with `status`; returns its `error` object.
fn openai_error(status: u16, body: &Value, expected: u16, context: &str) -> Value {
    assert_eq!(status, expected, "{context}: {body}");
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{context}: {body}");
    assert!(error["type"].is_string() && error.get("param").is_some() && error.get("code").is_some(), "{context}: {body}");
    error.clone()
}

#[tokio::test]
async fn models_completions_chats_and_embeddings_answer_in_openais_shapes() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "openai").await;
    let key = key_for(&app, "sdk@example.com").await;

    let models = app.client.get(app.url("/v1/models")).bearer_auth(&key).send().await.expect("models");
    assert_eq!(models.status(), 200);
    let models: Value = models.json().await.expect("json");
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(ids.contains(&MODEL) && ids.contains(&EMBEDDING_MODEL), "{models}");
    assert!(models["data"].as_array().expect("data").iter().all(|m| m["object"] == "model" && m["created"].is_i64() && m["owned_by"].is_string()));

    // A raw continuation, stored as the openai dialect's query answered by the local workers.
    let (status, completion) =
        post(&app, &key, "/v1/completions", &json!({"model": MODEL, "prompt": "def add(a, b):\n    return", "max_tokens": 8, "temperature": 0}))
            .await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["object"], "text_completion");
    assert_eq!((completion["model"].as_str(), completion["provider"].as_str()), (Some(MODEL), Some("local")));
    let id = completion["id"].as_str().expect("id");
    assert!(completion["created"].is_i64());
    let choice = &completion["choices"][0];
    assert!(choice["text"].as_str().is_some_and(|t| !t.is_empty()), "{completion}");
    assert!(matches!(choice["finish_reason"].as_str(), Some("stop" | "length")) && choice["index"] == 0 && choice["logprobs"].is_null());
    let usage = &completion["usage"];
    assert!(
        usage["prompt_tokens"].as_u64().is_some_and(|n| n > 0) && usage["completion_tokens"].as_u64().is_some_and(|n| (1..=8).contains(&n)),
        "{completion}"
    );
    assert_eq!(usage["total_tokens"].as_u64(), Some(usage["prompt_tokens"].as_u64().unwrap_or(0) + usage["completion_tokens"].as_u64().unwrap_or(0)));
    let query_id = Uuid::parse_str(id.strip_prefix("cmpl-").expect("cmpl- prefix")).expect("a query id");
    app.eventually(
        "SELECT EXISTS (SELECT 1 FROM meta_query m JOIN had_generation g USING (meta_query_id) \
         WHERE m.meta_query_id = $1 AND m.client = 'openai' AND m.api_key_id IS NOT NULL AND g.provider = 'local')",
        query_id,
    )
    .await;

    // Fill-in-the-middle through `suffix`, and a stop sequence that is never in the text.
    let (status, fim) = post(
        &app,
        &key,
        "/v1/completions",
        &json!({"model": MODEL, "prompt": "def mul(a, b):\n    ", "suffix": "\n\nprint(mul(2, 3))\n", "max_tokens": 12}),
    )
    .await;
    assert_eq!(status, 200, "{fim}");
    assert!(fim["choices"][0]["text"].is_string());
    let (status, stopped) =
        post(&app, &key, "/v1/completions", &json!({"model": MODEL, "prompt": "1, 2, 3, 4,", "max_tokens": 24, "stop": [","]})).await;
    assert_eq!(status, 200, "{stopped}");
    assert!(!stopped["choices"][0]["text"].as_str().expect("text").contains(','), "{stopped}");

    // Two sampled choices, and the chosen tokens' log-probabilities.
    let (status, two) = post(
        &app,
        &key,
        "/v1/completions",
        &json!({"model": MODEL, "prompt": "The colour of the sky is", "max_tokens": 6, "n": 2, "temperature": 1.0, "seed": 7}),
    )
    .await;
    assert_eq!(status, 200, "{two}");
    let indexes: Vec<u64> = two["choices"].as_array().expect("choices").iter().filter_map(|c| c["index"].as_u64()).collect();
    assert_eq!(indexes, vec![0, 1], "{two}");
    let (status, scored) =
        post(&app, &key, "/v1/completions", &json!({"model": MODEL, "prompt": "for i in range(", "max_tokens": 5, "logprobs": 1})).await;
    assert_eq!(status, 200, "{scored}");
    let logprobs = &scored["choices"][0]["logprobs"];
    let tokens: Vec<&str> = logprobs["tokens"].as_array().expect("tokens").iter().filter_map(Value::as_str).collect();
    let values = logprobs["token_logprobs"].as_array().expect("token_logprobs");
    assert!(!tokens.is_empty() && tokens.len() == values.len() && values.iter().all(|v| v.as_f64().is_some_and(|x| x <= 0.0)), "{scored}");
    assert_eq!(tokens.concat(), scored["choices"][0]["text"].as_str().expect("text"), "the tokens spell the text");
    assert_eq!(logprobs["text_offset"].as_array().expect("offsets").len(), tokens.len());

    // A chat.
    let (status, chat) = post(
        &app,
        &key,
        "/v1/chat/completions",
        &json!({"model": MODEL, "max_tokens": 16, "messages": [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": [{"type": "text", "text": "Name a programming language."}]}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["object"], "chat.completion");
    assert!(chat["id"].as_str().is_some_and(|id| id.starts_with("chatcmpl-")));
    assert_eq!(chat["choices"][0]["message"]["role"], "assistant");
    assert!(chat["choices"][0]["message"]["content"].as_str().is_some_and(|t| !t.is_empty()), "{chat}");
    assert!(chat["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0));

    // Embeddings: one, a batch of three, and the same batch as base64 of little-endian f32s.
    let (status, one) = post(&app, &key, "/v1/embeddings", &json!({"model": EMBEDDING_MODEL, "input": "fn main() {}"})).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"][0]["embedding"].as_array().expect("floats").len(), 384);
    let inputs = json!(["def read_file(path):", "async fn fetch(url: &str)", "SELECT * FROM users"]);
    let (status, floats) = post(&app, &key, "/v1/embeddings", &json!({"model": EMBEDDING_MODEL, "input": inputs})).await;
    assert_eq!(status, 200, "{floats}");
    assert_eq!(floats["object"], "list");
    assert!(floats["usage"]["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    let (status, packed) = post(&app, &key, "/v1/embeddings", &json!({"model": EMBEDDING_MODEL, "input": inputs, "encoding_format": "base64"})).await;
    assert_eq!(status, 200, "{packed}");
    for index in 0..3 {
        assert_eq!(floats["data"][index]["index"], index);
        let numbers: Vec<f32> =
            floats["data"][index]["embedding"].as_array().expect("floats").iter().map(|x| x.as_f64().expect("number") as f32).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(packed["data"][index]["embedding"].as_str().expect("base64")).expect("decodes");
        let decoded: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(decoded.len(), 384);
        assert!(decoded.iter().zip(&numbers).all(|(a, b)| (a - b).abs() < 1e-6), "base64 holds the same vector");
    }
    worker.stop().await;
}

#[tokio::test]
async fn streamed_completions_and_chats_end_with_a_usage_chunk_and_done() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "openai-stream").await;
    let key = key_for(&app, "stream@example.com").await;

    // Time to the first token, measured (printed with --nocapture) on a few streamed completions.
    let mut first_token_ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut response = app
            .client
            .post(app.url("/v1/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": MODEL, "prompt": "import os\n", "max_tokens": 16, "stream": true}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let mut seen = String::new();
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"text\":\"") && !seen.contains("\"text\":\"\"") {
                break;
            }
        }
        first_token_ms.push(started.elapsed().as_millis());
    }
    first_token_ms.sort_unstable();
    println!("time to first streamed token (ms): {first_token_ms:?}, median {}", first_token_ms[1]);

    let response = app
        .client
        .post(app.url("/v1/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": MODEL, "prompt": "def greet(name):\n", "max_tokens": 16, "stream": true, "stream_options": {"include_usage": true}}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/event-stream"));
    let data = events(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).expect("a JSON chunk")).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect();
    assert!(!text.is_empty(), "{data:?}");
    assert!(chunks.iter().all(|c| c["object"] == "text_completion" && c["id"] == chunks[0]["id"]));
    let finished = chunks.iter().filter(|c| c["choices"][0]["finish_reason"].is_string()).count();
    assert_eq!(finished, 1, "one closing chunk: {data:?}");
    let usage = chunks.last().expect("usage chunk");
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0), "{usage}");

    let response = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": MODEL, "max_tokens": 16, "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "Say hello."}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let data = events(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).expect("a JSON chunk")).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!text.is_empty(), "{data:?}");
    let closing = &chunks[chunks.len() - 2];
    assert_eq!(closing["choices"][0]["delta"], json!({}));
    assert!(closing["choices"][0]["finish_reason"].is_string());
    assert!(chunks[chunks.len() - 1]["usage"]["total_tokens"].as_u64().is_some_and(|n| n > 0));
    worker.stop().await;
}

#[tokio::test]
async fn whatever_an_attacker_sends_is_a_4xx_in_openais_shape() {
    let app = TestApp::spawn().await;
    let key = key_for(&app, "attacker@example.com").await;
    let bad_bodies = [
        ("/v1/completions", json!({"prompt": "x"}), "model"),
        ("/v1/completions", json!({"model": MODEL, "prompt": "x", "max_tokens": 1_000_000_000}), "max_tokens"),
        ("/v1/completions", json!({"model": MODEL, "prompt": "x", "max_tokens": -5}), "max_tokens"),
        ("/v1/completions", json!({"model": MODEL, "prompt": "x", "n": 1000}), "n"),
        ("/v1/completions", json!({"model": MODEL, "prompt": "x", "temperature": "hot"}), "temperature"),
        ("/v1/completions", json!({"model": MODEL, "prompt": ["a", "b"]}), "prompt"),
        ("/v1/completions", json!({"model": MODEL, "prompt": "x", "echo": true}), "echo"),
        ("/v1/chat/completions", json!({"model": MODEL, "messages": [{"role": "tool", "content": "x"}]}), "messages[0].role"),
        ("/v1/chat/completions", json!({"model": MODEL, "messages": []}), "messages"),
        ("/v1/embeddings", json!({"model": EMBEDDING_MODEL, "input": [[1, 2, 3]]}), "input"),
        ("/v1/embeddings", json!({"model": EMBEDDING_MODEL, "input": vec!["x"; 65]}), "input"),
    ];
    for (path, body, param) in bad_bodies {
        let (status, answer) = post(&app, &key, path, &body).await;
        let error = openai_error(status, &answer, 400, &format!("{path} {body}"));
        assert_eq!((error["type"].as_str(), error["param"].as_str()), (Some("invalid_request_error"), Some(param)), "{body}");
    }

    let (status, answer) = post(&app, &key, "/v1/completions", &json!({"model": MODEL, "prompt": "a\u{0}b"})).await;
    openai_error(status, &answer, 400, "NUL in the prompt");
    let (status, answer) = post(&app, &key, "/v1/completions", &json!({"model": "no-such-model", "prompt": "x"})).await;
    assert_eq!(openai_error(status, &answer, 404, "unknown model")["code"], "model_not_found");
    let (status, answer) = post(&app, &key, "/v1/embeddings", &json!({"model": MODEL, "input": "x"})).await;
    assert_eq!(openai_error(status, &answer, 404, "not the embedding model")["code"], "model_not_found");

    let raw = async |body: Vec<u8>, content_type: &str| {
        let response =
            app.client.post(app.url("/v1/chat/completions")).bearer_auth(&key).header("content-type", content_type).body(body).send().await;
        let response = response.expect("request");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("a JSON error body"))
    };
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let (status, answer) = raw(nested, "application/json").await;
    openai_error(status, &answer, 400, "deeply nested JSON");
    let (status, answer) = raw(b"{\"model\": ".to_vec(), "application/json").await;
    openai_error(status, &answer, 400, "truncated JSON");
    // A 10 MB body is refused from its Content-Length, before it is sent.
    let head = format!(
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        10 * 1024 * 1024
    );
    let answer = raw_exchange(&app, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""type":"invalid_request_error""#) && answer.contains(r#""error":{"#), "in OpenAI's shape: {answer}");
    let (status, answer) = raw(br#"{"model": "m"}"#.to_vec(), "text/plain").await;
    openai_error(status, &answer, 415, "wrong content type");

    // Keys and tokens: an unknown key, none at all, a made-up bearer token.
    for bearer in [Some("c4m_0000000000000000000000000000000000"), None, Some("sk-not-ours")] {
        let mut request = app.client.post(app.url("/v1/completions")).json(&json!({"model": MODEL, "prompt": "x"}));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_eq!(openai_error(status, &body, 401, &format!("{bearer:?}"))["type"], "authentication_error");
    }
    let models = app.client.get(app.url("/v1/models")).send().await.expect("request");
    assert_eq!(models.status(), 401);

    // Unknown paths and methods.
    let response = app.client.get(app.url("/v1/completions")).bearer_auth(&key).send().await.expect("request");
    let status = response.status().as_u16();
    openai_error(status, &response.json().await.expect("json"), 405, "GET /v1/completions");
    let response = app.client.get(app.url("/v1/engines")).bearer_auth(&key).send().await.expect("request");
    let status = response.status().as_u16();
    openai_error(status, &response.json().await.expect("json"), 404, "unknown path");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_cancels_its_job_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "openai-abort").await;
    let key = key_for(&app, "leaver@example.com").await;
    let cancelled_before = cancelled_count(&app).await;

    let mut response = app
        .client
        .post(app.url("/v1/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": MODEL, "prompt": "Write a very long story about a dragon.\n", "max_tokens": 2000, "stream": true}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut seen = String::new();
    let first = loop {
        let chunk = response.chunk().await.expect("chunk").expect("the stream runs");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = events(&seen).into_iter().find(|d| d.starts_with('{')) {
            break serde_json::from_str::<Value>(&data).expect("a chunk");
        }
    };
    let query_id = Uuid::parse_str(first["id"].as_str().expect("id").trim_start_matches("cmpl-")).expect("a query id");
    drop(response);

    wait_for("the server to cancel the abandoned generation", Duration::from_secs(30), async || {
        (cancelled_count(&app).await > cancelled_before).then_some(())
    })
    .await;
    app.drain_queues().await;
    // The API keeps answering, and the abandoned request left no query behind.
    let (status, after) = post(&app, &key, "/v1/completions", &json!({"model": MODEL, "prompt": "x = ", "max_tokens": 4})).await;
    assert_eq!(status, 200, "{after}");
    let next_id = Uuid::parse_str(after["id"].as_str().expect("id").trim_start_matches("cmpl-")).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)", next_id).await;
    let stored: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)")
        .bind(query_id)
        .fetch_one(&app.db)
        .await
        .expect("query");
    assert!(!stored, "the abandoned generation was not recorded");
    worker.stop().await;
}

/// Writes `request` on a fresh connection and reads the answer until the server closes it.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// `open_api_cancelled_total` on the server's metrics (0 before the first cancellation).
async fn cancelled_count(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines().filter(|l| l.starts_with("open_api_cancelled_total")).filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok()).sum()
}

#[tokio::test]
async fn an_operators_token_cap_bounds_every_open_api_generation_whatever_it_asks() {
    let app = TestApp::spawn_with(code4me_tests::app::Options::default().env("OPEN_API_MAX_NEW_TOKENS", "3")).await;
    let _worker = Worker::start(&app, "capped").await;
    let key = key_for(&app, "capped@example.com").await;
    let body = json!({"model": MODEL, "prompt": "def fibonacci(n):\n    ", "max_tokens": 64, "temperature": 0});
    let (status, reply) = post(&app, &key, "/v1/completions", &body).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["usage"]["completion_tokens"].as_u64().expect("tokens") <= 3, "{reply}");
    assert_eq!(reply["choices"][0]["finish_reason"], "length", "{reply}");
    let chat = json!({"model": MODEL, "messages": [{"role": "user", "content": "Write a long poem about Rust."}], "max_tokens": 200});
    let (status, reply) = post(&app, &key, "/v1/chat/completions", &chat).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["usage"]["completion_tokens"].as_u64().expect("tokens") <= 3, "{reply}");
}
