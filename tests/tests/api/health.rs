use std::time::{Duration, Instant};

use code4me_shared::connect::connect_redis;
use code4me_shared::jobs::index::{FileContents, IndexFilesRecord, IndexJob};
use code4me_shared::queue::Producer;
use code4me_shared::settings::ServerSettings;
use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use serde_json::{Value, json};

async fn health(app: &TestApp) -> (u16, Value) {
    let response = app.get("/api/health").await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("health body is JSON"))
}

/// Polls until the health endpoint reports `expected_status` (reconnects take a moment).
async fn wait_for_health(app: &TestApp, expected_status: u16) -> Value {
    wait_for(&format!("health to answer {expected_status}"), Duration::from_secs(15), async || {
        let (status, body) = health(app).await;
        (status == expected_status).then_some(body)
    })
    .await
}

#[tokio::test]
async fn health_is_ok_when_postgres_and_redis_are_reachable() {
    let app = TestApp::spawn().await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok", "checks": {"database": "ok", "redis": "ok"}}));
}

#[tokio::test]
async fn head_health_reports_the_status_without_a_body() {
    let app = TestApp::spawn().await;
    let response = app.head("/api/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn health_turns_503_when_redis_stops_and_recovers_when_it_restarts_without_a_server_restart() {
    let mut app = TestApp::spawn().await;
    wait_for_health(&app, 200).await;

    app.redis.stop();
    let started = Instant::now();
    let body = wait_for_health(&app, 503).await;
    assert_eq!(body, json!({"status": "degraded", "checks": {"database": "ok", "redis": "error"}}));
    // Bounded by HEALTH_CHECK_TIMEOUT_MS: an outage never makes the endpoint hang.
    let (_, _) = health(&app).await;
    assert!(started.elapsed() < Duration::from_secs(10), "health answered slowly during the outage");

    app.redis.restart();
    let body = wait_for_health(&app, 200).await;
    assert_eq!(body, json!({"status": "ok", "checks": {"database": "ok", "redis": "ok"}}));
}

#[tokio::test]
async fn health_reports_the_database_when_it_is_gone() {
    let app = TestApp::spawn().await;
    // Dropping the test's database while the server holds a pool is an outage of that database.
    let admin = code4me_shared::connect::lazy_pool(&code4me_tests::postgres::cluster().settings("postgres"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{}\" WITH (FORCE)", app.database.name)))
        .execute(&admin)
        .await
        .expect("drop the test database");
    let body = wait_for_health(&app, 503).await;
    assert_eq!(body, json!({"status": "degraded", "checks": {"database": "error", "redis": "ok"}}));
}

// The operators' endpoints: /api/health/live, /ready, /detailed.

/// The monitoring token the detailed-health tests configure.
const HEALTH_TOKEN: &str = "monitor-7f3a9c21-health-token";

