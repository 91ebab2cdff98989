use code4me_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_password_reset_by_mail_link_changes_the_password_and_signs_everyone_out() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("sam@example.com", "Sam", "Password1").await;
    plugin.log_in("sam@example.com", "Password1").await;

    let reply = app.client.post(app.url("/api/user/reset-password/request?email=Sam@example.com")).send().await.expect("send");
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<serde_json::Value>().await.expect("json"),
        json!({"message": "Password reset email sent successfully. Check you email for instructions."})
    );
    let link = app.mail.wait_for_link("sam@example.com", "/api/user/reset-password").await;
    let path = link.trim_start_matches("http://c4m.test");
    let form = app.get(path).await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.expect("html");
    assert!(html.contains("action=\"/api/user/reset-password/change\"") && html.contains("name=\"new_password\""));
    let token = path.split("token=").nth(1).expect("token");

    let weak =
        app.client.post(app.url("/api/user/reset-password/change")).form(&[("token", token), ("new_password", "short")]).send().await.expect("send");
    assert_eq!(weak.status(), 422);
    let mismatch = app
        .client
        .post(app.url("/api/user/reset-password/change"))
        .form(&[("token", token), ("new_password", "Password9"), ("confirm_password", "Password8")])
        .send()
        .await
        .expect("send");
    assert_eq!(mismatch.status(), 422);

    let done = app
        .client
        .post(app.url("/api/user/reset-password/change"))
        .form(&[("token", token), ("new_password", "Password9"), ("confirm_password", "Password9")])
        .send()
        .await
        .expect("send");
    assert_eq!(done.status(), 200);
    assert!(done.text().await.expect("html").contains("Password Reset Successful!"));
    assert_eq!(plugin.get_user().await.status, 401, "existing tokens are revoked");
    assert_eq!(app.plugin().log_in("sam@example.com", "Password9").await.status, 200);
    let reused = app
        .client
        .post(app.url("/api/user/reset-password/change"))
        .form(&[("token", token), ("new_password", "Password7")])
        .send()
        .await
        .expect("send");
    assert_eq!(reused.status(), 401, "a reset link works once");
}

#[tokio::test]
async fn reset_for_an_unknown_address_is_404_and_an_invalid_link_is_a_401_page() {
    let app = TestApp::spawn().await;
    let reply = app.client.post(app.url("/api/user/reset-password/request?email=ghost@example.com")).send().await.expect("send");
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.json::<serde_json::Value>().await.expect("json"), json!({"message": "User not found"}));
    let page = app.get("/api/user/reset-password/?token=4c1e8c4e-1111-4222-8333-944455556666").await;
    assert_eq!(page.status(), 401);
    assert!(page.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
}
