use code4me_tests::TestApp;

#[tokio::test]
async fn openapi_document_lists_the_ops_endpoints() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let spec: serde_json::Value = response.json().await.expect("json");
    assert!(spec["openapi"].as_str().expect("version").starts_with("3."));
    for path in ["/api/health", "/api/health/live", "/api/health/ready", "/api/health/detailed", "/api/ping", "/metrics"] {
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

/// Every operation of the served document, as (method, path, operation).
fn operations(spec: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch", "head"].contains(&method.as_str()) {
                found.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_lists_the_statuses_the_layers_around_each_handler_give() {
    let app = TestApp::spawn().await;
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.expect("spec");
    for scheme in ["auth_token", "bearer", "session_token", "project_token"] {
        assert!(spec["components"]["securitySchemes"][scheme].is_object(), "security scheme {scheme}");
    }
    let mut secured = 0;
    for (method, path, operation) in operations(&spec) {
        let name = format!("{method} {path}");
        let responses = &operation["responses"];
        let requirements = operation["security"].as_array().cloned().unwrap_or_default();
        if !requirements.is_empty() {
            secured += 1;
            assert!(responses["401"].is_object(), "{name}: 401 for a missing or expired token");
        }
        if requirements.iter().any(|r| r.to_string().contains("\"admin\"")) {
            assert!(responses["403"].is_object(), "{name}: 403 for a non-admin");
        }
        if operation["requestBody"]["content"]["application/json"].is_object() {
            // The OpenAI dialect answers a bad body with OpenAI's 400, never the contract's 422.
            let bad_body = if path.starts_with("/v1/") { "400" } else { "422" };
            for status in ["413", "415", bad_body] {
                assert!(responses[status].is_object(), "{name}: {status} for a bad JSON body");
            }
        }
        // Probes are never rate limited, and liveness needs no dependency.
        let probe = path == "/api/ping" || path == "/api/health" || path.starts_with("/api/health/");
        if path.starts_with("/api/") && !probe {
            assert!(responses["429"]["headers"]["Retry-After"].is_object(), "{name}: 429 with Retry-After");
        }
        if path.starts_with("/api/") && !matches!(path.as_str(), "/api/ping" | "/api/user/oauth/providers" | "/api/health/live") {
            assert!(responses["503"].is_object(), "{name}: 503 when a dependency is down");
        }
    }
    assert!(secured > 40, "the authenticated operations declare their security ({secured})");
    let dashboard = &spec["paths"]["/api/analytics/overview/dashboard"]["get"];
    assert_eq!(dashboard["security"], serde_json::json!([{"auth_token": []}, {"bearer": []}]));
    let config = &spec["paths"]["/api/config"]["get"];
    assert_eq!(config["security"], serde_json::json!([{"auth_token": ["admin"]}, {"bearer": ["admin"]}]));
    let completion = &spec["paths"]["/api/completion/request"]["post"];
    assert_eq!(completion["security"], serde_json::json!([{"session_token": [], "project_token": []}]));
}

#[tokio::test]
async fn request_schemas_are_as_strict_as_the_server() {
    let app = TestApp::spawn().await;
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.expect("spec");
    let schemas = &spec["components"]["schemas"];
    // Nested bodies are typed, not "any JSON value" (which admits null).
    for (body, field) in
        [("RequestCompletionBody", "context"), ("RequestCompletionBody", "contextual_telemetry"), ("RequestChatBody", "behavioral_telemetry")]
    {
        assert!(schemas[body]["properties"][field]["$ref"].is_string(), "{body}.{field} is a typed object");
    }
    // Flags the server reads as plain booleans refuse null.
    assert_eq!(schemas["RequestCompletionBody"]["properties"]["store_context"]["type"], "boolean");
    // Ids and counts have the server's bounds.
    assert_eq!(schemas["ContextualTelemetryBody"]["properties"]["version_id"]["minimum"], 1);
    assert_eq!(schemas["FeedbackBody"]["properties"]["model_id"]["minimum"], 0);
    assert_eq!(schemas["RequestCompletionBody"]["properties"]["max_new_tokens"]["maximum"], 256);
    assert_eq!(schemas["FileChange"]["properties"]["start_line"]["minimum"], 0);
    assert_eq!(schemas["ChangeType"]["enum"], serde_json::json!(["update", "insert", "remove"]));
    // Times take every ISO 8601 form `fromisoformat` reads (`2026-03-01T09:30` too), which is
    // wider than OpenAPI's `date-time`: plain strings. Ids in paths are UUIDs.
    assert_eq!(schemas["CreateStudyBody"]["properties"]["starts_at"]["type"], "string");
    assert!(schemas["CreateStudyBody"]["properties"]["starts_at"]["format"].is_null());
    let page = &spec["paths"]["/api/chat/get/{page_number}"]["get"]["parameters"][0]["schema"];
    assert_eq!((page["minimum"].clone(), page["maximum"].clone()), (serde_json::json!(1), serde_json::json!(1_000_000)));
    let study = &spec["paths"]["/api/analytics/studies/{study_id}/details"]["get"]["parameters"][0]["schema"];
    assert_eq!(study["format"], "uuid");
}

#[tokio::test]
async fn a_path_parameter_that_is_not_an_integer_gets_a_json_400() {
    let app = TestApp::spawn().await;
    let mut admin = app.plugin();
    assert_eq!(admin.sign_up("admin@example.com", "Admin User", "Secret123").await.status, 201);
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = $1").bind("admin@example.com").execute(&app.db).await.expect("promote");
    assert_eq!(admin.log_in("admin@example.com", "Secret123").await.status, 200);
    for path in ["/api/config/abc", "/api/config/9223372036854775808"] {
        let reply = admin.call(reqwest::Method::GET, path, None).await;
        assert_eq!(reply.status, 400, "{path}");
        assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("Cannot parse")), "{path}: JSON detail, got {}", reply.body);
    }
}
