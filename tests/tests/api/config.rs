//! `/api/config/...`: admin-only config rows validated as HOCON before they are stored, the
//! language table, and models with the workers serving them — including the two endpoints upstream
//! shadows with `/{config_id}`.

use code4me_tests::TestApp;
use code4me_tests::plugin::Plugin;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::json;

/// A signed-in admin (promoted in SQL, as upstream's admins are).
async fn admin(app: &TestApp, email: &str) -> Plugin {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Admin User", "Secret123").await.status, 201);
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = $1").bind(email).execute(&app.db).await.expect("promote");
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    plugin
}

#[tokio::test]
async fn only_signed_in_admins_reach_the_config_endpoints() {
    let app = TestApp::spawn().await;
    let mut anonymous = app.plugin();
    let reply = anonymous.call(Method::GET, "/api/config/", None).await;
    assert_eq!((reply.status, reply.body.clone()), (401, json!({"detail": "Authentication required"})));
    let (mut user, _) = app.signed_in("user@example.com").await;
    for path in ["/api/config/", "/api/config/1", "/api/config/languages", "/api/config/models", "/api/config/models/validate?name=x"] {
        let reply = user.call(Method::GET, path, None).await;
        assert_eq!((reply.status, reply.body.clone()), (403, json!({"detail": "Admin privileges required"})), "{path}");
    }
    let created = user.call(Method::POST, "/api/config/", Some(json!({"config_data": "a = 1"}))).await;
    assert_eq!(created.status, 403);
}

