//! API keys, tiers, quotas and usage metering (`/api/keys`, `/api/usage`,
//! `/api/admin/users/{id}/tier`) against the real server, Redis, PostgreSQL and worker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::plugin::Plugin;
use code4me_tests::tcp_proxy::TcpProxy;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};

/// A signed-in user (cookie jar), as the website is.
async fn user(app: &TestApp, email: &str) -> Plugin {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Key User", "Secret123").await.status, 201);
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    plugin
}

/// Creates a key through the signed-in session; returns the 201 body.
async fn new_key(plugin: &mut Plugin, body: Value) -> Value {
    let created = plugin.call(Method::POST, "/api/keys", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.body
}

/// A request with `Authorization: Bearer <key>`.
async fn with_key(app: &TestApp, method: Method, path: &str, key: &str) -> reqwest::Response {
    app.client.request(method, app.url(path)).bearer_auth(key).send().await.expect("request")
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    let value = response.headers().get(name).unwrap_or_else(|| panic!("{name} missing"));
    value.to_str().expect("ascii").parse().expect("a number")
}

fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

#[tokio::test]
async fn a_key_works_until_it_is_revoked_and_is_shown_only_once() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "keys").await;
    let mut owner = user(&app, "owner@example.com").await;
    let created = new_key(&mut owner, json!({"name": "ci script", "expires_in_days": 30})).await;
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("c4m_") && key.len() >= 36 && key[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    assert!(key.starts_with(created["prefix"].as_str().expect("prefix")));
    assert!(created["expires_at"].is_string());

    let used = with_key(&app, Method::GET, "/api/usage", &key).await;
    assert_eq!(used.status(), 200);
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM api_key").fetch_one(&app.db).await.expect("row");
    assert_eq!(stored.len(), 32, "a SHA-256, never the key");

    // The list never shows the key, and shows its last use once the usage row has landed (the
    // server queues usage in batches, the worker writes them).
    let listed = wait_for("the key's last use to be recorded", Duration::from_secs(60), async || {
        let listed = owner.call(Method::GET, "/api/keys", None).await;
        listed.body["keys"][0]["last_used_at"].is_string().then_some(listed)
    })
    .await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text.contains(&key), "the key is never shown again: {}", listed.text);
    let keys = listed.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "ci script");
    assert!(keys[0]["last_used_at"].is_string(), "last use recorded: {}", listed.text);

    let id = created["id"].as_str().expect("id");
    let revoked = owner.call(Method::DELETE, &format!("/api/keys/{id}"), None).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let refused = with_key(&app, Method::GET, "/api/usage", &key).await;
    assert_eq!(refused.status(), 401, "revoked at once, though the key was cached");
    assert_eq!(owner.call(Method::DELETE, &format!("/api/keys/{id}"), None).await.status, 404, "already revoked");
    assert_eq!(owner.call(Method::GET, "/api/keys", None).await.body["keys"], json!([]));
    worker.stop().await;
}

