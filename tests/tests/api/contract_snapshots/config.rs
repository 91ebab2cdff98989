//! `/api/config/...`: the admin endpoints that manage the configs the plugin receives at log-in
//! (`{"detail": ...}` errors, as upstream's `HTTPException`s).

use code4me_tests::TestApp;
use insta::assert_json_snapshot;
use reqwest::Method;
use serde_json::json;

use super::{hocon, reply};

#[tokio::test]
async fn the_config_endpoints_answer_as_snapshotted() {
    let app = TestApp::spawn().await;
    let anonymous = app.plugin().call(Method::GET, "/api/config/", None).await;
    assert_json_snapshot!("config_list_unauthenticated", reply(&anonymous));
    let (mut user, _) = app.signed_in("config-user@example.com").await;
    let forbidden = user.call(Method::GET, "/api/config/", None).await;
    assert_json_snapshot!("config_list_not_admin", reply(&forbidden));

    let mut admin = app.plugin();
    assert_eq!(admin.sign_up("config-admin@example.com", "Admin User", "Secret123").await.status, 201);
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = 'config-admin@example.com'").execute(&app.db).await.expect("promote");
    assert_eq!(admin.log_in("config-admin@example.com", "Secret123").await.status, 200);

    let listed = admin.call(Method::GET, "/api/config/", None).await;
    assert_json_snapshot!("config_list", reply(&listed), { ".body.configs[].config_data" => hocon() });
    let read = admin.call(Method::GET, "/api/config/1", None).await;
    assert_json_snapshot!("config_get", reply(&read), { ".body.config_data" => hocon() });
    let missing = admin.call(Method::GET, "/api/config/999999", None).await;
    assert_json_snapshot!("config_get_unknown", reply(&missing));

    // Ids come from a sequence in a fresh database, so the snapshots can show them.
    let created = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": "config { retrieval { enabled = false } }"}))).await;
    assert_json_snapshot!("config_create", reply(&created));
    let id = created.body["config_id"].as_i64().expect("id");
    let object = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": {"config": {"retrieval": {"budget_chars": 300}}}}))).await;
    assert_json_snapshot!("config_create_from_object", reply(&object));
    let invalid = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": "config { retrieval {"}))).await;
    assert_json_snapshot!("config_create_invalid_hocon", reply(&invalid));
    let replaced =
        admin.call(Method::PUT, &format!("/api/config/{id}"), Some(json!({"config_data": "config { retrieval { enabled = true } }"}))).await;
    assert_json_snapshot!("config_update", reply(&replaced));
    let in_use = admin.call(Method::DELETE, "/api/config/1", None).await;
    assert_json_snapshot!("config_delete_in_use", reply(&in_use));
    let deleted = admin.call(Method::DELETE, &format!("/api/config/{id}"), None).await;
    assert_json_snapshot!("config_delete", reply(&deleted));
}
