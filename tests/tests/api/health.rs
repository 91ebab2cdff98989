use std::time::{Duration, Instant};

use code4me_tests::TestApp;
use code4me_tests::wait::wait_for;
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