#[tokio::test]
async fn another_users_keys_and_projects_are_not_found_and_bad_keys_are_refused() {
    let app = TestApp::spawn().await;
    let (mut alice, alice_project) = app.signed_in("alice@example.com").await;
    let mut mallory = user(&app, "mallory@example.com").await;
    let created = new_key(&mut alice, json!({"name": "bound", "project_id": alice_project})).await;
    assert_eq!(created["project_id"], json!(alice_project));
    let id = created["id"].as_str().expect("id");

    assert_eq!(mallory.call(Method::DELETE, &format!("/api/keys/{id}"), None).await.status, 404, "another user's key id");
    let stolen_project = mallory.call(Method::POST, "/api/keys", Some(json!({"name": "x", "project_id": alice_project}))).await;
    assert_eq!(stolen_project.status, 404, "another user's project: {}", stolen_project.text);
    assert_eq!(mallory.call(Method::GET, "/api/keys", None).await.body["keys"], json!([]), "nobody sees another's keys");
    assert_eq!(mallory.call(Method::DELETE, "/api/keys/not-a-uuid", None).await.status, 404);

    for bad in
        [json!({"name": ""}), json!({"name": "x", "expires_in_days": 0}), json!({"name": "x", "expires_in_days": 1e300}), json!({"name": "a\u{0}b"})]
    {
        assert_eq!(alice.call(Method::POST, "/api/keys", Some(bad.clone())).await.status, 422, "{bad}");
    }
    let made_up = format!("c4m_{}", "A".repeat(40));
    for key in [made_up.as_str(), "c4m_short", "c4m_\u{7f}"] {
        if let Ok(response) = app.client.get(app.url("/api/usage")).bearer_auth(key).send().await {
            assert_eq!(response.status(), 401, "{key:?}");
        }
    }
    assert_eq!(app.client.get(app.url("/api/keys")).send().await.expect("request").status(), 401, "anonymous");
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = TestApp::spawn().await;
    let mut owner = user(&app, "expiring@example.com").await;
    let created = new_key(&mut owner, json!({"name": "short-lived", "expires_in_days": 1})).await;
    sqlx::query("UPDATE api_key SET expires_at = now() - interval '1 second'").execute(&app.db).await.expect("age the key");
    let response = with_key(&app, Method::GET, "/api/usage", created["key"].as_str().expect("key")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(owner.call(Method::GET, "/api/keys", None).await.body["keys"], json!([]), "expired keys leave the list");
}

#[tokio::test]
async fn a_key_never_opens_the_account_endpoints() {
    let app = TestApp::spawn().await;
    let mut owner = user(&app, "account@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    let password_change = app
        .client
        .put(app.url("/api/user/update"))
        .bearer_auth(&key)
        .json(&json!({"previous_password": "Secret123", "password": "Hijacked123"}))
        .send()
        .await
        .expect("request");
    assert_eq!(password_change.status(), 403);
    let key_creation = app.client.post(app.url("/api/keys")).bearer_auth(&key).json(&json!({"name": "more"})).send().await.expect("request");
    assert_eq!(key_creation.status(), 403);
    for (method, path) in [(Method::GET, "/api/keys"), (Method::DELETE, "/api/user/delete"), (Method::GET, "/api/session/acquire")] {
        assert_eq!(with_key(&app, method.clone(), path, &key).await.status(), 403, "{method} {path}");
    }
    // The password still works, the account still exists.
    assert_eq!(owner.log_in("account@example.com", "Secret123").await.status, 200);
}

#[tokio::test]
async fn the_hourly_quota_counts_down_and_refuses_with_retry_after() {
    let app = TestApp::spawn_with(Options::default().env("TIER_FREE_REQUESTS_PER_HOUR", "3")).await;
    let mut owner = user(&app, "hourly@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    for remaining in [2, 1, 0] {
        let response = with_key(&app, Method::GET, "/api/usage", &key).await;
        assert_eq!(response.status(), 200);
        assert_eq!((header(&response, "x-ratelimit-limit"), header(&response, "x-ratelimit-remaining")), (3, remaining));
        let hour_end = (now_seconds() / 3600 + 1) * 3600;
        assert!(header(&response, "x-ratelimit-reset").abs_diff(hour_end) <= 1);
    }
    let refused = with_key(&app, Method::GET, "/api/usage", &key).await;
    assert_eq!(refused.status(), 429);
    let expected_wait = 3600 - now_seconds() % 3600;
    assert!(header(&refused, "retry-after").abs_diff(expected_wait) <= 2, "Retry-After until the next hour");
    let body: Value = refused.json().await.expect("json");
    assert!(body["detail"].as_str().expect("detail").contains("hourly limit of 3 requests"), "{body}");
    // A signed-in user is not metered: the website keeps working.
    assert_eq!(owner.call(Method::GET, "/api/usage", None).await.status, 200);
}

#[tokio::test]
async fn the_daily_quota_trips_too_and_an_admin_can_raise_the_tier() {
    let app = TestApp::spawn_with(
        Options::default().env("TIER_FREE_REQUESTS_PER_DAY", "2").env("TIER_PRO_REQUESTS_PER_DAY", "4").env("TIER_FREE_REQUESTS_PER_HOUR", "100"),
    )
    .await;
    let mut owner = user(&app, "daily@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    for _ in 0..2 {
        assert_eq!(with_key(&app, Method::GET, "/api/usage", &key).await.status(), 200);
    }
    let refused = with_key(&app, Method::GET, "/api/usage", &key).await;
    assert_eq!(refused.status(), 429);
    let until_midnight = 86_400 - now_seconds() % 86_400;
    assert!(header(&refused, "retry-after").abs_diff(until_midnight) <= 2);
    assert!(refused.json::<Value>().await.expect("json")["detail"].as_str().expect("detail").contains("daily limit of 2 requests"));

    let mut admin = user(&app, "tier-admin@example.com").await;
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = 'tier-admin@example.com'").execute(&app.db).await.expect("promote");
    let user_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'daily@example.com'").fetch_one(&app.db).await.expect("id");
    assert_eq!(owner.call(Method::PUT, &format!("/api/admin/users/{user_id}/tier"), Some(json!({"tier": "pro"}))).await.status, 403);
    assert_eq!(admin.call(Method::PUT, &format!("/api/admin/users/{user_id}/tier"), Some(json!({"tier": "gold"}))).await.status, 422);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(admin.call(Method::PUT, &format!("/api/admin/users/{unknown}/tier"), Some(json!({"tier": "pro"}))).await.status, 404);
    let raised = admin.call(Method::PUT, &format!("/api/admin/users/{user_id}/tier"), Some(json!({"tier": "pro"}))).await;
    assert_eq!((raised.status, raised.body["tier"].as_str()), (200, Some("pro")), "{}", raised.text);
    let after = with_key(&app, Method::GET, "/api/usage", &key).await;
    assert_eq!(after.status(), 200, "the pro tier's budget applies at the next request");
    assert_eq!((header(&after, "x-ratelimit-limit"), header(&after, "x-ratelimit-remaining")), (4, 1));
}

#[tokio::test]
async fn two_servers_share_one_budget_and_fifty_concurrent_requests_let_exactly_ten_through() {
    let app = TestApp::spawn_with(Options::default().env("TIER_FREE_REQUESTS_PER_HOUR", "10")).await;
    let other = app.start_another_server().await;
    let mut owner = user(&app, "racer@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    let requests = (0..50).map(|i| {
        let base = if i % 2 == 0 { app.address.clone() } else { other.address.clone() };
        let (client, key) = (app.client.clone(), key.clone());
        async move { client.get(format!("{base}/api/usage")).bearer_auth(key).send().await.expect("request").status().as_u16() }
    });
    let statuses = futures::future::join_all(requests).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((admitted, refused), (10, 40), "{statuses:?}");
    other.stop().await;
}

#[tokio::test]
async fn usage_totals_equal_the_requests_made_through_a_30_s_postgres_outage() {
    let app = TestApp::spawn().await;
    let relay = TcpProxy::start(app.database.port).await;
    let worker = Worker::start_with(&app, "usage-outage", &[("DB_PORT", relay.port.to_string())]).await;
    let mut owner = user(&app, "metered@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    assert_eq!(with_key(&app, Method::GET, "/api/usage?period=week", &key).await.status(), 200);

    relay.cut();
    let outage = std::time::Instant::now();
    for path in ["/api/usage", "/api/usage?period=month", "/api/usage?period=decade", "/api/analytics/usage/acceptance-rates"] {
        with_key(&app, Method::GET, path, &key).await;
    }
    // The outage lasting 30 s is the behaviour under test: the worker must hold the rows that long.
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed())).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM api_usage").fetch_one(&app.db).await.expect("count");
    assert!(stored <= 1, "nothing was written during the outage ({stored})");
    relay.restore();
    app.drain_queues().await;

    let report = owner.call(Method::GET, "/api/usage?period=week", None).await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["totals"]["requests"], 5, "every metered request: {}", report.text);
    assert_eq!(report.body["totals"]["errors"], 1, "the 422 of the unknown period: {}", report.text);
    let series = report.body["series"].as_array().expect("series");
    let per_endpoint = |endpoint: &str| series.iter().filter(|d| d["endpoint"] == endpoint).map(|d| d["requests"].as_u64().unwrap_or(0)).sum::<u64>();
    assert_eq!((per_endpoint("/api/usage"), per_endpoint("/api/analytics/usage/acceptance-rates")), (4, 1));
    assert_eq!(report.body["quota"]["requests_per_hour"]["used"], 5);
    assert_eq!(report.body["quota"]["tier"], "free");
    worker.stop().await;
}

