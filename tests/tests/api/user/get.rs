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
