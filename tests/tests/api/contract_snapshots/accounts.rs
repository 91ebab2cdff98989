//! `/api/user/*`, `/api/session/*`, `/api/project/*` and `/api/ping`: the plugin's sign-in
//! contract, in the order the plugin calls it, with the refusals it handles.

use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use insta::assert_json_snapshot;
use reqwest::Method;
use serde_json::json;

use super::{hocon, reply, time, uuid};

#[tokio::test]
async fn the_user_endpoints_answer_the_plugin_as_snapshotted() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();

    let created = plugin.sign_up("snap@example.com", "Snap Shot", "Password1").await;
    assert_json_snapshot!("user_create", reply(&created), { ".body.user_id" => uuid() });
    let taken = plugin.sign_up("snap@example.com", "Snap Shot", "Password1").await;
    assert_json_snapshot!("user_create_conflict", reply(&taken));
    let invalid = plugin.call(Method::POST, "/api/user/create", Some(json!({"email": "snap2@example.com"}))).await;
    assert_json_snapshot!("user_create_missing_fields", reply(&invalid));

    let wrong = plugin.log_in("snap@example.com", "Password2").await;
    assert_json_snapshot!("user_authenticate_wrong_password", reply(&wrong));
    let signed_in = plugin.log_in("snap@example.com", "Password1").await;
    assert_json_snapshot!("user_authenticate", reply(&signed_in), {
        ".body.user.user_id" => uuid(), ".body.user.auth_token" => uuid(), ".body.user.joined_at" => time(), ".body.config" => hocon(),
    });
    // The HOCON the plugin builds its modules from, byte for byte.
    insta::assert_snapshot!("user_config_hocon", signed_in.body["config"].as_str().expect("HOCON text"));

    let fetched = plugin.get_user().await;
    assert_json_snapshot!("user_get", reply(&fetched), {
        ".body.user.user_id" => uuid(), ".body.user.joined_at" => time(), ".body.config" => hocon(),
    });
    let updated = plugin.update_preferences(true).await;
    assert_json_snapshot!("user_update", reply(&updated), { ".body.user.user_id" => uuid(), ".body.user.joined_at" => time() });
    let bad_password = plugin.call(Method::PUT, "/api/user/update", Some(json!({"previous_password": "Nope12345", "password": "Password9"}))).await;
    assert_json_snapshot!("user_update_wrong_previous_password", reply(&bad_password));

    let verified = plugin.call(Method::GET, "/api/user/verify/check", None).await;
    assert_json_snapshot!("user_verify_check", reply(&verified));
    let resent = plugin.call(Method::POST, "/api/user/verify/resend", None).await;
    assert_json_snapshot!("user_verify_resend", reply(&resent));
    let reset = plugin.call(Method::POST, "/api/user/reset-password/request?email=snap@example.com", None).await;
    assert_json_snapshot!("user_reset_password_request", reply(&reset));
    let reset_unknown = plugin.call(Method::POST, "/api/user/reset-password/request?email=nobody@example.com", None).await;
    assert_json_snapshot!("user_reset_password_request_unknown", reply(&reset_unknown));

    let deleted = plugin.call(Method::DELETE, "/api/user/delete?delete_data=false", None).await;
    assert_json_snapshot!("user_delete", reply(&deleted));
    let anonymous = app.plugin().get_user().await;
    assert_json_snapshot!("user_get_unauthenticated", reply(&anonymous));
}

#[tokio::test]
async fn the_session_and_project_endpoints_answer_the_plugin_as_snapshotted() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up("proj@example.com", "Project User", "Password1").await.status, 201);
    assert_eq!(plugin.log_in("proj@example.com", "Password1").await.status, 200);

    // Completion endpoints want a session and a project first; these are the 401s the plugin reacts to.
    let no_session = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "x"))).await;
    assert_json_snapshot!("completion_request_without_session", reply(&no_session));
    let acquired = plugin.acquire_session().await;
    assert_json_snapshot!("session_acquire", reply(&acquired), { ".body.session_token" => uuid() });
    let no_project = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "x"))).await;
    assert_json_snapshot!("completion_request_without_project", reply(&no_project));

    let created = plugin.create_project("snapshots").await;
    assert_json_snapshot!("project_create", reply(&created), { ".body.project_token" => uuid() });
    let project = created.body["project_token"].as_str().expect("project token").to_owned();
    let activated = plugin.activate_project(&project).await;
    assert_json_snapshot!("project_activate", reply(&activated));
    let unknown = plugin.activate_project(&uuid::Uuid::new_v4().to_string()).await;
    assert_json_snapshot!("project_activate_unknown", reply(&unknown));

    let deactivated = plugin.deactivate().await;
    assert_json_snapshot!("session_deactivate", reply(&deactivated));
    let after = plugin.acquire_session().await;
    assert_json_snapshot!("session_acquire_after_logout", reply(&after));
}

#[tokio::test]
async fn ping_answers_as_snapshotted() {
    let app = TestApp::spawn().await;
    let head = app.head("/api/ping").await;
    let head = json!({"status": head.status().as_u16(), "body": head.text().await.expect("body")});
    assert_json_snapshot!("ping_head", head);
    let get = app.get("/api/ping").await;
    let get = json!({"status": get.status().as_u16(), "body": get.json::<serde_json::Value>().await.expect("JSON body")});
    assert_json_snapshot!("ping_get", get);
}
