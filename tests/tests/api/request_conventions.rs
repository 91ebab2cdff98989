use code4me_tests::TestApp;

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_client_supplied_one_is_echoed() {
    let app = TestApp::spawn().await;
    let generated = app.get("/api/health").await;
    let id = generated.headers().get("x-request-id").expect("request id header").to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "generated id is a UUID: {id}");

    let echoed = app.client.get(app.url("/api/health")).header("x-request-id", "trace-me-42").send().await.expect("request");
    assert_eq!(echoed.headers().get("x-request-id").expect("header"), "trace-me-42");
}

#[tokio::test]
async fn api_paths_answer_with_and_without_a_trailing_slash() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/health/").await.status(), 200);
    assert_eq!(app.get("/api/health/?verbose=1").await.status(), 200);
}

#[tokio::test]
async fn unknown_api_paths_get_the_json_404_not_the_website() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/no/such/endpoint").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"detail": "Not Found"}));
}

#[tokio::test]
async fn cors_allows_credentials_for_configured_origins_only() {
    let app = TestApp::spawn().await;
    let allowed = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/health"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allowed.headers().get("access-control-allow-origin").expect("allowed"), "http://localhost:3000");
    assert_eq!(allowed.headers().get("access-control-allow-credentials").expect("credentials"), "true");

    let refused = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/health"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_server_stops_gracefully_when_asked() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/health").await.status(), 200);
    let address = app.address.clone();
    app.stop().await;
    let after = reqwest::Client::new().get(format!("{address}/api/health")).send().await;
    assert!(after.is_err(), "the listener is closed after shutdown");
}
