use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_link_in_the_verification_mail_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("quinn@example.com", "Quinn", "Password1").await;
    plugin.log_in("quinn@example.com", "Password1").await;
    let check = plugin.call(Method::GET, "/api/user/verify/check", None).await;
    assert_eq!(check.body, json!({"message": "Verification get returned successfully.", "user_is_verified": false}));

    let link = app.mail.wait_for_link("quinn@example.com", "/api/user/verify").await;
    assert!(link.starts_with("http://c4m.test/api/user/verify/?token="), "built from PUBLIC_URL: {link}");
    let path = link.trim_start_matches("http://c4m.test");
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Email Verification Successful!"));
    let check = plugin.call(Method::GET, "/api/user/verify/check", None).await;
    assert_eq!(check.body["user_is_verified"], json!(true));

    let again = app.get(path).await;
    assert_eq!(again.status(), 401, "the token is single-use");
    assert_eq!(again.json::<serde_json::Value>().await.expect("json"), json!({"message": "Invalid or expired verification token."}));
}

#[tokio::test]
async fn resend_mails_a_new_working_link() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("rae@example.com", "Rae", "Password1").await;
    plugin.log_in("rae@example.com", "Password1").await;
    app.mail.wait_for("rae@example.com").await;
    let reply = plugin.call(Method::POST, "/api/user/verify/resend", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.message(), "Verification email sent successfully. Please check your inbox.");
    let mails = app.mail.messages_to("rae@example.com");
    assert_eq!(mails.len(), 2);
    let link = mails[1].link_containing("/api/user/verify").expect("link");
    assert_eq!(app.get(link.trim_start_matches("http://c4m.test")).await.status(), 200);
}

#[tokio::test]
async fn a_forged_verification_token_is_401() {
    let app = TestApp::spawn().await;
    for token in ["nonsense", "7d3f1a52-4a5e-4b8e-9d0f-2b9c6d1e8a77"] {
        let response = app.get(&format!("/api/user/verify?token={token}")).await;
        assert_eq!(response.status(), 401, "{token}");
    }
}
