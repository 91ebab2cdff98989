//! The retrieval context end to end: files the plugin reports in its multi-file context are cut
//! into chunks and embedded with all-MiniLM-L6-v2 into pgvector by the real worker, and a
//! completion's prompt gets the chunks most related to the code before the caret — visible with
//! `debug`, switched by the user's config.

use std::sync::Arc;

use code4me_shared::jobs::index::{FileContents, IndexFilesRecord, IndexJob};
use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use code4me_tests::worker::Worker;
use code4me_worker::model::embedder::MiniLm;
use code4me_worker::retrieval::Retriever;
use code4me_worker::retrieval::index::IndexReport;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const USERS_PY: &[&str] = &[
    "import sqlite3",
    "",
    "",
    "def get_user_by_email(conn, email):",
    "    \"\"\"The user row with this email address, or None.\"\"\"",
    "    row = conn.execute(\"SELECT id, email, password_hash FROM users WHERE email = ?\", (email,)).fetchone()",
    "    return User(*row) if row else None",
    "",
    "",
    "def delete_user(conn, user_id):",
    "    conn.execute(\"DELETE FROM users WHERE id = ?\", (user_id,))",
    "    conn.commit()",
];

const STATS_PY: &[&str] = &[
    "def mean(values):",
    "    return sum(values) / len(values)",
    "",
    "",
    "def variance(values):",
    "    m = mean(values)",
    "    return sum((v - m) ** 2 for v in values) / len(values)",
    "",
    "",
    "def histogram(values, bins):",
    "    width = (max(values) - min(values)) / bins",
    "    return [sum(1 for v in values if lo <= v < lo + width) for lo in range(bins)]",
];

/// The plugin's first report of a file: inserted whole at line 0.
fn insert(lines: &[&str]) -> Value {
    json!([{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": lines}])
}

/// A completion in `service.py` that logs a user in, asking for the prompt report.
fn login_completion() -> Value {
    let mut body = completion_body(
        &[5],
        "from db.users import get_user_by_email\n\n\ndef login(conn, email, password):\n    user = get_user_by_email(conn, email)\n    if user is None:\n        ",
    );
    body["context"]["file_name"] = json!("service.py");
    body["context"]["context_files"] = json!([]);
    body["debug"] = json!(true);
    body
}

#[tokio::test]
async fn the_chunk_related_to_the_code_before_the_caret_is_added_to_the_prompt() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "retrieval").await;
    let (mut plugin, project) = app.signed_in("rag@example.com").await;
    let project = Uuid::parse_str(&project).expect("project id");

    let update = json!({"context_updates": {"db/users.py": insert(USERS_PY), "stats.py": insert(STATS_PY)}});
    let updated = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    app.eventually("SELECT count(DISTINCT file_name) = 2 FROM retrieval_chunk WHERE project_id = $1", project).await;

    let reply = plugin.call(Method::POST, "/api/completion/request", Some(login_completion())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let item = &reply.body["data"]["completions"][0];
    let debug = &item["debug"];
    assert_eq!(debug["retrieval_enabled"], true, "config 1 turns retrieval on: {debug}");
    assert_eq!(
        debug["retrieval_query"],
        "from db.users import get_user_by_email\n\n\ndef login(conn, email, password):\n    user = get_user_by_email(conn, email)\n    if user is None:"
    );
    let snippets = debug["snippets"].as_array().expect("snippets");
    let files: Vec<&str> = snippets.iter().map(|s| s["file_name"].as_str().expect("file")).collect();
    assert!(files.contains(&"db/users.py"), "the related file is retrieved: {debug}");
    assert!(!files.contains(&"stats.py"), "unrelated code stays out: {debug}");
    let lookup = snippets.iter().find(|s| s["content"].as_str().is_some_and(|c| c.contains("def get_user_by_email"))).expect("the function's chunk");
    assert!(lookup["score"].as_f64().expect("score") >= 0.35);
    assert!(!lookup["content"].as_str().expect("content").contains("def delete_user"), "one function per chunk: {lookup}");
    let total: usize = snippets.iter().map(|s| s["content"].as_str().expect("content").chars().count()).sum();
    assert!(total <= 768, "within config 1's budget: {total}");

    // The prompt the model saw: the snippet as a file block before the edited file.
    let prompt = debug["prompt"].as_str().expect("prompt");
    let snippet_at = prompt.find("<file_sep>db/users.py\n").expect("snippet block in the prompt");
    let current_at = prompt.find("<file_sep>service.py\nfrom db.users import").expect("current file block");
    assert!(snippet_at < current_at, "{prompt}");
    assert!(prompt[snippet_at..current_at].contains("def get_user_by_email(conn, email):"));

    assert_eq!(debug["retrieval_reused"], false);

    // The next keystroke on the same line searches with the same text: the last search is reused.
    let mut next = login_completion();
    next["context"]["prefix"] = json!(format!("{}r", next["context"]["prefix"].as_str().expect("prefix")));
    let again = plugin.call(Method::POST, "/api/completion/request", Some(next)).await;
    let reused = &again.body["data"]["completions"][0]["debug"];
    assert_eq!(reused["retrieval_reused"], true, "{reused}");
    assert_eq!(reused["snippets"], debug["snippets"]);

    // Without `debug` the contract's item is unchanged, and the stored record never has it.
    let mut plain = login_completion();
    plain.as_object_mut().expect("object").remove("debug");
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(plain)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body["data"]["completions"][0].get("debug").is_none());
    let query_id = reply.body["data"]["meta_query_id"].as_str().expect("id").to_owned();
    let fetched = plugin.call(Method::GET, &format!("/api/completion/{query_id}"), None).await;
    assert!(fetched.body["data"]["completions"][0].get("debug").is_none(), "{}", fetched.text);

    // A file the request already includes whole is not retrieved again.
    let mut whole = login_completion();
    whole["context"]["context_files"] = json!(["db/users.py"]);
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(whole)).await;
    let debug = &reply.body["data"]["completions"][0]["debug"];
    assert!(debug["snippets"].as_array().expect("snippets").iter().all(|s| s["file_name"] != "db/users.py"), "{debug}");
    assert_eq!(debug["prompt"].as_str().expect("prompt").matches("def get_user_by_email(conn, email):").count(), 1);

    // Removing the file's lines drops its chunks (and the worker's reusable last search).
    let remove = json!({"context_updates": {"db/users.py": [{"change_type": "remove", "start_line": 0, "end_line": 12, "new_lines": []}]}});
    assert_eq!(plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(remove)).await.status, 200);
    app.eventually("SELECT NOT EXISTS (SELECT 1 FROM retrieval_chunk WHERE project_id = $1 AND file_name = 'db/users.py')", project).await;
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(login_completion())).await;
    let debug = &reply.body["data"]["completions"][0]["debug"];
    assert!(debug["snippets"].as_array().expect("snippets").iter().all(|s| s["file_name"] != "db/users.py"), "{debug}");
    worker.stop().await;
}

