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
    let ended: bool = sqlx::query_scalar("SELECT end_time IS NOT NULL FROM session WHERE session_id = $1").bind(session_id).fetch_one(&app.db).await.expect("row");
    assert!(ended);
    let reused = app.client.get(app.url("/api/user/get")).header("cookie", format!("auth_token={}", token.expect("token"))).send().await.expect("send");
    assert_eq!(reused.status(), 401, "the revoked token is dead");
}

#[tokio::test]
async fn deactivating_without_a_session_is_401() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("wes@example.com", "Wes", "Password1").await;
    plugin.log_in("wes@example.com", "Password1").await;
    let reply = plugin.deactivate().await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.body,
        json!({"message": "Session not found! You are not authenticated or your session has expired. Login before you can perform this action."})
    );
}
