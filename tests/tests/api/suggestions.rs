//! The suggestion API (`POST /api/v1/completion`, `GET /api/v1/metrics`, `GET /health`) against
//! the real server, Redis, PostgreSQL and a worker running the real model.

use std::time::Duration;

use code4me_tests::TestApp;
use code4me_tests::plugin::Plugin;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};

/// A user with an API key; returns the key.
async fn api_key(app: &TestApp, email: &str) -> String {
    let mut plugin: Plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Suggestion User", "Secret123").await.status, 201);
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    let created = plugin.call(Method::POST, "/api/keys", Some(json!({"name": "editor"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["key"].as_str().expect("key").to_owned()
}

/// `POST /api/v1/completion` with `body`; the status and the parsed body.
async fn suggest(app: &TestApp, key: &str, body: &Value) -> (u16, Value) {
    let response = app.client.post(app.url("/api/v1/completion")).bearer_auth(key).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The design document's example: the caret inside the loop of `MathUtils.fibonacci`.
fn fibonacci(temperature: f64) -> Value {
    json!({
        "context": {
            "language": "python",
            "position": {"line": 6, "column": 12},
            "previousLines": [
                "class MathUtils:",
                "    def fibonacci(self, n):",
                "        if n <= 1:",
                "            return n",
                "        a, b = 0, 1",
                "        for _ in range(2, n + 1):"
            ],
            "currentLine": "            ",
            "nextLines": ["        return b"],
            "filePath": "math_utils.py"
        },
        "max_suggestions": 3,
        "temperature": temperature,
        "user_id": "someone-else",
        "max_tokens": 16
    })
}

/// Suggestion queries recorded in PostgreSQL (once the telemetry has landed).
async fn suggestion_queries(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM meta_query WHERE client = 'suggestion'").fetch_one(&app.db).await.expect("count")
}

/// Waits until `expected` suggestion queries are stored, then a moment more to see no extra one.
async fn settle_on(app: &TestApp, expected: i64) {
    wait_for("the suggestion telemetry", Duration::from_secs(30), async || (suggestion_queries(app).await >= expected).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(suggestion_queries(app).await, expected);
}

#[tokio::test]
async fn the_fibonacci_example_is_suggested_then_served_from_the_cache() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "suggest-1").await;
    let key = api_key(&app, "fib@example.com").await;

    let (status, first) = suggest(&app, &key, &fibonacci(0.6)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "success");
    let suggestions = first["suggestions"].as_array().expect("suggestions");
    assert!(!suggestions.is_empty() && suggestions.len() <= 3, "{first}");
    let mut previous = f64::INFINITY;
    for suggestion in suggestions {
        let text = suggestion["text"].as_str().expect("text");
        assert!(!text.is_empty() && text.trim_end() == text, "trimmed, never empty: {text:?}");
        let confidence = suggestion["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&confidence) && confidence <= previous, "ranked probabilities: {first}");
        previous = confidence;
        let kind = if text.contains('\n') { "multi-line" } else { "single-line" };
        assert_eq!(suggestion["type"], kind);
        assert_eq!(suggestion["cursorOffset"].as_u64(), Some(text.chars().count() as u64));
        let description = suggestion["description"].as_str().expect("description");
        assert!(description.contains("fibonacci"), "{description}");
    }
    let texts: Vec<&Value> = suggestions.iter().map(|s| &s["text"]).collect();
    assert!(texts.iter().enumerate().all(|(i, t)| !texts[..i].contains(t)), "deduplicated: {first}");
    let metadata = &first["metadata"];
    assert_eq!(metadata["cacheHit"], false);
    assert!(metadata["processingTimeMs"].is_u64());
    assert!(metadata["modelVersion"].as_str().is_some_and(|m| !m.is_empty()));
    let hash = metadata["contextHash"].as_str().expect("hash");
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    settle_on(&app, 1).await;

    let (status, again) = suggest(&app, &key, &fibonacci(0.6)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["metadata"]["cacheHit"], true);
    assert_eq!(again["suggestions"], first["suggestions"]);
    assert_eq!(again["metadata"]["contextHash"], metadata["contextHash"]);
    settle_on(&app, 1).await;

    // Trailing whitespace of the lines around the caret does not make a new context.
    let mut spaced = fibonacci(0.6);
    spaced["context"]["previousLines"][0] = json!("class MathUtils:   ");
    assert_eq!(suggest(&app, &key, &spaced).await.1["metadata"]["cacheHit"], true);

    let (status, warmer) = suggest(&app, &key, &fibonacci(0.9)).await;
    assert_eq!(status, 200, "{warmer}");
    assert_eq!(warmer["metadata"]["cacheHit"], false);
    assert_ne!(warmer["metadata"]["contextHash"], metadata["contextHash"], "the temperature is part of the context hash");
    settle_on(&app, 2).await;

    // Another user's identical request is never served from the first user's cache.
    let other = api_key(&app, "other@example.com").await;
    let (_, theirs) = suggest(&app, &other, &fibonacci(0.6)).await;
    assert_eq!(theirs["metadata"]["cacheHit"], false, "{theirs}");
    settle_on(&app, 3).await;

    let metrics = app.client.get(app.url("/api/v1/metrics")).bearer_auth(&key).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    assert!(text.contains("suggestion_requests_total{outcome=\"generated\"}"), "{text}");
    assert!(text.contains("suggestion_requests_total{outcome=\"cached\"}"), "{text}");
    assert!(text.contains("suggestion_cache_hits_total"), "{text}");
    assert!(text.contains("suggestion_cache_hit_ratio"), "{text}");
    assert!(text.contains("suggestion_processing_seconds_bucket"), "latency histograms: {text}");
    assert!(text.contains("suggestion_generation_seconds_bucket"), "{text}");
    assert!(!text.contains("http_requests_total"), "only the suggestion API's families: {text}");
    let anonymous = app.get("/api/v1/metrics").await;
    assert_eq!(anonymous.status(), 401);
    worker.stop().await;
}

#[tokio::test]
async fn identical_concurrent_requests_share_one_generation_even_across_servers() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "suggest-2").await;
    let key = api_key(&app, "flight@example.com").await;
    let second_server = app.start_another_server().await;
    let body = fibonacci(0.7);

    let on_second = async {
        let url = format!("{}/api/v1/completion", second_server.address);
        let response = app.client.post(url).bearer_auth(&key).json(&body).send().await.expect("request");
        (response.status().as_u16(), response.json::<Value>().await.expect("json"))
    };
    let (a, b, c) = tokio::join!(suggest(&app, &key, &body), suggest(&app, &key, &body), on_second);
    for (status, reply) in [&a, &b, &c] {
        assert_eq!(*status, 200, "{reply}");
        assert_eq!(reply["suggestions"], a.1["suggestions"], "all three got the one generation's answer");
    }
    let generated = [&a, &b, &c].iter().filter(|(_, reply)| reply["metadata"]["cacheHit"] == false).count();
    assert_eq!(generated, 1, "{a:?} {b:?} {c:?}");
    settle_on(&app, 1).await;
    second_server.stop().await;
    worker.stop().await;
}

#[tokio::test]
async fn the_analysis_of_a_javascript_file_reaches_the_description() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "suggest-3").await;
    let key = api_key(&app, "js@example.com").await;
    let body = json!({
        "context": {
            "language": "JavaScript",
            "position": {"line": 3, "column": 4},
            "previousLines": ["class Cart {", "  total(items) {", "    let sum = 0;"],
            "currentLine": "    ",
            "nextLines": ["  }", "}"]
        },
        "max_suggestions": 1,
        "max_tokens": 8
    });
    let (status, reply) = suggest(&app, &key, &body).await;
    assert_eq!(status, 200, "{reply}");
    for suggestion in reply["suggestions"].as_array().expect("suggestions") {
        let description = suggestion["description"].as_str().expect("description");
        assert!(description.contains("total") && description.contains("Cart"), "{description}");
    }
    assert_eq!(reply["metadata"]["cacheHit"], false);
    worker.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_in_the_dialect_and_never_with_a_5xx() {
    let app = TestApp::spawn().await;
    let key = api_key(&app, "attacker@example.com").await;
    let with = |path: &str, value: Value| {
        let mut body = fibonacci(0.6);
        let mut target = &mut body;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = &mut target[*part];
        }
        target[parts[parts.len() - 1]] = value;
        body
    };
    let huge: Vec<String> = (0..2_001).map(|i| format!("x = {i}")).collect();
    let mut nested = json!(1);
    for _ in 0..200 {
        nested = json!([nested]);
    }
    let cases: Vec<(Value, &str)> = vec![
        (with("max_suggestions", json!(0)), "max_suggestions"),
        (with("max_suggestions", json!(6)), "max_suggestions"),
        (with("max_suggestions", json!(-1)), "max_suggestions"),
        (with("max_suggestions", json!(1e9)), "max_suggestions"),
        (with("max_suggestions", json!(1_000_000_000)), "max_suggestions"),
        (with("temperature", json!(3)), "temperature"),
        (with("temperature", json!("hot")), "temperature"),
        (with("max_tokens", json!(100_000)), "max_tokens"),
        (with("context.position.line", json!(-1)), "context.position.line"),
        (with("context.position.column", json!("x")), "context.position.column"),
        (with("context.previousLines", json!(huge)), "context.previousLines"),
        (with("context.previousLines", json!("not a list")), "context.previousLines"),
        (with("context.currentLine", json!("a\u{0}b")), "context.currentLine"),
        (with("context.language", json!(nested)), ""),
        (with("context.language", json!(null)), "context.language"),
        (json!({"max_suggestions": 3}), "context"),
        (json!([1, 2, 3]), ""),
        (json!("context"), ""),
        (with("model", json!("no-such-model")), "model"),
    ];
    for (body, field) in cases {
        let (status, reply) = suggest(&app, &key, &body).await;
        assert!((400..500).contains(&status), "{status} for {field}: {reply}");
        assert_eq!(reply["status"], "error", "{reply}");
        let message = reply["error"]["message"].as_str().expect("message");
        assert!(reply["error"]["code"].is_string(), "{reply}");
        assert!(message.contains(field), "names {field}: {message}");
    }

    let raw = |body: &'static str, content_type: &'static str| {
        app.client.post(app.url("/api/v1/completion")).bearer_auth(&key).header("content-type", content_type).body(body).send()
    };
    for (body, content_type) in [("{not json", "application/json"), ("{}", "text/plain"), ("", "application/json")] {
        let response = raw(body, content_type).await.expect("request");
        let status = response.status().as_u16();
        let reply: Value = response.json().await.expect("json");
        assert!((400..500).contains(&status) && reply["status"] == "error", "{status}: {reply}");
    }

    for bad_key in ["c4m_notarealkey0000000000000000000000", "nonsense"] {
        let (status, reply) = suggest(&app, bad_key, &fibonacci(0.6)).await;
        assert_eq!(status, 401, "{reply}");
        assert_eq!(reply["status"], "error");
    }
    let anonymous = app.client.post(app.url("/api/v1/completion")).json(&fibonacci(0.6)).send().await.expect("request");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn health_names_the_served_models_and_the_cache() {
    let app = TestApp::spawn().await;
    let idle = app.get("/health").await;
    assert_eq!(idle.status(), 200);
    let idle: Value = idle.json().await.expect("json");
    assert_eq!(idle, json!({"status": "degraded", "models": [], "cache": "ok"}), "no worker, no model");

    let worker = Worker::start(&app, "suggest-health").await;
    let served = wait_for("the worker's models in /health", Duration::from_secs(30), async || {
        let body: Value = app.get("/health").await.json().await.ok()?;
        (body["status"] == "ok").then_some(body)
    })
    .await;
    assert_eq!(served["cache"], "ok");
    assert!(served["models"].as_array().is_some_and(|m| !m.is_empty()), "{served}");
    worker.stop().await;
}
