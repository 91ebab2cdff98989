use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_plugins_preference_update_round_trips_with_nested_values_as_json_strings() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("jo@example.com", "Jo Jones", "Password1").await;
    plugin.log_in("jo@example.com", "Password1").await;
    let updated = plugin.update_preferences(true).await;
    assert_eq!(updated.status, 201, "{}", updated.text);
    assert_eq!(updated.message(), "User is updated successfully.");
    let preference = plugin.get_user().await.body["user"]["preference"].clone();
    assert_eq!(preference["store_context"], json!(true));
    // The plugin decodes these two from strings (Json.decodeFromString), so they must stay strings.
    let modules: Vec<String> = serde_json::from_str(preference["enabled_modules"].as_str().expect("a string")).expect("JSON inside");
    assert_eq!(modules, ["BehavioralTelemetryAggregator", "contextAggregator"]);
    let values: serde_json::Value = serde_json::from_str(preference["module_values"].as_str().expect("a string")).expect("JSON inside");
    assert_eq!(values, json!({"TypingSpeed": "10"}));
}

#[tokio::test]
async fn changing_the_password_checks_the_previous_one_when_given() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("kim@example.com", "Kim", "Password1").await;
    plugin.log_in("kim@example.com", "Password1").await;
    let wrong = plugin.call(Method::PUT, "/api/user/update", Some(json!({"previous_password": "Nope12345", "password": "Password2"}))).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body, json!({"message": "Previous password is not correct!"}));
    let right = plugin.call(Method::PUT, "/api/user/update", Some(json!({"previous_password": "Password1", "password": "Password2"}))).await;
    assert_eq!(right.status, 201);
    assert_eq!(app.plugin().log_in("kim@example.com", "Password2").await.status, 200);
    assert_eq!(app.plugin().log_in("kim@example.com", "Password1").await.status, 401);
}

#[tokio::test]
async fn an_address_taken_by_someone_else_is_409() {
    let app = TestApp::spawn().await;
    app.plugin().sign_up("taken@example.com", "Taken", "Password1").await;
    let mut plugin = app.plugin();
    plugin.sign_up("lee@example.com", "Lee", "Password1").await;
    plugin.log_in("lee@example.com", "Password1").await;
    let reply = plugin.call(Method::PUT, "/api/user/update", Some(json!({"email": "Taken@example.com"}))).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.body, json!({"message": "User already exists with this email!"}));
}

#[tokio::test]
async fn users_cannot_verify_themselves_or_pick_their_config() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("max@example.com", "Max", "Password1").await;
    plugin.log_in("max@example.com", "Password1").await;
    let reply = plugin.call(Method::PUT, "/api/user/update", Some(json!({"verified": true, "config_id": 1, "name": "Maximilian"}))).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["user"]["verified"], json!(false));
    assert_eq!(reply.body["user"]["name"], "Maximilian");
}
