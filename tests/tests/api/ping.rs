use code4me_tests::TestApp;

#[tokio::test]
async fn head_ping_answers_200_without_a_body() {
    let app = TestApp::spawn().await;
    let response = app.head("/api/ping").await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn get_ping_is_405_with_the_fastapi_body_as_upstream() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/ping").await;
    assert_eq!(response.status(), 405);
    assert!(response.headers().get("allow").is_some(), "405 names the allowed methods");
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body, serde_json::json!({"detail": "Method Not Allowed"}));
}
