use code4me_tests::TestApp;

#[tokio::test]
async fn the_root_serves_the_built_website() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.expect("html").contains("Code4me-RS test site"));
}

#[tokio::test]
async fn client_side_routes_fall_back_to_the_index_page() {
    let app = TestApp::spawn().await;
    let response = app.get("/studies/42").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.expect("html").contains("Code4me-RS test site"));
}

#[tokio::test]
async fn static_assets_are_served_from_the_dist_directory() {
    let app = TestApp::spawn().await;
    std::fs::create_dir_all(app.website_dir.join("assets")).expect("assets dir");
    std::fs::write(app.website_dir.join("assets/app.js"), "console.log('hi')").expect("write asset");
    let response = app.get("/assets/app.js").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("ascii").contains("javascript"));
    assert_eq!(response.text().await.expect("js"), "console.log('hi')");
}

/// The policy's directives, as `name value...` strings.
fn csp_directives(response: &reqwest::Response) -> Vec<String> {
    let policy = response.headers().get("content-security-policy").expect("a Content-Security-Policy header").to_str().expect("ascii");
    policy.split(';').map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|d| !d.is_empty()).collect()
}

#[tokio::test]
async fn the_website_its_assets_and_client_routes_carry_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    std::fs::create_dir_all(app.website_dir.join("assets")).expect("assets dir");
    std::fs::write(app.website_dir.join("assets/app.js"), "console.log('hi')").expect("write asset");
    for path in ["/", "/assets/app.js", "/studies/42"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let directives = csp_directives(&response);
        for required in
            ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'"]
        {
            assert!(directives.iter().any(|d| d == required), "{path}: {required} missing from {directives:?}");
        }
        // No inline or evaluated script anywhere in the policy; inline styles only (the editor's
        // run-time theme and cursor colours), never for scripts.
        assert!(directives.iter().all(|d| !d.contains("unsafe-eval")), "{path}: {directives:?}");
        assert!(directives.iter().filter(|d| d.contains("unsafe-inline")).all(|d| d.starts_with("style-src ")), "{path}: {directives:?}");
    }
}

#[tokio::test]
async fn the_api_and_the_docs_are_not_under_the_website_policy() {
    let app = TestApp::spawn().await;
    // The Swagger UI's vendored stylesheet draws its icons from data: URIs, which the website's
    // policy refuses.
    for path in ["/docs/", "/api/health/live"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().get("content-security-policy").is_none(), "{path}");
    }
}