#[tokio::test]
async fn configs_are_validated_as_hocon_and_stored_read_replaced_and_deleted() {
    let app = TestApp::spawn().await;
    let mut admin = admin(&app, "admin@example.com").await;

    let listed = admin.call(Method::GET, "/api/config/", None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let first = &listed.body["configs"][0];
    assert_eq!(first["config_id"], 1);
    assert!(first["config_data"].as_str().expect("HOCON is returned as text").contains("retrieval {"));

    // HOCON text and JSON objects are both accepted; the object comes back parsed.
    let hocon = "config {\n  retrieval { enabled = false }\n  models { available = [] }\n}\n";
    let created = admin.call(Method::POST, "/api/config", Some(json!({"config_data": hocon}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["config_id"].as_i64().expect("id");
    assert_eq!(created.body["config_data"], hocon);
    let object = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": {"config": {"retrieval": {"budget_chars": 300}}}}))).await;
    assert_eq!(object.status, 201, "{}", object.text);
    assert_eq!(object.body["config_data"]["config"]["retrieval"]["budget_chars"], 300);

    // Invalid documents are a 400 with the reason, and nothing is stored.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM config").fetch_one(&app.db).await.expect("count");
    let broken = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": "config { retrieval {"}))).await;
    assert_eq!(broken.status, 400, "{}", broken.text);
    assert!(broken.body["detail"].as_str().expect("detail").starts_with("Invalid config: not valid HOCON"), "{}", broken.text);
    let bad_block = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": "config { retrieval { budget_chars = 0 } }"}))).await;
    assert_eq!(bad_block.status, 400);
    assert!(bad_block.body["detail"].as_str().expect("detail").contains("config.retrieval.budget_chars"), "{}", bad_block.text);
    assert_eq!(admin.call(Method::POST, "/api/config/", Some(json!({"config_data": 5}))).await.status, 422);
    assert_eq!(admin.call(Method::POST, "/api/config/", Some(json!({}))).await.status, 422);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM config").fetch_one(&app.db).await.expect("count");
    assert_eq!(before, after);

    // Read, replace, and a replacement that fails validation leaves the row as it was.
    let read = admin.call(Method::GET, &format!("/api/config/{id}"), None).await;
    assert_eq!(read.body, json!({"config_id": id, "config_data": hocon}));
    let replaced =
        admin.call(Method::PUT, &format!("/api/config/{id}"), Some(json!({"config_data": "config { retrieval { enabled = true } }"}))).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(admin.call(Method::PUT, &format!("/api/config/{id}"), Some(json!({"config_data": "{{{"}))).await.status, 400);
    assert_eq!(admin.call(Method::GET, &format!("/api/config/{id}"), None).await.body["config_data"], "config { retrieval { enabled = true } }");
    assert_eq!(admin.call(Method::PUT, "/api/config/999999", Some(json!({"config_data": "a = 1"}))).await.status, 404);
    assert_eq!(admin.call(Method::GET, "/api/config/999999", None).await.body, json!({"detail": "Config not found"}));

    // Deleting: a config in use is a 409, an unknown one a 404, an unused one goes.
    let in_use = admin.call(Method::DELETE, "/api/config/1", None).await;
    assert_eq!(in_use.status, 409, "{}", in_use.text);
    assert_eq!(admin.call(Method::DELETE, "/api/config/999999", None).await.status, 404);
    let deleted = admin.call(Method::DELETE, &format!("/api/config/{id}"), None).await;
    assert_eq!(deleted.body, json!({"deleted": true, "config_id": id}));
    assert_eq!(admin.call(Method::GET, &format!("/api/config/{id}"), None).await.status, 404);
}

#[tokio::test]
async fn languages_and_models_answer_instead_of_being_shadowed_and_models_show_their_workers() {
    let app = TestApp::spawn().await;
    let mut admin = admin(&app, "models@example.com").await;
    let languages = admin.call(Method::GET, "/api/config/languages", None).await;
    assert_eq!(languages.status, 200, "{}", languages.text);
    assert_eq!(languages.body["languages"].as_array().expect("languages").len(), 179);
    assert_eq!(languages.body["mapping"]["Python"], 47);

    let worker = Worker::start(&app, "config-models").await;
    let smollm = wait_for("model 5 to be available", std::time::Duration::from_secs(30), async || {
        let models = admin.call(Method::GET, "/api/config/models", None).await;
        assert_eq!(models.status, 200, "{}", models.text);
        let smollm = models.body["models"].as_array().expect("models").iter().find(|m| m["model_id"] == 5).cloned().expect("model 5");
        (smollm["available"] == true).then_some(smollm)
    })
    .await;
    assert_eq!(smollm["model_name"], "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_eq!(smollm["available"], true, "{smollm}");
    assert_eq!(smollm["loaded_by"], json!(["config-models"]));

    let known = admin.call(Method::GET, "/api/config/models/validate?name=HuggingFaceTB/SmolLM2-135M-Instruct", None).await;
    assert_eq!((known.body["exists"].clone(), known.body["available"].clone()), (json!(true), json!(true)), "{}", known.text);
    let absent = admin.call(Method::GET, "/api/config/models/validate?name=bigcode/starcoder2-3b", None).await;
    assert_eq!((absent.body["exists"].clone(), absent.body["available"].clone()), (json!(true), json!(false)), "{}", absent.text);
    assert!(absent.body["unavailable"]["config-models"].is_string(), "the worker says why: {}", absent.text);
    let unknown = admin.call(Method::GET, "/api/config/models/validate?name=nobody/nothing", None).await;
    assert_eq!(unknown.body["exists"], false);
    assert_eq!(admin.call(Method::GET, "/api/config/models/validate", None).await.status, 422);
    worker.stop().await;
}

/// `POST /api/config/` with `text` as the HOCON: its status and `detail`.
async fn submit(admin: &mut Plugin, text: &str) -> (u16, String) {
    let reply = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": text}))).await;
    (reply.status, reply.body["detail"].as_str().unwrap_or(&reply.text).to_owned())
}

#[tokio::test]
async fn an_include_is_refused_alike_whether_the_file_exists_or_not_and_nothing_of_it_leaks() {
    let app = TestApp::spawn().await;
    let mut admin = admin(&app, "include@example.com").await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM config").fetch_one(&app.db).await.expect("count");
    let existing = submit(&mut admin, "a = 1\ninclude file(\"/etc/passwd\")\n").await;
    let missing = submit(&mut admin, "a = 1\ninclude file(\"/nonexistent/c4m-absent.conf\")\n").await;
    assert_eq!(existing.0, 400, "{}", existing.1);
    assert_eq!(existing, missing, "the answer must not tell an existing file from a missing one");
    assert!(existing.1.starts_with("Invalid config: includes are not allowed"), "{}", existing.1);
    for leak in ["root", "passwd", "nonexistent", "No such file"] {
        assert!(!existing.1.contains(leak), "{leak} in {}", existing.1);
    }
    for form in ["include \"/etc/passwd\"", "include required(file(\"/etc/passwd\"))", "config { include \"/etc/hostname\" }"] {
        let (status, detail) = submit(&mut admin, form).await;
        assert_eq!(status, 400, "{form}: {detail}");
        assert!(detail.starts_with("Invalid config: includes are not allowed"), "{form}: {detail}");
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM config").fetch_one(&app.db).await.expect("count");
    assert_eq!(before, after, "nothing was stored");
}

#[tokio::test]
async fn a_document_nested_1000_deep_is_a_400_and_the_server_lives_on() {
    let app = TestApp::spawn().await;
    let mut admin = admin(&app, "deep@example.com").await;
    let brackets = format!("a = {}1{}", "[".repeat(1000), "]".repeat(1000));
    assert!(brackets.len() < 2100);
    let (status, detail) = submit(&mut admin, &brackets).await;
    assert_eq!(status, 400, "{detail}");
    assert!(detail.starts_with("Invalid config: nested more than 64 levels deep"), "{detail}");
    let braces = format!("{}{}", "a {".repeat(700), "}".repeat(700));
    assert_eq!(submit(&mut admin, &braces).await.0, 400);
    let dotted = format!("{} = 1", vec!["a"; 1000].join("."));
    assert_eq!(submit(&mut admin, &dotted).await.0, 400);
    let alive = admin.call(Method::GET, "/api/config/", None).await;
    assert_eq!(alive.status, 200, "the server still answers: {}", alive.text);
}

#[tokio::test]
async fn substitutions_never_read_the_servers_environment() {
    let app = TestApp::spawn().await;
    let mut admin = admin(&app, "env@example.com").await;
    let home = std::env::var("HOME").unwrap_or_default();
    for text in ["config { home = ${HOME} }", "config { home = ${?HOME} }", "a = 1\nb = ${a}", "a = [1]\na += 2"] {
        let (status, detail) = submit(&mut admin, text).await;
        assert_eq!(status, 400, "{text}: {detail}");
        assert!(
            detail.starts_with("Invalid config: substitutions are not allowed") || detail.starts_with("Invalid config: `+=` is not allowed"),
            "{text}: {detail}"
        );
        assert!(home.len() < 2 || !detail.contains(&home), "{text}: {detail}");
    }
    // Inside quotes `${HOME}` is text, stored and returned as written.
    let quoted = admin.call(Method::POST, "/api/config/", Some(json!({"config_data": "config { home = \"${HOME}\" }"}))).await;
    assert_eq!(quoted.status, 201, "{}", quoted.text);
    assert_eq!(quoted.body["config_data"], "config { home = \"${HOME}\" }");
}

#[tokio::test]
async fn a_hostile_config_already_stored_turns_retrieval_off_instead_of_crashing_its_readers() {
    let app = TestApp::spawn().await;
    let hostile = format!("include file(\"/etc/passwd\")\nhome = ${{HOME}}\na = {}1{}\n", "[".repeat(1000), "]".repeat(1000));
    sqlx::query("UPDATE config SET config_data = $1 WHERE config_id = 1")
        .bind(&hostile)
        .execute(&app.db)
        .await
        .expect("store it behind the API's back");
    let (mut plugin, _) = app.signed_in("reader@example.com").await;
    // The context update reads the user's config (is retrieval on?) and parses it.
    let update = json!({"context_updates": {"a.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x = 1"]}]}});
    let updated = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let user = plugin.get_user().await;
    assert_eq!(user.status, 200, "the server still answers: {}", user.text);
    assert_eq!(user.body["config"], hostile.as_str(), "the plugin gets the stored text as it is");
}
