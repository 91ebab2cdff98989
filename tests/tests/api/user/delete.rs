use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn deleting_a_user_revokes_every_token_at_once() {
    let app = TestApp::spawn().await;
    let mut laptop = app.plugin();
    laptop.signed_in_with_project("nia@example.com", "Password1").await;
    let mut desktop = app.plugin();
    desktop.log_in("nia@example.com", "Password1").await;

    let reply = laptop.call(Method::DELETE, "/api/user/delete?delete_data=false", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({"message": "User is deleted successfully."}));
    // Upstream leaves the other device's token alive; ours stops working immediately.
    assert_eq!(desktop.get_user().await.status, 401);
    assert_eq!(laptop.get_user().await.status, 401);
}

#[tokio::test]
async fn without_delete_data_the_users_sessions_and_projects_stay_for_research() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let project = plugin.signed_in_with_project("oli@example.com", "Password1").await;
    plugin.call(Method::DELETE, "/api/user/delete", None).await;
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM session WHERE user_id IS NULL").fetch_one(&app.db).await.expect("count");
    assert_eq!(sessions, 1, "the session row stays, detached from the deleted user");
    let project_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM project WHERE project_id = $1)")
        .bind(Uuid::parse_str(&project).expect("uuid"))
        .fetch_one(&app.db)
        .await
        .expect("exists");
    assert!(project_exists);
}

#[tokio::test]
async fn with_delete_data_the_users_sessions_and_own_projects_go_too() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("pia@example.com", "Password1").await;
    let reply = plugin.call(Method::DELETE, "/api/user/delete?delete_data=true", None).await;
    assert_eq!(reply.status, 200);
    let (sessions, projects): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM session), (SELECT count(*) FROM project)").fetch_one(&app.db).await.expect("counts");
    assert_eq!((sessions, projects), (0, 0));
    let cleared: Vec<&String> = reply.set_cookies.iter().filter(|c| c.contains("=;") || c.contains("=\"\";")).collect();
    assert_eq!(cleared.len(), 3, "auth, session and project cookies are cleared: {:?}", reply.set_cookies);
}
