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
