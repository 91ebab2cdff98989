use code4me_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn get_user_needs_a_live_auth_token() {
    let app = TestApp::spawn().await;
    let expected = json!({"message": "Authentication token not found! You are not authenticated or your token has expired. Login before you can perform this action."});
    let no_cookie = app.get("/api/user/get").await;
    assert_eq!(no_cookie.status(), 401);
    assert_eq!(no_cookie.json::<serde_json::Value>().await.expect("json"), expected);
    for cookie in ["auth_token=not-a-uuid", "auth_token=6f1c1a3e-0000-4000-8000-000000000000", "auth_token="] {
        let response = app.client.get(app.url("/api/user/get")).header("cookie", cookie).send().await.expect("send");
        assert_eq!(response.status(), 401, "{cookie}");
        assert_eq!(response.json::<serde_json::Value>().await.expect("json"), expected);
    }
}

#[tokio::test]
async fn get_user_returns_the_account_and_its_config() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("ida@example.com", "Ida", "Password1").await;
    plugin.log_in("ida@example.com", "Password1").await;
    let reply = plugin.get_user().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.message(), "User information retrieved successfully.");
    assert_eq!(reply.body["user"]["name"], "Ida");
    assert_eq!(reply.body["user"]["auth_token"], serde_json::Value::Null);
    assert!(reply.body["config"].as_str().expect("config").starts_with("config {"));
}

/// The name `GET /api/user/get` shows through `plugin` (whose base address picks the server).
async fn shown_name(plugin: &mut code4me_tests::plugin::Plugin) -> String {
    let reply = plugin.get_user().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["user"]["name"].as_str().expect("a name").to_owned()
}

#[tokio::test]
async fn the_cached_account_view_shows_every_change_at_once_on_this_server_and_soon_on_another() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("cache@example.com", "Before", "Password1").await;
    plugin.log_in("cache@example.com", "Password1").await;
    let other = app.start_another_server().await;
    let mut elsewhere = code4me_tests::plugin::Plugin::new(app.client.clone(), &other.address);
    elsewhere.auth_token = plugin.auth_token.clone();
    // Both servers have the view cached.
    for _ in 0..3 {
        assert_eq!(shown_name(&mut plugin).await, "Before");
        assert_eq!(shown_name(&mut elsewhere).await, "Before");
    }
    // A change through this server is read back at once, every time.
    for round in 0..10 {
        let name = format!("Name {round}");
        let updated = plugin.call(reqwest::Method::PUT, "/api/user/update", Some(json!({"name": name}))).await;
        assert_eq!(updated.status, 201, "{}", updated.text);
        assert_eq!(shown_name(&mut plugin).await, name, "read your own write");
    }
    // The other server hears of it from PostgreSQL: within moments, not at its cache's expiry.
    code4me_tests::wait::wait_until("the other server shows the new name", std::time::Duration::from_secs(3), async || {
        shown_name(&mut elsewhere).await == "Name 9"
    })
    .await;
    // So are changes nobody announced but PostgreSQL: an operator's UPDATE, a study moving users.
    sqlx::query("UPDATE \"user\" SET name = 'Operator' WHERE email = 'cache@example.com'").execute(&app.db).await.expect("update");
    sqlx::query("UPDATE config SET config_data = config_data || E'\\n# edited' WHERE config_id = 1").execute(&app.db).await.expect("update");
    for client in [&mut plugin, &mut elsewhere] {
        code4me_tests::wait::wait_until("both servers show the operator's change", std::time::Duration::from_secs(3), async || {
            let reply = client.get_user().await;
            reply.body["user"]["name"] == "Operator" && reply.body["config"].as_str().is_some_and(|c| c.ends_with("# edited"))
        })
        .await;
    }
}

#[tokio::test]
async fn a_change_made_while_the_server_cannot_hear_postgresql_is_not_hidden_by_the_cache() {
    use code4me_tests::tcp_proxy::TcpProxy;
    let database = code4me_tests::postgres::cluster().fresh_database().await;
    let direct = code4me_shared::connect::lazy_pool(&database);
    let relay = TcpProxy::start(database.port).await;
    let mut relayed = database.clone();
    relayed.port = relay.port;
    let app = TestApp::spawn_on(relayed).await;
    let mut plugin = app.plugin();
    plugin.sign_up("outage@example.com", "Before", "Password1").await;
    plugin.log_in("outage@example.com", "Password1").await;
    assert_eq!(shown_name(&mut plugin).await, "Before");
    assert_eq!(shown_name(&mut plugin).await, "Before");
    // The server loses PostgreSQL (its listener too); the row changes meanwhile: that
    // announcement never reaches it.
    relay.cut();
    sqlx::query("UPDATE \"user\" SET name = 'Changed unheard' WHERE email = 'outage@example.com'").execute(&direct).await.expect("update");
    let during = plugin.get_user().await;
    assert!(during.status == 200 || during.status >= 500, "{}", during.text);
    relay.restore();
    code4me_tests::wait::wait_until("the server reads the account again", std::time::Duration::from_secs(10), async || {
        plugin.get_user().await.status == 200
    })
    .await;
    assert_eq!(shown_name(&mut plugin).await, "Changed unheard");
}
