use code4me_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn logging_in_returns_the_user_the_config_and_an_auth_cookie() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("eve@example.com", "Eve", "Password1").await;
    let reply = plugin.log_in("EVE@example.com", "Password1").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.message(), "User authenticated successfully via email and password.");
    let user = &reply.body["user"];
    assert_eq!(user["password"], "**********");
    assert_eq!(user["email"], "eve@example.com");
    assert_eq!(user["auth_token"].as_str(), plugin.auth_token.as_deref(), "the token in the body is the cookie's");
    assert_eq!(user["preference"], json!({"store_context": false, "store_contextual_telemetry": true, "store_behavioral_telemetry": true}));
    assert!(reply.body["config"].as_str().expect("HOCON").contains("languages {"));
    let cookie = reply.set_cookies.iter().find(|c| c.starts_with("auth_token=")).expect("auth cookie");
    for attribute in ["HttpOnly", "Path=/", "SameSite=Lax", "Expires="] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "Secure only when COOKIE_SECURE is set");
    insta::assert_json_snapshot!("authenticate_success", reply.body, {
        ".user.user_id" => "[uuid]", ".user.auth_token" => "[uuid]", ".user.joined_at" => "[time]", ".config" => "[hocon]"
    });
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_get_the_same_401() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("frank@example.com", "Frank", "Password1").await;
    let wrong = plugin.log_in("frank@example.com", "Password2").await;
    let unknown = plugin.log_in("nobody@example.com", "Password1").await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.body, json!({"message": "Invalid email or password!"}));
        assert!(reply.set_cookies.is_empty());
    }
}

#[tokio::test]
async fn every_login_issues_a_new_token_and_the_old_ones_keep_working() {
    let app = TestApp::spawn().await;
    let mut first = app.plugin();
    first.sign_up("gina@example.com", "Gina", "Password1").await;
    first.log_in("gina@example.com", "Password1").await;
    let mut second = app.plugin();
    second.log_in("gina@example.com", "Password1").await;
    assert_ne!(first.auth_token, second.auth_token);
    assert_eq!(first.get_user().await.status, 200);
    assert_eq!(second.get_user().await.status, 200);
}

#[tokio::test]
async fn the_auth_token_also_works_as_a_bearer_token() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("hal@example.com", "Hal", "Password1").await;
    plugin.log_in("hal@example.com", "Password1").await;
    let token = plugin.auth_token.clone().expect("token");
    let response = app.client.get(app.url("/api/user/get")).bearer_auth(&token).send().await.expect("send");
    assert_eq!(response.status(), 200);
}