#[tokio::test]
async fn only_admins_read_another_users_usage() {
    let app = TestApp::spawn().await;
    let mut alice = user(&app, "usage-alice@example.com").await;
    let mut bob = user(&app, "usage-bob@example.com").await;
    let alice_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'usage-alice@example.com'").fetch_one(&app.db).await.expect("id");
    assert_eq!(bob.call(Method::GET, &format!("/api/usage?user_id={alice_id}"), None).await.status, 403);
    assert_eq!(alice.call(Method::GET, &format!("/api/usage?user_id={alice_id}"), None).await.status, 200, "oneself is fine");
    assert_eq!(alice.call(Method::GET, "/api/usage?user_id=nope", None).await.status, 422);
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = 'usage-bob@example.com'").execute(&app.db).await.expect("promote");
    let read = bob.call(Method::GET, &format!("/api/usage?user_id={alice_id}"), None).await;
    assert_eq!((read.status, read.body["user_id"].as_str()), (200, Some(alice_id.to_string().as_str())));
}

#[tokio::test]
async fn once_the_days_generated_tokens_are_spent_the_next_request_is_refused() {
    let app = TestApp::spawn_with(Options::default().env("TIER_FREE_TOKENS_PER_DAY", "100")).await;
    let mut owner = user(&app, "tokens@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k"})).await["key"].as_str().expect("key").to_owned();
    let user_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'tokens@example.com'").fetch_one(&app.db).await.expect("id");
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let mut redis = redis::aio::ConnectionManager::new(client).await.expect("connect");

    // What a generation endpoint charges after answering: 60, then 40 more tokens.
    code4me_server::services::quotas::charge_tokens(&mut redis, user_id, 60).await.expect("charge");
    let quota: Value = with_key(&app, Method::GET, "/api/usage/quota", &key).await.json().await.expect("json");
    assert_eq!((quota["tokens_per_day"]["used"].as_u64(), quota["tokens_per_day"]["remaining"].as_u64()), (Some(60), Some(40)), "{quota}");
    code4me_server::services::quotas::charge_tokens(&mut redis, user_id, 40).await.expect("charge");
    let refused = with_key(&app, Method::GET, "/api/usage/quota", &key).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), 0);
    let detail = refused.json::<Value>().await.expect("json")["detail"].as_str().expect("detail").to_owned();
    assert!(detail.contains("daily limit of 100 generated tokens"), "{detail}");
}

