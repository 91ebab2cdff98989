use code4me_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn signing_up_as_the_plugin_does_creates_the_user_with_lower_cased_email() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let reply = plugin.sign_up("  Ada@Example.COM ", "Ada Lovelace", "Analytical1").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.message(), "User created successfully. Please check your email for verification.");
    let user_id = Uuid::parse_str(reply.body["user_id"].as_str().expect("user_id")).expect("uuid");
    let (email, verified, is_oauth, password): (String, bool, bool, String) =
        sqlx::query_as("SELECT email, verified, is_oauth_signup, password FROM \"user\" WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&app.db)
            .await
            .expect("row");
    assert_eq!(email, "ada@example.com");
    assert!(!verified && !is_oauth);
    assert!(password.starts_with("$argon2id$"), "stored as an argon2id hash, never in clear");
}

#[tokio::test]
async fn a_second_sign_up_with_the_same_address_is_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up("bob@example.com", "Bob Builder", "Buildit123").await.status, 201);
    let again = plugin.sign_up("BOB@example.com", "Bob Again", "Buildit123").await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body, json!({"message": "User already exists with this email!"}));
}

#[tokio::test]
async fn invalid_fields_are_reported_together_in_fastapis_shape() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let reply = plugin.sign_up("not-an-email", "ab", "weakpassword").await;
    assert_eq!(reply.status, 422);
    let issues = reply.body["detail"].as_array().expect("detail list");
    let locs: Vec<&str> = issues.iter().map(|i| i["loc"][1].as_str().expect("field")).collect();
    assert_eq!(locs, ["email", "name", "password"]);
    assert_eq!(issues[1]["type"], "string_too_short");
    assert_eq!(issues[1]["msg"], "String should have at least 3 characters");
    assert_eq!(issues[2]["type"], "string_pattern_mismatch");
    assert!(issues[0]["msg"].as_str().expect("msg").starts_with("value is not a valid email address"));
    insta::assert_json_snapshot!("create_user_validation_error", reply.body);
}

#[tokio::test]
async fn missing_fields_and_malformed_json_are_422_never_500() {
    let app = TestApp::spawn().await;
    let missing = app.client.post(app.url("/api/user/create")).json(&json!({"email": "x@example.com"})).send().await.expect("send");
    assert_eq!(missing.status(), 422);
    let body: serde_json::Value = missing.json().await.expect("json");
    let missing_fields: Vec<&str> = body["detail"].as_array().expect("list").iter().map(|i| i["loc"][1].as_str().expect("loc")).collect();
    assert_eq!(missing_fields, ["name", "password", "config_id"]);
    assert!(body["detail"].as_array().expect("list").iter().all(|i| i["type"] == "missing" && i["msg"] == "Field required"));

    let malformed =
        app.client.post(app.url("/api/user/create")).header("content-type", "application/json").body("{\"email\": ").send().await.expect("send");
    assert_eq!(malformed.status(), 422);
    let body: serde_json::Value = malformed.json().await.expect("json");
    assert_eq!(body["detail"][0]["type"], "json_invalid");

    let not_an_object = app.client.post(app.url("/api/user/create")).json(&json!([1, 2])).send().await.expect("send");
    assert_eq!(not_an_object.status(), 422);
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_413() {
    let app = TestApp::spawn().await;
    let huge = json!({"email": "big@example.com", "name": "x".repeat(1_048_576), "password": "Secret123", "config_id": 1});
    let response = app.client.post(app.url("/api/user/create")).json(&huge).send().await.expect("send");
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body, json!({"detail": "Request body too large"}));
}

#[tokio::test]
async fn an_unknown_config_id_is_404_with_the_contract_message() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "c@example.com", "name": "Carol", "password": "Secret123", "config_id": 99});
    let response = app.client.post(app.url("/api/user/create")).json(&body).send().await.expect("send");
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<serde_json::Value>().await.expect("json"), json!({"message": "Config not found!"}));
}
