//! The editor's files (`/api/editor/projects/{project_id}/files`) and projects
//! (`/api/editor/projects`): members list, create, rename and delete a project's files; a rename
//! keeps the document and a delete removes it; the rooms of the old name close with 4404 on every
//! server and cannot be rejoined; outsiders, attacker inputs, races and the 500-file limit.

use code4me_tests::TestApp;
use code4me_tests::plugin::{Plugin, Reply};
use reqwest::Method;
use serde_json::{Value, json};

use crate::editor_rooms::{Editor, create_file, refusal, room_path, two_members, urlencoding};
use crate::websocket::{open, until_closed};

/// The close a room's sockets get when its file is renamed or deleted.
const FILE_GONE: (u16, &str) = (4404, "The file was renamed or deleted");

fn files_path(project: &str) -> String {
    format!("/api/editor/projects/{project}/files")
}

async fn list(plugin: &mut Plugin, project: &str) -> Vec<String> {
    let listed = plugin.call(Method::GET, &files_path(project), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.body["files"].as_array().expect("files").iter().map(|file| file["name"].as_str().expect("name").to_owned()).collect()
}

async fn rename(plugin: &mut Plugin, project: &str, from: &str, to: &str) -> Reply {
    plugin.call(Method::POST, &format!("{}/rename", files_path(project)), Some(json!({"from": from, "to": to}))).await
}

async fn delete(plugin: &mut Plugin, project: &str, name: &str) -> Reply {
    plugin.call(Method::DELETE, &format!("{}?name={}", files_path(project), urlencoding(name)), None).await
}

/// Types `text` into the file's room and waits until a second editor sees it (so it is stored:
/// the server stores an update before relaying it).
async fn write(app: &TestApp, plugin: &Plugin, project: &str, file: &str, text: &str) {
    let mut writer = Editor::join(&app.address, plugin, project, file, 900).await;
    writer.type_at(0, text).await;
    let mut reader = Editor::join(&app.address, plugin, project, file, 901).await;
    assert!(reader.until(|r| r.text() == text).await, "{:?}", reader.text());
}

#[tokio::test]
async fn members_create_list_rename_and_delete_a_projects_files() {
    let app = TestApp::spawn().await;
    let (mut owner, mut guest, project) = two_members(&app, &["src/b.py"]).await;
    assert_eq!(list(&mut owner, &project).await, ["src/b.py"]);

    // Any member creates, not only the owner.
    let created = guest.call(Method::POST, &files_path(&project), Some(json!({"name": "a.md"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["name"], "a.md");
    let created_at = created.body["created_at"].as_str().expect("created_at").to_owned();
    create_file(&mut owner, &project, "src/a.py").await;
    let listed = guest.call(Method::GET, &files_path(&project), None).await;
    let names: Vec<&str> = listed.body["files"].as_array().expect("files").iter().map(|f| f["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["a.md", "src/a.py", "src/b.py"], "sorted by name");
    assert_eq!(listed.body["files"][0]["created_at"].as_str(), Some(created_at.as_str()));

    let again = owner.call(Method::POST, &files_path(&project), Some(json!({"name": "a.md"}))).await;
    assert_eq!((again.status, again.body["detail"].as_str()), (409, Some("A file with this name already exists")));

    let renamed = rename(&mut guest, &project, "a.md", "docs/a.md").await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!((renamed.body["name"].as_str(), renamed.body["created_at"].as_str()), (Some("docs/a.md"), Some(created_at.as_str())));
    assert_eq!(list(&mut owner, &project).await, ["docs/a.md", "src/a.py", "src/b.py"]);
    let onto = rename(&mut owner, &project, "src/a.py", "src/b.py").await;
    assert_eq!((onto.status, onto.body["detail"].as_str()), (409, Some("A file with this name already exists")));
    let unknown = rename(&mut owner, &project, "nope.py", "x.py").await;
    assert_eq!((unknown.status, unknown.body["detail"].as_str()), (404, Some("No such file in this project")));
    let same = rename(&mut owner, &project, "src/a.py", "src/a.py").await;
    assert_eq!((same.status, same.body["name"].as_str()), (200, Some("src/a.py")), "renaming onto itself changes nothing");

    let deleted = delete(&mut guest, &project, "src/b.py").await;
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert_eq!(list(&mut owner, &project).await, ["docs/a.md", "src/a.py"]);
    let gone = delete(&mut owner, &project, "src/b.py").await;
    assert_eq!((gone.status, gone.body["detail"].as_str()), (404, Some("No such file in this project")));
    let other = owner.create_project("second").await;
    assert_eq!(other.status, 201, "{}", other.text);
    let other_project = other.body["project_token"].as_str().expect("project id").to_owned();
    assert!(list(&mut owner, &other_project).await.is_empty(), "files belong to one project");
}

#[tokio::test]
async fn the_editor_lists_the_callers_projects_newest_first() {
    let app = TestApp::spawn().await;
    let (mut owner, mut guest, project) = two_members(&app, &[]).await;
    let created = owner.create_project("newer").await;
    assert_eq!(created.status, 201, "{}", created.text);

    let listed = owner.call(Method::GET, "/api/editor/projects", None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let projects = listed.body["projects"].as_array().expect("projects");
    assert_eq!(projects.len(), 2, "{projects:?}");
    assert_eq!((projects[0]["project_name"].as_str(), projects[0]["is_owner"].as_bool()), (Some("newer"), Some(true)));
    assert_eq!((projects[1]["project_id"].as_str(), projects[1]["is_owner"].as_bool()), (Some(project.as_str()), Some(true)));
    assert!(projects[0]["created_at"].as_str().is_some());

    // The guest sees the project it was added to (and its own), not the owner's other one.
    let listed = guest.call(Method::GET, "/api/editor/projects", None).await;
    let projects = listed.body["projects"].as_array().expect("projects");
    let shared: Vec<&Value> = projects.iter().filter(|p| p["project_id"] == project.as_str()).collect();
    assert_eq!(shared.len(), 1, "{projects:?}");
    assert_eq!(shared[0]["is_owner"], false);
    assert!(projects.iter().all(|p| p["project_name"] != "newer"));
    assert_eq!(app.plugin().call(Method::GET, "/api/editor/projects", None).await.status, 401);
}

#[tokio::test]
async fn a_rename_keeps_the_document_and_closes_the_old_names_room() {
    let app = TestApp::spawn().await;
    let (mut owner, guest, project) = two_members(&app, &["old.py"]).await;
    write(&app, &owner, &project, "old.py", "print('kept')\n").await;
    let mut open_editor = Editor::join(&app.address, &guest, &project, "old.py", 1).await;

    let renamed = rename(&mut owner, &project, "old.py", "pkg/new.py").await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let (_, code, reason) = until_closed(&mut open_editor.socket).await;
    assert_eq!((code, reason.as_str()), FILE_GONE);

    let moved = Editor::join(&app.address, &guest, &project, "pkg/new.py", 2).await;
    assert_eq!(moved.text(), "print('kept')\n", "the content moved with the name");
    let (status, body) = refusal(open(&app.address, &room_path(&project, "old.py"), Some(&guest), None).await);
    assert_eq!((status, body.as_str()), (404, r#"{"detail":"No such file in this project"}"#), "the old name is not resurrected");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT file_name::text FROM editor_document_update").fetch_all(&app.db).await.expect("stored");
    assert_eq!(stored, ["pkg/new.py"]);
}

#[tokio::test]
async fn a_delete_removes_the_document_closes_its_rooms_and_refuses_rejoining() {
    let app = TestApp::spawn().await;
    let (mut owner, guest, project) = two_members(&app, &["doomed.txt", "kept.txt"]).await;
    write(&app, &owner, &project, "doomed.txt", "secret plans").await;
    write(&app, &owner, &project, "kept.txt", "other file").await;
    let mut open_editor = Editor::join(&app.address, &guest, &project, "doomed.txt", 1).await;
    let mut bystander = Editor::join(&app.address, &guest, &project, "kept.txt", 2).await;

    assert_eq!(delete(&mut owner, &project, "doomed.txt").await.status, 204);
    let (_, code, reason) = until_closed(&mut open_editor.socket).await;
    assert_eq!((code, reason.as_str()), FILE_GONE);
    let (status, _) = refusal(open(&app.address, &room_path(&project, "doomed.txt"), Some(&guest), None).await);
    assert_eq!(status, 404);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM editor_document_update WHERE file_name = 'doomed.txt'").fetch_one(&app.db).await.expect("count");
    assert_eq!(left, 0, "the document went with the file");

    // Other files' rooms are untouched, and a new file of the old name starts empty.
    bystander.type_at(0, "still ").await;
    let mut watcher = Editor::join(&app.address, &owner, &project, "kept.txt", 3).await;
    assert!(watcher.until(|w| w.text() == "still other file").await, "{:?}", watcher.text());
    create_file(&mut owner, &project, "doomed.txt").await;
    assert_eq!(Editor::join(&app.address, &owner, &project, "doomed.txt", 4).await.text(), "");
}

#[tokio::test]
async fn renames_and_deletes_through_another_server_close_the_rooms_on_this_one() {
    let app = TestApp::spawn().await;
    let (mut owner, guest, project) = two_members(&app, &["a.rs", "b.rs"]).await;
    let second = app.start_another_server().await;
    let mut on_first = Editor::join(&app.address, &guest, &project, "a.rs", 1).await;
    let mut also_first = Editor::join(&app.address, &guest, &project, "b.rs", 2).await;

    owner.use_server(&second.address);
    assert_eq!(rename(&mut owner, &project, "a.rs", "c.rs").await.status, 200);
    let (_, code, reason) = until_closed(&mut on_first.socket).await;
    assert_eq!((code, reason.as_str()), FILE_GONE);
    assert_eq!(delete(&mut owner, &project, "b.rs").await.status, 204);
    let (_, code, reason) = until_closed(&mut also_first.socket).await;
    assert_eq!((code, reason.as_str()), FILE_GONE);
    for gone in ["a.rs", "b.rs"] {
        let (status, _) = refusal(open(&app.address, &room_path(&project, gone), Some(&guest), None).await);
        assert_eq!(status, 404, "{gone} on the first server");
    }
}

#[tokio::test]
async fn an_update_that_reaches_storage_after_its_file_is_gone_closes_with_4404() {
    let app = TestApp::spawn().await;
    let (owner, _, project) = two_members(&app, &["race.py"]).await;
    let mut editor = Editor::join(&app.address, &owner, &project, "race.py", 1).await;
    // Deleted behind the server's back (as if the close message were lost): the row is gone, the
    // room does not know, and storing the next update fails the foreign key.
    sqlx::query("DELETE FROM editor_file WHERE file_name = 'race.py'").execute(&app.db).await.expect("delete");
    editor.type_at(0, "lost").await;
    let (_, code, reason) = until_closed(&mut editor.socket).await;
    assert_eq!((code, reason.as_str()), FILE_GONE);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM editor_document_update").fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, 0, "nothing brought the file back");
}

#[tokio::test]
async fn outsiders_are_refused_on_every_file_endpoint() {
    let app = TestApp::spawn().await;
    let (mut owner, _, project) = two_members(&app, &["a.py"]).await;
    let (mut stranger, strangers_project) = app.signed_in("stranger@example.com").await;
    let not_a_member = Some("You are not a member of this project");
    for target in [project.as_str(), "not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        let calls = [
            stranger.call(Method::GET, &files_path(target), None).await,
            stranger.call(Method::POST, &files_path(target), Some(json!({"name": "b.py"}))).await,
            rename(&mut stranger, target, "a.py", "b.py").await,
            delete(&mut stranger, target, "a.py").await,
        ];
        for reply in calls {
            assert_eq!((reply.status, reply.body["detail"].as_str()), (403, not_a_member), "{target}: {}", reply.text);
        }
    }
    // The owner of one project is a stranger to another's.
    assert_eq!(owner.call(Method::GET, &files_path(&strangers_project), None).await.status, 403);
    let mut anonymous = app.plugin();
    assert_eq!(anonymous.call(Method::GET, &files_path(&project), None).await.status, 401);
    assert_eq!(anonymous.call(Method::POST, &files_path(&project), Some(json!({"name": "b.py"}))).await.status, 401);
    assert_eq!(delete(&mut anonymous, &project, "a.py").await.status, 401);
    assert_eq!(list(&mut owner, &project).await, ["a.py"], "nothing changed");
}

#[tokio::test]
async fn attacker_inputs_get_a_4xx_and_never_a_500() {
    let app = TestApp::spawn().await;
    let (mut owner, _, project) = two_members(&app, &["a.py"]).await;
    let long = "x".repeat(10_000);
    let nested = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies = [
        json!({"name": "a\u{0}b"}),
        json!({"name": long}),
        json!({"name": "../x"}),
        json!({"name": "a/../../x"}),
        json!({"name": "/abs"}),
        json!({"name": "C:\\x"}),
        json!({"name": " padded "}),
        json!({"name": "dir/"}),
        json!({"name": ""}),
        json!({"name": 1e308}),
        json!({"name": -1}),
        json!({"name": 18446744073709551615u64}),
        json!({"name": {"nested": {"deeper": ["a"]}}}),
        json!({"name": ["a.py"]}),
        json!({"name": null}),
        json!({}),
        json!([]),
        json!("a.py"),
    ];
    let create = files_path(&project);
    let rename_path = format!("{create}/rename");
    for body in &bodies {
        let reply = owner.call(Method::POST, &create, Some(body.clone())).await;
        assert_eq!(reply.status, 422, "create {body}: {}", reply.text);
        let as_from = json!({"from": body.get("name").cloned().unwrap_or(Value::Null), "to": "ok.py"});
        let as_to = json!({"from": "a.py", "to": body.get("name").cloned().unwrap_or(Value::Null)});
        for rename_body in [as_from, as_to, body.clone()] {
            let reply = owner.call(Method::POST, &rename_path, Some(rename_body.clone())).await;
            assert_eq!(reply.status, 422, "rename {rename_body}: {}", reply.text);
        }
    }
    // Bodies the JSON reader refuses before any field is read.
    for raw in [nested.as_str(), "{\"name\": \"a\\u0000b\"}", "{\"name\": ", "not json"] {
        for path in [&create, &rename_path] {
            let response = app
                .client
                .post(format!("{}{path}", app.address))
                .header("cookie", owner.cookie_header().expect("cookies"))
                .header("content-type", "application/json")
                .body(raw.to_owned())
                .send()
                .await
                .expect("sent");
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{path} {}: {status}", &raw[..raw.len().min(40)]);
        }
    }
    let long_query = "y".repeat(10_000);
    for name in ["", "%00", "..%2Fx", "%2Fabs", long_query.as_str(), "a%5Cb", "%20lead"] {
        let path = format!("{create}?name={name}");
        let reply = owner.call(Method::DELETE, &path, None).await;
        assert_eq!(reply.status, 422, "delete {}: {}", &name[..name.len().min(20)], reply.text);
    }
    assert_eq!(owner.call(Method::DELETE, &create, None).await.status, 422, "no name");
    let long_id = "f".repeat(10_000);
    for project_id in ["not-a-uuid", "..", long_id.as_str(), "00000000-0000-0000-0000-00000000000g", "%00"] {
        let path = format!("/api/editor/projects/{project_id}/files");
        for (method, body) in [(Method::GET, None), (Method::POST, Some(json!({"name": "b.py"})))] {
            let reply = owner.call(method.clone(), &path, body).await;
            assert!((400..500).contains(&reply.status), "{method} {}: {}", &path[..path.len().min(60)], reply.status);
        }
    }
    assert_eq!(list(&mut owner, &project).await, ["a.py"], "nothing was created");
}

#[tokio::test]
async fn two_members_racing_to_create_one_name_get_one_created_and_one_conflict() {
    let app = TestApp::spawn().await;
    let (mut owner, mut guest, project) = two_members(&app, &[]).await;
    let path = files_path(&project);
    for round in 0..8 {
        let body = json!({"name": format!("race/{round}.py")});
        let (a, b) = tokio::join!(owner.call(Method::POST, &path, Some(body.clone())), guest.call(Method::POST, &path, Some(body.clone())));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {} / {}", a.text, b.text);
    }
    assert_eq!(list(&mut owner, &project).await.len(), 8);
}

#[tokio::test]
async fn a_project_holds_at_most_500_files() {
    let app = TestApp::spawn().await;
    let (mut owner, mut guest, project) = two_members(&app, &[]).await;
    sqlx::query("INSERT INTO editor_file (project_id, file_name) SELECT $1::uuid, 'f' || g FROM generate_series(1, 498) g")
        .bind(&project)
        .execute(&app.db)
        .await
        .expect("498 files");
    create_file(&mut owner, &project, "f499").await;
    // The last place goes to exactly one of two members asking at once.
    let path = files_path(&project);
    let (a, b) =
        tokio::join!(owner.call(Method::POST, &path, Some(json!({"name": "x"}))), guest.call(Method::POST, &path, Some(json!({"name": "y"}))));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
    let full = owner.call(Method::POST, &path, Some(json!({"name": "one-more"}))).await;
    assert_eq!(full.status, 409);
    assert!(full.body["detail"].as_str().is_some_and(|d| d.contains("500 files")), "{}", full.text);
    assert_eq!(list(&mut owner, &project).await.len(), 500);

    // A full project still renames, and deleting makes room.
    assert_eq!(rename(&mut owner, &project, "f1", "g1").await.status, 200);
    assert_eq!(delete(&mut owner, &project, "g1").await.status, 204);
    create_file(&mut owner, &project, "one-more").await;
}