/// `GET path` with an optional bearer token; the status and the JSON body.
async fn get_json(app: &TestApp, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Polls `/api/health/ready` until it answers `expected_status` (a worker's announcement, a Redis
/// reconnect take a moment) and returns that body.
async fn wait_for_ready(app: &TestApp, expected_status: u16) -> Value {
    wait_for(&format!("ready to answer {expected_status}"), Duration::from_secs(40), async || {
        let (status, body) = get_json(app, "/api/health/ready", None).await;
        (status == expected_status).then_some(body)
    })
    .await
}

/// A signed-in user, promoted to admin in SQL when `admin`; returns the auth token (a bearer).
async fn token_of(app: &TestApp, email: &str, admin: bool) -> String {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Health Reader", "Secret123").await.status, 201);
    if admin {
        sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = $1").bind(email).execute(&app.db).await.expect("promote");
    }
    let login = plugin.log_in(email, "Secret123").await;
    assert_eq!(login.status, 200, "{}", login.text);
    let cookie = plugin.cookie_header().expect("the login set a cookie");
    cookie.split(';').map(str::trim).find_map(|c| c.strip_prefix("auth_token=")).expect("auth_token cookie").to_owned()
}

/// Options with the health token, and the data directory pointed at an existing one.
fn with_health_token() -> Options {
    Options::default().env("HEALTH_TOKEN", HEALTH_TOKEN).env("C4M_DATA_DIR", &std::env::temp_dir().display().to_string())
}

#[tokio::test]
async fn live_answers_ok_even_while_redis_is_down() {
    let mut app = TestApp::spawn().await;
    assert_eq!(get_json(&app, "/api/health/live", None).await, (200, json!({"status": "ok"})));
    app.redis.stop();
    // Readiness sees the outage; liveness does not look, so an orchestrator never restarts a
    // healthy process over a dependency.
    wait_for_ready(&app, 503).await;
    assert_eq!(get_json(&app, "/api/health/live", None).await, (200, json!({"status": "ok"})));
    app.redis.restart();
}

#[tokio::test]
async fn ready_needs_a_worker_serving_the_default_model_and_follows_it_stopping_and_returning() {
    let app = TestApp::spawn_with(with_health_token()).await;
    let body = wait_for_ready(&app, 503).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!((&body["checks"]["postgres"], &body["checks"]["redis"]), (&json!({"status": "ok"}), &json!({"status": "ok"})));
    assert_eq!(body["checks"]["worker"]["status"], "error");
    let reason = body["checks"]["worker"]["reason"].as_str().expect("a reason");
    assert!(reason.contains("default completion model 5"), "names the model from config 1: {reason}");

    let worker = Worker::start(&app, "ready-1").await;
    let body = wait_for_ready(&app, 200).await;
    assert_eq!(body, json!({"status": "ready", "checks": {"postgres": {"status": "ok"}, "redis": {"status": "ok"}, "worker": {"status": "ok"}}}));
    // The detailed report shows the worker with its model and a fresh heartbeat.
    let (status, detailed) = get_json(&app, "/api/health/detailed", Some(HEALTH_TOKEN)).await;
    assert_eq!(status, 200);
    let workers = detailed["workers"].as_array().expect("workers");
    let listed = workers.iter().find(|w| w["worker_id"] == "ready-1").expect("the worker is listed");
    assert!(listed["models"].as_array().expect("models").contains(&json!(5)), "{listed}");
    assert!(listed["last_heartbeat"].is_string(), "{listed}");
    assert!(listed["heartbeat_age_seconds"].as_f64().expect("age") < 30.0, "{listed}");

    // A graceful stop deletes the announcement, so readiness drops at once, not after its TTL.
    worker.stop().await;
    let body = wait_for_ready(&app, 503).await;
    assert_eq!(body["checks"]["worker"]["status"], "error");

    let worker = Worker::start(&app, "ready-2").await;
    wait_for_ready(&app, 200).await;
    worker.stop().await;
}

#[tokio::test]
async fn ready_is_503_naming_redis_while_redis_is_down_and_recovers_with_it() {
    let mut app = TestApp::spawn().await;
    let worker = Worker::start(&app, "redis-outage").await;
    wait_for_ready(&app, 200).await;

    app.redis.stop();
    let body = wait_for_ready(&app, 503).await;
    assert_eq!(body["checks"]["redis"]["status"], "error", "{body}");
    assert!(body["checks"]["redis"]["reason"].is_string(), "{body}");
    assert_eq!(body["checks"]["postgres"], json!({"status": "ok"}));

    // The worker re-announces itself once Redis is back (its refresh interval is 10 s).
    app.redis.restart();
    wait_for_ready(&app, 200).await;
    worker.stop().await;
}

#[tokio::test]
async fn detailed_is_for_admins_and_the_health_token_only() {
    let app = TestApp::spawn_with(with_health_token()).await;
    let user = token_of(&app, "user@example.com", false).await;
    let admin = token_of(&app, "admin@example.com", true).await;

    assert_eq!(get_json(&app, "/api/health/detailed", None).await, (401, json!({"detail": "Authentication required"})));
    assert_eq!(get_json(&app, "/api/health/detailed", Some(&user)).await, (403, json!({"detail": "Admin privileges required"})));
    let (status, body) = get_json(&app, "/api/health/detailed", Some("monitor-7f3a9c21-health-tokeN")).await;
    assert_eq!(status, 401, "a wrong health token: {body}");
    assert!(body["detail"].is_string(), "{body}");
    assert_eq!(get_json(&app, "/api/health/detailed", Some(HEALTH_TOKEN)).await.0, 200);
    assert_eq!(get_json(&app, "/api/health/detailed", Some(&admin)).await.0, 200);
}

#[tokio::test]
async fn without_a_health_token_configured_only_admins_read_the_detailed_report() {
    let app = TestApp::spawn().await;
    assert_eq!(get_json(&app, "/api/health/detailed", Some(HEALTH_TOKEN)).await.0, 401);
    let admin = token_of(&app, "admin@example.com", true).await;
    assert_eq!(get_json(&app, "/api/health/detailed", Some(&admin)).await.0, 200);
}

#[tokio::test]
async fn detailed_reports_every_section_and_the_jobs_waiting_in_each_queue() {
    let app = TestApp::spawn_with(with_health_token()).await;
    // No worker runs, so pushed jobs stay queued.
    let settings = ServerSettings::from_env(&app.env).expect("settings");
    let redis = connect_redis(&settings.redis, Duration::from_secs(5)).await.expect("Redis");
    let producer = Producer::<IndexJob>::new(redis);
    for n in 0..3 {
        let files = [(format!("f{n}.py"), FileContents { version: 1, lines: vec!["x = 1".into()] })].into();
        producer.push(IndexJob::new(IndexFilesRecord { project_id: uuid::Uuid::new_v4(), files })).await.expect("push");
    }

    let (status, body) = get_json(&app, "/api/health/detailed", Some(HEALTH_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    for section in [
        "status",
        "problems",
        "version",
        "started_at",
        "uptime_seconds",
        "components",
        "queues",
        "workers",
        "default_completion_model",
        "database_pool",
        "disk",
    ] {
        assert!(body.get(section).is_some(), "section {section} is missing: {body}");
    }
    for component in ["postgres", "redis"] {
        assert_eq!(body["components"][component]["status"], "ok", "{body}");
        assert!(body["components"][component]["round_trip_ms"].as_f64().expect("a round trip") >= 0.0);
    }
    let queues: Vec<(String, u64, u64, u64)> = body["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .map(|q| {
            (
                q["queue"].as_str().expect("name").to_owned(),
                q["waiting"].as_u64().expect("n"),
                q["running"].as_u64().expect("n"),
                q["dead"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(queues, [("llm".to_owned(), 0, 0, 0), ("db".to_owned(), 0, 0, 0), ("index".to_owned(), 3, 0, 0)]);
    assert_eq!(body["default_completion_model"], json!({"model_id": 5, "name": "SmolLM2-135M-Instruct"}));
    // No worker: the report is degraded and says why.
    assert_eq!(body["status"], "degraded");
    let problems = body["problems"].as_array().expect("problems");
    assert!(problems.len() == 1 && problems[0].as_str().expect("text").starts_with("worker: "), "{problems:?}");
    assert_eq!(body["workers"], json!([]));
    let pool = &body["database_pool"];
    assert!(pool["size"].as_u64().expect("size") >= 1 && pool["max"] == 5, "{pool}");
    assert!(pool["idle"].as_u64().expect("idle") <= pool["size"].as_u64().expect("size"));
    assert!(body["disk"]["free_bytes"].as_u64().expect("free") > 0 && body["disk"]["total_bytes"].as_u64().expect("total") > 0, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn the_health_endpoints_are_never_rate_limited() {
    let limits = r#"{"/api/health/live": 1, "/api/health/ready": 1, "/api/health/detailed": 1, "/api/user/get": 1}"#;
    let app = TestApp::spawn_with(with_health_token().env("MAX_REQUEST_RATE_PER_HOUR_CONFIG", limits)).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/health/live").await.status(), 200);
        assert_eq!(app.get("/api/health/ready").await.status(), 503, "not ready (no worker), but never 429");
        assert_eq!(get_json(&app, "/api/health/detailed", Some(HEALTH_TOKEN)).await.0, 200);
    }
    // The same limits do apply to other paths: the exemption is what lets the probes through.
    let statuses = [app.get("/api/user/get").await.status().as_u16(), app.get("/api/user/get").await.status().as_u16()];
    assert_eq!(statuses[1], 429, "{statuses:?}");
}