#[tokio::test]
async fn the_admin_cli_sets_a_tier_by_e_mail() {
    let app = TestApp::spawn().await;
    user(&app, "cli-tier@example.com").await;
    code4me_server::services::admin::set_tier_by_email(&app.db, "CLI-Tier@example.com", "enterprise").await.expect("set");
    let tier: String = sqlx::query_scalar("SELECT tier FROM \"user\" WHERE email = 'cli-tier@example.com'").fetch_one(&app.db).await.expect("tier");
    assert_eq!(tier, "enterprise");
    assert!(code4me_server::services::admin::set_tier_by_email(&app.db, "cli-tier@example.com", "platinum").await.is_err());
    assert!(code4me_server::services::admin::set_tier_by_email(&app.db, "nobody@example.com", "pro").await.is_err());
}

#[tokio::test]
async fn a_cached_key_is_refused_once_its_expiry_passes() {
    let app = TestApp::spawn().await;
    let mut owner = user(&app, "cached-expiry@example.com").await;
    let key = new_key(&mut owner, json!({"name": "k", "expires_in_days": 1})).await["key"].as_str().expect("key").to_owned();
    assert_eq!(with_key(&app, Method::GET, "/api/usage/quota", &key).await.status(), 200, "now cached");
    let mut redis = app.redis_connection().await;
    let entries: Vec<String> = redis::cmd("KEYS").arg("api_key:*").query_async(&mut redis).await.expect("keys");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let cached: String = redis::cmd("GET").arg(&entries[0]).query_async(&mut redis).await.expect("entry");
    let mut value: Value = serde_json::from_str(&cached).expect("json");
    assert!(value["expires_at"].as_i64().is_some_and(|at| at > now_seconds() as i64), "{value}");
    // The day passes while the entry is still cached.
    value["expires_at"] = json!(now_seconds() as i64 - 1);
    let _: () = redis::cmd("SET").arg(&entries[0]).arg(value.to_string()).arg("KEEPTTL").query_async(&mut redis).await.expect("set");
    assert_eq!(with_key(&app, Method::GET, "/api/usage/quota", &key).await.status(), 401);
}
