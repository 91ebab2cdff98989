//! The expiry cascade (wire contract §5) with short lifetimes.

use std::time::Duration;

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::wait::wait_until;
use redis::AsyncCommands;
use uuid::Uuid;

fn short_sessions() -> Options {
    Options::default().env("SESSION_TOKEN_EXPIRES_IN_SECONDS", "3").env("TOKEN_HOOK_ACTIVATION_IN_SECONDS", "1")
}

async fn redis(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    client.get_multiplexed_async_connection().await.expect("connect")
}

/// Puts a multi-file context into the live project, as the context endpoint will.
async fn give_project_context(app: &TestApp, project: &str) {
    let mut conn = redis(app).await;
    let key = format!("project_token:{project}");
    let raw: String = conn.get(&key).await.expect("project in Redis");
    let mut value: serde_json::Value = serde_json::from_str(&raw).expect("json");
    value["multi_file_contexts"] = serde_json::json!({"util.py": ["def helper():", "    return 42"]});
    let _: () = redis::cmd("SET").arg(&key).arg(value.to_string()).arg("KEEPTTL").query_async(&mut conn).await.expect("set");
}

/// The longest a cascade may take: the 3 s session lifetime plus the hook, the notification or
/// the 1 s sweep, and the writes.
const CASCADE: Duration = Duration::from_secs(15);

async fn check_cascade(app: &TestApp, session: Uuid, project: &str) {
    wait_until("the session's database row is closed", CASCADE, async || {
        sqlx::query_scalar::<_, bool>("SELECT end_time IS NOT NULL FROM session WHERE session_id = $1")
            .bind(session)
            .fetch_one(&app.db)
            .await
            .expect("row")
    })
    .await;
    wait_until("the project leaves Redis", CASCADE, async || {
        !redis(app).await.exists::<_, bool>(format!("project_token:{project}")).await.expect("exists")
    })
    .await;
    let stored: String = sqlx::query_scalar("SELECT multi_file_contexts FROM project WHERE project_id = $1")
        .bind(Uuid::parse_str(project).expect("uuid"))
        .fetch_one(&app.db)
        .await
        .expect("project");
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(stored, serde_json::json!({"util.py": ["def helper():", "    return 42"]}), "context persisted: every member stores context");
}

#[tokio::test]
async fn an_expiring_session_closes_its_row_releases_its_project_and_persists_its_context() {
    let app = TestApp::spawn_with(short_sessions()).await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("exp@example.com", "Password1").await;
    plugin.update_preferences(true).await;
    give_project_context(&app, &project).await;
    let session = Uuid::parse_str(plugin.session_token.as_deref().expect("session")).expect("uuid");
    check_cascade(&app, session, &project).await;
    let again = plugin.create_project("after expiry").await;
    assert_eq!(again.status, 401, "the expired session is gone");
}

#[tokio::test]
async fn without_keyspace_notifications_the_sweep_does_the_same_cleanup() {
    let mut options = short_sessions().env("EXPIRY_SWEEP_SECONDS", "1");
    options.without_keyspace_notifications = true;
    let app = TestApp::spawn_with(options).await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("sweep@example.com", "Password1").await;
    plugin.update_preferences(true).await;
    give_project_context(&app, &project).await;
    let session = Uuid::parse_str(plugin.session_token.as_deref().expect("session")).expect("uuid");
    check_cascade(&app, session, &project).await;
}

#[tokio::test]
async fn a_projects_context_is_not_persisted_unless_every_member_stores_context() {
    let app = TestApp::spawn_with(short_sessions()).await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("private@example.com", "Password1").await;
    give_project_context(&app, &project).await;
    wait_until("the project leaves Redis", CASCADE, async || {
        !redis(&app).await.exists::<_, bool>(format!("project_token:{project}")).await.expect("exists")
    })
    .await;
    let stored: String = sqlx::query_scalar("SELECT multi_file_contexts FROM project WHERE project_id = $1")
        .bind(Uuid::parse_str(&project).expect("uuid"))
        .fetch_one(&app.db)
        .await
        .expect("project");
    assert_eq!(stored, "{}", "store_context is off by default, so nothing was kept");
}

#[tokio::test]
async fn a_session_in_use_keeps_sliding_past_its_lifetime() {
    let app = TestApp::spawn_with(Options::default().env("SESSION_TOKEN_EXPIRES_IN_SECONDS", "4").env("TOKEN_HOOK_ACTIVATION_IN_SECONDS", "1")).await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("busy@example.com", "Password1").await;
    let session = plugin.session_token.clone();
    for _ in 0..5 {
        // Time passing is the behaviour under test: each use comes after the previous lifetime's midpoint.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let reply = plugin.acquire_session().await;
        assert_eq!(reply.body["session_token"].as_str(), session.as_deref(), "same session after {:?}", reply.body);
    }
}
