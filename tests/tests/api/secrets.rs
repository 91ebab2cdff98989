//! Secrets never escape redaction (issue 19, class 7): whichever field of a completion, feedback,
//! chat turn or multi-file update carries one — a file name, a file path, the first chat message
//! (which the title is made from), a short or letters-only password — neither the rows stored
//! in PostgreSQL, nor the prompt the model saw, nor any response holds it.

use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// AWS's documented example key id, glued into file names after `_`.
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// A short mixed-case password.
const SHORT: &str = "kXIjVa";
/// A letters-only password.
const LETTERS: &str = "bkqpcxdejldclz";

fn assert_no_secret(what: &str, text: &str) {
    for secret in [AWS_KEY, SHORT, LETTERS] {
        assert!(!text.contains(secret), "{what} holds {secret}: {text}");
    }
}

/// Every row of the tables a query, its feedback, a chat and the retrieval index write, as text.
async fn stored_rows(app: &TestApp) -> String {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT row_to_json(t)::text FROM context t UNION ALL SELECT row_to_json(t)::text FROM contextual_telemetry t \
         UNION ALL SELECT row_to_json(t)::text FROM meta_query t UNION ALL SELECT row_to_json(t)::text FROM had_generation t \
         UNION ALL SELECT row_to_json(t)::text FROM ground_truth t UNION ALL SELECT row_to_json(t)::text FROM deferred_feedback t \
         UNION ALL SELECT row_to_json(t)::text FROM chat t UNION ALL SELECT row_to_json(t)::text FROM chat_query t \
         UNION ALL SELECT row_to_json(t)::text FROM retrieval_file t \
         UNION ALL SELECT row_to_json(t)::text FROM (SELECT project_id, file_name, content FROM retrieval_chunk) t",
    )
    .fetch_all(&app.db)
    .await
    .expect("rows");
    rows.join("\n")
}

#[tokio::test]
async fn secrets_in_file_names_paths_chat_titles_and_short_passwords_are_neither_stored_nor_prompted_nor_answered() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "secrets").await;
    let (mut plugin, project) = app.signed_in("secrets@example.com").await;
    let project = Uuid::parse_str(&project).expect("project id");

    // A project file whose name carries a key and whose lines carry short passwords.
    let lines = [format!("password={SHORT}"), format!("db_password={LETTERS}"), "def connect():".to_owned(), "    pass".to_owned()];
    let update = json!({"context_updates": {format!("creds_{AWS_KEY}.py"): [
        {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": lines},
    ]}});
    let updated = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_no_secret("the update's answer", &updated.text);
    let context = updated.body["data"]["creds_<hidden>.py"].as_array().expect("the file, under its redacted name");
    assert_eq!(context[..2], [json!("password=<hidden>"), json!("db_password=<hidden>")]);

    // A completion from a file whose name and path carry the key, with a short password before
    // the caret; `debug` returns the prompt the model saw, other files included.
    let mut body = completion_body(&[5], &format!("password = '{SHORT}'\nsecret={LETTERS}\nconn = connect("));
    body["context"]["file_name"] = json!(format!("deploy/creds_{AWS_KEY}.py"));
    body["contextual_telemetry"]["file_path"] = json!(format!("/home/dev/deploy/creds_{AWS_KEY}.py"));
    body["max_new_tokens"] = json!(4);
    body["debug"] = json!(true);
    let completed = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
    assert_eq!(completed.status, 200, "{}", completed.text);
    assert_no_secret("the completion's answer (with its prompt)", &completed.text);
    let prompt = completed.body["data"]["completions"][0]["debug"]["prompt"].as_str().expect("the prompt report");
    assert!(prompt.contains("password = '<hidden>'\nsecret=<hidden>"), "{prompt}");
    let query_id = completed.body["data"]["meta_query_id"].as_str().expect("query id").to_owned();
    let feedback =
        json!({"meta_query_id": query_id, "model_id": 5, "was_accepted": true, "ground_truth": format!("conn = connect(password=\"{SHORT}\")")});
    assert_eq!(plugin.call(Method::POST, "/api/completion/feedback", Some(feedback)).await.status, 200);

    // A chat whose first message — what the title is made from — carries every secret.
    let chat_id = Uuid::new_v4();
    let chat = json!({
        "model_ids": [5], "chat_id": chat_id,
        "messages": [["user", format!("db_password={LETTERS} password={SHORT} creds_{AWS_KEY}.py login fails why")]],
        "context": {"prefix": "", "suffix": "", "file_name": format!("creds_{AWS_KEY}.py")},
        "contextual_telemetry": {"version_id": 3, "trigger_type_id": 1, "language_id": 47, "file_path": format!("/srv/creds_{AWS_KEY}.py")},
        "behavioral_telemetry": {}, "store_context": true,
    });
    let answered = plugin.call(Method::POST, "/api/chat/request", Some(chat)).await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    assert_no_secret("the chat answer and its title", &answered.text);
    let history = plugin.call(Method::GET, "/api/chat/get/1", None).await;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_no_secret("the chat history", &history.text);

    // Everything lands, and no row holds a secret.
    let query_id = Uuid::parse_str(&query_id).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM ground_truth WHERE completion_query_id = $1)", query_id).await;
    app.eventually("SELECT EXISTS (SELECT 1 FROM chat_query WHERE chat_id = $1)", chat_id).await;
    app.eventually("SELECT EXISTS (SELECT 1 FROM retrieval_chunk WHERE project_id = $1)", project).await;
    let rows = stored_rows(&app).await;
    assert_no_secret("the stored rows", &rows);
    let (file_name, file_path): (String, String) = sqlx::query_as(
        "SELECT c.file_name, t.file_path FROM meta_query mq JOIN context c ON c.context_id = mq.context_id \
         JOIN contextual_telemetry t ON t.contextual_telemetry_id = mq.contextual_telemetry_id WHERE mq.meta_query_id = $1",
    )
    .bind(query_id)
    .fetch_one(&app.db)
    .await
    .expect("the completion's context and telemetry");
    assert_eq!((file_name.as_str(), file_path.as_str()), ("deploy/creds_<hidden>.py", "/home/dev/deploy/creds_<hidden>.py"));
    let indexed: String =
        sqlx::query_scalar("SELECT file_name FROM retrieval_file WHERE project_id = $1").bind(project).fetch_one(&app.db).await.expect("indexed");
    assert_eq!(indexed, "creds_<hidden>.py");
    worker.stop().await;
}
