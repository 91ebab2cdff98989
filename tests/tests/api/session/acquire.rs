use code4me_tests::TestApp;

#[tokio::test]
async fn acquiring_twice_reuses_the_live_session_and_sets_its_cookie() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("tia@example.com", "Tia", "Password1").await;
    plugin.log_in("tia@example.com", "Password1").await;
    let first = plugin.acquire_session().await;
    assert_eq!(first.status, 200);
    assert_eq!(first.message(), "Session acquired successfully");
    let token = first.body["session_token"].as_str().expect("token").to_owned();
    assert_eq!(plugin.session_token.as_deref(), Some(token.as_str()));
    assert!(first.set_cookies.iter().any(|c| c.starts_with("session_token=") && c.contains("HttpOnly")));
    let second = plugin.acquire_session().await;
    assert_eq!(second.body["session_token"].as_str(), Some(token.as_str()));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM session").fetch_one(&app.db).await.expect("count");
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn restarting_the_server_logs_nobody_out() {
    let mut app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("uma@example.com", "Password1").await;
    let session = plugin.session_token.clone();
    app.restart_server().await;
    plugin.use_server(&app.address);
    assert_eq!(plugin.get_user().await.status, 200, "the auth token survives a restart");
    assert_eq!(plugin.acquire_session().await.body["session_token"].as_str(), session.as_deref(), "so does the session");
}
