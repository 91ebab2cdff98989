use code4me_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn deactivating_ends_the_session_revokes_the_token_and_clears_the_cookies() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("vic@example.com", "Password1").await;
    let session_id = uuid::Uuid::parse_str(plugin.session_token.as_deref().expect("session")).expect("uuid");
    let token = plugin.auth_token.clone();
    let reply = plugin.deactivate().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({"message": "Session deactivated successfully."}));
    assert_eq!(plugin.auth_token, None, "auth cookie cleared");
    assert_eq!(plugin.session_token, None, "session cookie cleared");
    let ended: bool =
        sqlx::query_scalar("SELECT end_time IS NOT NULL FROM session WHERE session_id = $1").bind(session_id).fetch_one(&app.db).await.expect("row");
    assert!(ended);
    let reused =
        app.client.get(app.url("/api/user/get")).header("cookie", format!("auth_token={}", token.expect("token"))).send().await.expect("send");
    assert_eq!(reused.status(), 401, "the revoked token is dead");
}

#[tokio::test]
async fn logging_out_without_a_session_still_revokes_the_token_and_clears_the_cookies() {
    // The website signs in without acquiring a session; upstream's 401 here left it signed in.
    let app = TestApp::spawn().await;
    let mut website = app.plugin();
    website.sign_up("wes@example.com", "Wes", "Password1").await;
    website.log_in("wes@example.com", "Password1").await;
    let token = website.auth_token.clone().expect("signed in");
    let reply = website.deactivate().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({"message": "Session deactivated successfully."}));
    assert_eq!(website.auth_token, None, "auth cookie cleared");
    assert!(reply.set_cookies.iter().any(|c| c.starts_with("session_token=;")), "session cookie cleared: {:?}", reply.set_cookies);
    let reused = app.client.get(app.url("/api/user/get")).header("cookie", format!("auth_token={token}")).send().await.expect("send");
    assert_eq!(reused.status(), 401, "the revoked token is dead");
}

#[tokio::test]
async fn logging_out_without_a_valid_auth_token_is_still_401() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.plugin();
    let reply = anonymous.deactivate().await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(reply.body["message"].as_str().expect("message").starts_with("Authentication token not found!"), "{}", reply.text);
    let mut stale = app.plugin();
    stale.sign_up("sam@example.com", "Sam", "Password1").await;
    stale.log_in("sam@example.com", "Password1").await;
    assert_eq!(stale.deactivate().await.status, 200);
    stale.auth_token = Some(uuid::Uuid::new_v4().to_string());
    assert_eq!(stale.deactivate().await.status, 401, "a token that is not (or no longer) live");
}
