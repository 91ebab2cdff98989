use code4me_tests::TestApp;

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/health").await.status(), 200);
    assert_eq!(app.get("/api/ping").await.status(), 405);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain"));
    let text = response.text().await.expect("text");
    let has_line = |metric: &str, route: &str, status: &str| {
        text.lines().any(|l| l.starts_with(metric) && l.contains(&format!("route=\"{route}\"")) && l.contains(&format!("status=\"{status}\"")))
    };
    assert!(has_line("http_requests_total", "/api/health", "200"), "{text}");
    assert!(has_line("http_requests_total", "/api/ping", "405"), "{text}");
    assert!(has_line("http_request_duration_seconds_bucket", "/api/health", "200"), "{text}");
}
