//! The task API (`/api/ai/{generate,complete,analyze,refactor,document}`, `/api/ai/health`,
//! `/api/status`) against the real server, worker and model, and its provider chain: a remote
//! OpenAI-compatible provider answering when no local worker runs, and a provider that never
//! answers timed out once and then skipped while its circuit is open.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::plugin::Plugin;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};

const TASKS: [&str; 5] = ["generate", "complete", "analyze", "refactor", "document"];
const MODEL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

/// A signed-in user with an API key; returns the user's session and the key.
async fn user_with_key(app: &TestApp, email: &str) -> (Plugin, String) {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Task User", "Secret123").await.status, 201);
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    let created = plugin.call(Method::POST, "/api/keys", Some(json!({"name": "tasks"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    (plugin, created.body["key"].as_str().expect("key").to_owned())
}

/// `POST /api/ai/<task>` with the key; the status and body.
async fn task(app: &TestApp, key: &str, name: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url(&format!("/api/ai/{name}"))).bearer_auth(key).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON ({status}): {text}")))
}

fn input(name: &str) -> Value {
    let content = match name {
        "generate" => "a function add(a, b) that returns the sum of a and b",
        "analyze" => "def average(values):\n    total = sum(values)\n    return total / len(values)\n",
        _ => "def add(a, b):\n    return a + b\n",
    };
    json!({"content": content, "language": "python", "max_tokens": 48, "temperature": 0})
}

/// `input(name)` naming the model: without a live worker, the default chat model is the first chat
/// row, not the one the workers would serve.
fn input_for_model(name: &str) -> Value {
    let mut body = input(name);
    body["model"] = json!(MODEL);
    body
}

/// Asserts the fields every task answer documents.
fn assert_answer(name: &str, body: &Value, provider: &str) {
    assert_eq!(body["success"], true, "{name}: {body}");
    assert!(body["content"].is_string(), "{name}: {body}");
    assert_eq!(body["provider"], provider, "{name}: {body}");
    assert_eq!(body["model"], MODEL, "{name}: {body}");
    let usage = &body["usage"];
    let (prompt, completion, total) =
        (usage["prompt_tokens"].as_u64().expect("prompt"), usage["completion_tokens"].as_u64().expect("completion"), usage["total_tokens"].as_u64());
    assert_eq!(total, Some(prompt + completion), "{name}: {body}");
    assert!(body["latency_ms"].is_u64(), "{name}: {body}");
    match name {
        "analyze" => {
            for issue in body["issues"].as_array().unwrap_or_else(|| panic!("analyze lists issues: {body}")) {
                assert!(["error", "warning", "info"].contains(&issue["severity"].as_str().expect("severity")), "{issue}");
                assert!(issue["line"].is_null() || (1..=3).contains(&issue["line"].as_u64().expect("line")), "{issue}");
                assert!(issue["message"].as_str().is_some_and(|m| !m.is_empty()), "{issue}");
            }
        }
        "refactor" => assert!(body["explanation"].is_string(), "refactor explains: {body}"),
        _ => assert!(body.get("issues").is_none() && body.get("explanation").is_none(), "{name}: {body}"),
    }
}

#[tokio::test]
async fn every_task_answers_on_the_local_model_and_is_stored_as_task_telemetry() {
    let app = TestApp::spawn().await;
    let _worker = Worker::start(&app, "tasks").await;
    let (mut user, key) = user_with_key(&app, "tasks@example.com").await;
    // The worker announces its loaded models on its next refresh after it starts consuming.
    wait_for("the worker to announce the default model", Duration::from_secs(60), async || {
        let status: Value = app.get("/api/status").await.json().await.ok()?;
        (status["default_model"]["served"] == true).then_some(())
    })
    .await;

    for name in TASKS {
        let started = Instant::now();
        let (status, body) = task(&app, &key, name, &input(name)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_answer(name, &body, "local");
        eprintln!("task {name} on the local model: {} ms (server-side {} ms)", started.elapsed().as_millis(), body["latency_ms"]);
    }
    // `code` is an alias of `content`, and a signed-in user needs no key.
    let by_session = user.call(Method::POST, "/api/ai/complete", Some(json!({"code": "x = ", "language": "python", "max_tokens": 8}))).await;
    assert_eq!(by_session.status, 200, "{}", by_session.text);
    assert_answer("complete", &by_session.body, "local");

    let stored = wait_for("the six task queries to be stored", Duration::from_secs(60), async || {
        let rows: Vec<(Option<String>, bool)> = sqlx::query_as(
            "SELECT g.provider, q.api_key_id IS NOT NULL FROM meta_query q JOIN had_generation g USING (meta_query_id) WHERE q.client = 'task'",
        )
        .fetch_all(&app.db)
        .await
        .expect("query");
        (rows.len() == 6).then_some(rows)
    })
    .await;
    assert!(stored.iter().all(|(provider, _)| provider.as_deref() == Some("local")), "{stored:?}");
    assert_eq!(stored.iter().filter(|(_, keyed)| *keyed).count(), 5, "the keyed requests carry their key");

    let health = app.get("/api/ai/health").await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["local_workers"], 1);
    assert_eq!(health["providers"][0], json!({"name": "local", "priority": 0, "circuit_open": false, "models": [MODEL]}));
    let status: Value = app.get("/api/status").await.json().await.expect("json");
    assert_eq!(status["default_model"], json!({"name": MODEL, "served": true}), "{status}");
    assert!(status["version"].is_string() && status["uptime_seconds"].is_u64(), "{status}");
}

#[tokio::test]
async fn bad_input_on_every_task_endpoint_is_a_4xx_in_the_task_dialect() {
    let options = Options::default()
        .env("TIER_FREE_REQUESTS_PER_HOUR", "100000")
        .env("TIER_FREE_REQUESTS_PER_DAY", "100000")
        .env("TIER_FREE_MAX_PROMPT_CHARS", "1000");
    let app = TestApp::spawn_with(options).await;
    let (_user, key) = user_with_key(&app, "bad@example.com").await;
    let huge = "x".repeat(64 * 1024 + 1);
    let bodies = [
        json!({}),
        json!({"language": "python"}),
        json!({"content": "x = 1"}),
        json!({"content": 5, "language": "python"}),
        json!({"content": ["x"], "language": "python"}),
        json!({"content": "x = 1", "language": 7}),
        json!({"content": "", "language": "python"}),
        json!({"content": "x = 1", "language": "p".repeat(65)}),
        json!({"content": huge, "language": "python"}),
        json!({"content": "x = 1", "language": "python", "instructions": "i".repeat(4097)}),
        json!({"content": "x = 1", "language": "python", "max_tokens": 0}),
        json!({"content": "x = 1", "language": "python", "max_tokens": -5}),
        json!({"content": "x = 1", "language": "python", "max_tokens": 1e30}),
        json!({"content": "x = 1", "language": "python", "max_tokens": "many"}),
        json!({"content": "x = 1", "language": "python", "temperature": -1}),
        json!({"content": "x = 1", "language": "python", "temperature": 99}),
        json!({"content": "x = 1", "language": "python", "model": "no/such-model"}),
        json!({"content": "x = 1", "language": "python", "model": "deepseek-ai/deepseek-coder-1.3b-base"}),
        json!({"content": "x = 1", "language": "python", "provider": "nowhere"}),
        json!({"content": "x\u{0}", "language": "python"}),
        json!([1, 2]),
        json!("text"),
    ];
    let check = |name: &str, what: &str, status: u16, body: &Value| {
        assert!((400..500).contains(&status), "{name} {what}: {status} {body}");
        assert_eq!(body["success"], false, "{name} {what}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()) && body["code"].is_string(), "{name} {what}: {body}");
    };
    for name in TASKS {
        for body in &bodies {
            let (status, answer) = task(&app, &key, name, body).await;
            check(name, &body.to_string().chars().take(80).collect::<String>(), status, &answer);
        }
        let (status, answer) = task(&app, &key, name, &json!({"content": "x", "language": "python", "model": "no/such-model"})).await;
        assert_eq!(status, 404, "{answer}");
        let (status, answer) =
            task(&app, &key, name, &json!({"content": "x", "language": "python", "model": "deepseek-ai/deepseek-coder-1.3b-base"})).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"].as_str().expect("error").contains("no prompt template"), "{answer}");
        let (status, answer) = task(&app, &key, name, &json!({"content": "y".repeat(1001), "language": "python"})).await;
        assert_eq!(status, 413, "longer than the tier's max_prompt_chars: {answer}");

        let url = app.url(&format!("/api/ai/{name}"));
        let cases = [
            ("no credentials", app.client.post(&url).json(&input(name))),
            ("an invalid key", app.client.post(&url).bearer_auth("c4m_notakey0000000000000000000000000000").json(&input(name))),
            ("not JSON", app.client.post(&url).bearer_auth(&key).header("content-type", "application/json").body("{\"content\": ")),
            ("a text body", app.client.post(&url).bearer_auth(&key).header("content-type", "text/plain").body("hello")),
            (
                "a raw NUL",
                app.client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body("{\"content\": \"a\\u0000\", \"language\": \"c\"}"),
            ),
        ];
        for (what, request) in cases {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            check(name, what, status, &body);
            if what.contains("credentials") || what.contains("invalid key") {
                assert_eq!(status, 401, "{name} {what}: {body}");
            }
        }
    }
    // Without a worker or another provider, a valid task is a 503 naming why, and health says so.
    let (status, answer) = task(&app, &key, "generate", &input("generate")).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["success"], false);
    assert!(answer["error"].as_str().expect("error").contains("no live worker"), "{answer}");
    let health = app.get("/api/ai/health").await;
    assert_eq!(health.status(), 503);
    assert_eq!(health.json::<Value>().await.expect("json")["status"], "unavailable");
}

/// What the stand-in provider was asked.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A minimal OpenAI-compatible provider (`POST /v1/chat/completions`, bearer key checked),
/// standing in for a third-party hosted service; returns its base URL and what it was sent.
async fn stand_in_provider(key: &'static str) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let record = record.clone();
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {key}")) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"message": "bad key"}})));
                }
                record.lock().expect("lock").push(body);
                let content = "```python\ndef add(a, b):\n    return a + b\n```\nRenamed nothing; it was already clear.";
                let answer = json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "model": "stand-in",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
                });
                (StatusCode::OK, Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1"), seen)
}

/// A provider that accepts connections and never answers.
async fn silent_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn without_a_local_worker_a_remote_provider_answers_and_is_recorded() {
    let (base_url, seen) = stand_in_provider("remote-secret").await;
    let providers = json!([{"name": "second", "base_url": base_url, "api_key_env": "SECOND_KEY", "models": {"*": "stand-in-model"}}]);
    let app = TestApp::spawn_with(Options::default().env("PROVIDERS", &providers.to_string()).env("SECOND_KEY", "remote-secret")).await;
    let (_user, key) = user_with_key(&app, "fallback@example.com").await;

    let started = Instant::now();
    let (status, body) = task(&app, &key, "refactor", &input_for_model("refactor")).await;
    assert_eq!(status, 200, "{body}");
    eprintln!("task answered by the remote provider: {} ms", started.elapsed().as_millis());
    assert_answer("refactor", &body, "second");
    assert_eq!(body["content"], "def add(a, b):\n    return a + b");
    assert_eq!(body["explanation"], "Renamed nothing; it was already clear.");
    assert_eq!(body["usage"], json!({"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}));
    let sent = seen.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "stand-in-model", "the provider's own model name");
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    assert!(sent[0]["messages"][1]["content"].as_str().expect("user message").contains("def add(a, b):"), "{}", sent[0]);
    assert_eq!(sent[0]["max_tokens"], 48);

    // The telemetry waits in the queue for a worker; one that starts now writes it.
    let _worker = Worker::start(&app, "writer").await;
    let query: uuid::Uuid = wait_for("the task query to be stored", Duration::from_secs(60), async || {
        sqlx::query_scalar(
            "SELECT q.meta_query_id FROM meta_query q JOIN had_generation g USING (meta_query_id) WHERE q.client = 'task' AND g.provider = 'second'",
        )
        .fetch_optional(&app.db)
        .await
        .expect("query")
    })
    .await;
    assert!(!query.is_nil());
}

/// The provider chain against a real second Code4me-RS installation (its own PostgreSQL database,
/// Redis and worker): with no local worker, installation A's task is answered by B's `/v1` with
/// B's API key, says so, and A stores it as `provider = 'second'`; B stores it as its own
/// `openai`-dialect query.
#[tokio::test]
async fn a_second_code4me_installation_answers_when_the_local_workers_are_gone() {
    let second = TestApp::spawn().await;
    let _second_worker = Worker::start(&second, "second-installation").await;
    let (_second_user, second_key) = user_with_key(&second, "installation-b@example.com").await;
    let providers = json!([{"name": "second", "base_url": format!("{}/v1", second.address), "api_key_env": "SECOND_KEY", "models": {"*": MODEL}, "timeout_ms": 60_000}]);
    let app = TestApp::spawn_with(Options::default().env("PROVIDERS", &providers.to_string()).env("SECOND_KEY", &second_key)).await;
    let (_user, key) = user_with_key(&app, "installation-a@example.com").await;

    let started = Instant::now();
    let (status, body) = task(&app, &key, "complete", &input_for_model("complete")).await;
    assert_eq!(status, 200, "{body}");
    eprintln!("task answered by a second installation: {} ms", started.elapsed().as_millis());
    assert_answer("complete", &body, "second");
    assert!(body["usage"]["completion_tokens"].as_u64().expect("tokens") > 0, "B's worker generated: {body}");

    let on_b: i64 = wait_for("B to store the request as its own openai query", Duration::from_secs(60), async || {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM meta_query WHERE client = 'openai'").fetch_one(&second.db).await.expect("count");
        (count > 0).then_some(count)
    })
    .await;
    assert_eq!(on_b, 1);
    // A's telemetry waits in A's queue for a worker; one that starts now writes it.
    let _writer = Worker::start(&app, "writer-a").await;
    wait_for("A to store the task as answered by the second installation", Duration::from_secs(60), async || {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "SELECT q.meta_query_id FROM meta_query q JOIN had_generation g USING (meta_query_id) WHERE q.client = 'task' AND g.provider = 'second'",
        )
        .fetch_optional(&app.db)
        .await
        .expect("query")
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_never_answers_is_timed_out_once_then_skipped_while_its_circuit_is_open() {
    const TIMEOUT_MS: u64 = 1_500;
    let silent = silent_provider().await;
    let (working, seen) = stand_in_provider("k").await;
    let providers = json!([
        {"name": "silent", "base_url": silent, "models": {"*": "m"}, "timeout_ms": TIMEOUT_MS, "priority": 1, "breaker_failures": 1, "breaker_cooldown_ms": 600_000},
        {"name": "working", "base_url": working, "api_key_env": "WORKING_KEY", "models": {MODEL: "m"}, "priority": 2}
    ]);
    let app = TestApp::spawn_with(Options::default().env("PROVIDERS", &providers.to_string()).env("WORKING_KEY", "k")).await;
    let (_user, key) = user_with_key(&app, "breaker@example.com").await;
    let health: Value = app.get("/api/ai/health").await.json().await.expect("json");
    let names: Vec<&str> = health["providers"].as_array().expect("providers").iter().map(|p| p["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["local", "silent", "working"]);
    assert_eq!(health["status"], "degraded", "no local worker: {health}");

    let started = Instant::now();
    let (status, first) = task(&app, &key, "generate", &input_for_model("generate")).await;
    let first_ms = started.elapsed().as_millis();
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["provider"], "working");
    assert!(first_ms >= u128::from(TIMEOUT_MS), "the silent provider was waited for: {first_ms} ms");

    let health = app.get("/api/ai/health").await;
    assert_eq!(health.status(), 200, "degraded still serves");
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["providers"][1]["circuit_open"], true, "{health}");
    assert_eq!(health["providers"][2]["circuit_open"], false, "{health}");

    let started = Instant::now();
    let (status, second) = task(&app, &key, "generate", &input_for_model("generate")).await;
    let second_ms = started.elapsed().as_millis();
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["provider"], "working");
    assert!(second_ms < u128::from(TIMEOUT_MS), "the open circuit skipped the silent provider: {second_ms} ms");
    assert_eq!(seen.lock().expect("lock").len(), 2);
    eprintln!("breaker: first request {first_ms} ms (timed out, then answered), second {second_ms} ms (skipped)");
}
