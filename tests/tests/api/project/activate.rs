use code4me_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_project_can_be_reactivated_in_a_new_session_from_the_database() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("zoe@example.com", "Password1").await;
    plugin.deactivate().await;
    plugin.log_in("zoe@example.com", "Password1").await;
    plugin.acquire_session().await;
    let reply = plugin.activate_project(&project).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({"message": "Project activated successfully."}));
    assert_eq!(plugin.project_token.as_deref(), Some(project.as_str()));
}

#[tokio::test]
async fn unknown_projects_and_other_users_projects_are_the_same_401() {
    let app = TestApp::spawn().await;
    let mut owner = app.plugin();
    let project = owner.signed_in_with_project("own@example.com", "Password1").await;
    let mut intruder = app.plugin();
    intruder.signed_in_with_project("intruder@example.com", "Password1").await;
    let expected = json!({"message": "Invalid or expired project token. Acquire a session token first."});
    let stolen = intruder.activate_project(&project).await;
    assert_eq!(stolen.status, 401);
    assert_eq!(stolen.body, expected);
    let unknown = intruder.activate_project("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, expected);
    let malformed = intruder.activate_project("not-a-uuid").await;
    assert_eq!(malformed.status, 422);
}
