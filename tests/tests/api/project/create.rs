use code4me_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn creating_a_project_links_it_to_the_user_and_session_and_sets_its_cookie() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("xia@example.com", "Password1").await;
    assert_eq!(plugin.project_token.as_deref(), Some(project.as_str()));
    let project_id = Uuid::parse_str(&project).expect("uuid");
    let (members, links): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM project_users WHERE project_id = $1), (SELECT count(*) FROM session_projects WHERE project_id = $1)",
    )
    .bind(project_id)
    .fetch_one(&app.db)
    .await
    .expect("counts");
    assert_eq!((members, links), (1, 1));
}

#[tokio::test]
async fn creating_a_project_needs_a_session_and_a_valid_name() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("yan@example.com", "Yan", "Password1").await;
    plugin.log_in("yan@example.com", "Password1").await;
    let without_session = plugin.create_project("demo").await;
    assert_eq!(without_session.status, 401);
    assert_eq!(
        without_session.body,
        json!({"message": "Session not found! You are not authenticated or your session has expired. Login before you can perform this action."})
    );
    plugin.acquire_session().await;
    let empty_name = plugin.create_project("").await;
    assert_eq!(empty_name.status, 422);
    assert_eq!(empty_name.body["detail"][0]["loc"], json!(["body", "project_name"]));
}