#[tokio::test]
async fn a_config_without_the_retrieval_block_indexes_and_retrieves_nothing() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "no-retrieval").await;
    let (mut plugin, project) = app.signed_in("plain@example.com").await;
    let project = Uuid::parse_str(&project).expect("project id");
    let config_id: i64 = sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('config { models { available = [] } }') RETURNING config_id")
        .fetch_one(&app.db)
        .await
        .expect("config row");
    sqlx::query("UPDATE \"user\" SET config_id = $1 WHERE email = 'plain@example.com'").bind(config_id).execute(&app.db).await.expect("move user");

    let update = json!({"context_updates": {"db/users.py": insert(USERS_PY)}});
    assert_eq!(plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await.status, 200);
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(login_completion())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let debug = &reply.body["data"]["completions"][0]["debug"];
    assert_eq!(debug["retrieval_enabled"], false, "{debug}");
    assert_eq!(debug["snippets"], json!([]));
    assert!(!debug["prompt"].as_str().expect("prompt").contains("get_user_by_email(conn, email):\n"), "no file block was added");

    // Telemetry of that completion has landed, and no index job was ever queued (indexing has its
    // own queue, so landed telemetry alone would not prove it).
    let query_id = Uuid::parse_str(reply.body["data"]["meta_query_id"].as_str().expect("id")).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)", query_id).await;
    let indexed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM retrieval_file WHERE project_id = $1").bind(project).fetch_one(&app.db).await.expect("count");
    assert_eq!(indexed, 0);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let mut redis = client.get_multiplexed_async_connection().await.expect("connect");
    let index_jobs: i64 =
        redis::cmd("HLEN").arg(code4me_shared::queue::config::<IndexJob>().job_data_hash()).query_async(&mut redis).await.expect("HLEN");
    assert_eq!(index_jobs, 0, "no index job was queued");
    worker.stop().await;
}

#[tokio::test]
async fn indexing_reuses_unchanged_chunks_and_never_goes_back_a_version() {
    let app = TestApp::spawn().await;
    let (_plugin, project) = app.signed_in("index@example.com").await;
    let project = Uuid::parse_str(&project).expect("project id");
    let models = code4me_tests::process::repo_root().join("data/models").join(code4me_worker::EMBEDDING_MODEL_DIR);
    let retriever = Retriever::new(app.db.clone(), Arc::new(MiniLm::load(&models).expect("all-MiniLM-L6-v2 (./test.sh fetches it)")));
    let record = |version: i64, lines: Vec<String>| IndexFilesRecord {
        project_id: project,
        files: [("stats.py".to_owned(), FileContents { version, lines })].into(),
    };
    let original: Vec<String> = STATS_PY.iter().map(|l| (*l).to_owned()).collect();
    let mut edited = original.clone();
    edited[1] = "    return sum(values) / max(len(values), 1)".into();

    let first = retriever.index(&record(1, original.clone())).await.expect("index v1");
    assert_eq!(first, IndexReport { files_indexed: 1, chunks_embedded: 3, ..IndexReport::default() });
    assert_eq!(retriever.index(&record(1, original.clone())).await.expect("again"), IndexReport { files_skipped: 1, ..IndexReport::default() });

    let second = retriever.index(&record(2, edited.clone())).await.expect("index v2");
    assert_eq!(second, IndexReport { files_indexed: 1, chunks_embedded: 1, chunks_reused: 2, ..IndexReport::default() }, "only the edited function");
    let late = retriever.index(&record(1, original)).await.expect("a late v1");
    assert_eq!(late.files_skipped, 1, "an older version never replaces a newer one");
    let stored: String = sqlx::query_scalar("SELECT content FROM retrieval_chunk WHERE project_id = $1 AND start_line = 0")
        .bind(project)
        .fetch_one(&app.db)
        .await
        .expect("chunk");
    assert!(stored.contains("max(len(values), 1)"), "{stored}");

    retriever.index(&record(3, Vec::new())).await.expect("emptied");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM retrieval_chunk WHERE project_id = $1").bind(project).fetch_one(&app.db).await.expect("count");
    assert_eq!(left, 0, "a file that left the context leaves the index");
}
