use code4me_tests::TestApp;

#[tokio::test]
async fn openapi_document_lists_the_ops_endpoints() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let spec: serde_json::Value = response.json().await.expect("json");
    assert!(spec["openapi"].as_str().expect("version").starts_with("3."));
    for path in ["/api/health", "/api/ping", "/metrics"] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    assert!(spec["paths"]["/api/ping"]["head"].is_object(), "ping is documented as HEAD");
    assert!(spec["components"]["schemas"]["HealthReport"].is_object());
}

#[tokio::test]
async fn docs_ui_and_its_assets_are_served_locally() {
    let app = TestApp::spawn().await;
    let redirect = app.get("/docs").await;
    assert!(redirect.status().is_redirection(), "/docs redirects to /docs/");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "Swagger UI page");
    // Every script and stylesheet comes from this server, not a CDN: the UI works offline.
    assert!(!html.contains("https://"), "no external assets in the docs page");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = app.get("/docs/swagger-initializer.js").await.text().await.expect("js");
    assert!(initializer.contains("/openapi.json"), "the UI loads our spec");
}
