//! The worker's queues do not wait for each other: embedding project files for the retrieval index
//! (slow: a model call per batch of chunks) has its own `index` queue, so a query's telemetry on
//! `db` lands while a large indexing job is still running — even with one job at a time per queue.

use std::time::Instant;

use code4me_shared::jobs::index::{FileContents, IndexFilesRecord, IndexJob};
use code4me_shared::jobs::telemetry::{DbJob, DbWrite, QueryKind, QueryRecord};
use code4me_shared::queue::Producer;
use code4me_tests::TestApp;
use code4me_tests::worker::Worker;
use uuid::Uuid;

/// Files in the large indexing job.
const FILES: usize = 200;

/// A file of eight small functions (a chunk each), different in every file.
fn file(n: usize) -> Vec<String> {
    (0..8)
        .flat_map(|f| {
            [
                format!("def handler_{n}_{f}(request, store):"),
                format!("    \"\"\"Answers request kind {f} of module {n} from the store.\"\"\""),
                format!("    value = store.get(\"key_{n}_{f}\", {f})"),
                format!("    return value * {n} + {f}"),
                String::new(),
            ]
        })
        .collect()
}

#[tokio::test]
async fn a_querys_telemetry_lands_while_a_large_indexing_job_is_still_running() {
    let app = TestApp::spawn().await;
    let one_at_a_time = [("DB_CONCURRENCY", "1".to_owned()), ("INDEX_CONCURRENCY", "1".to_owned())];
    let worker = Worker::start_with(&app, "queues", &one_at_a_time).await;
    let email = "queues@example.com";
    let (_plugin, project) = app.signed_in(email).await;
    let project: Uuid = project.parse().expect("project id");
    let user_id: Uuid = sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = $1").bind(email).fetch_one(&app.db).await.expect("user");
    let session_id: Uuid =
        sqlx::query_scalar("SELECT session_id FROM session WHERE user_id = $1").bind(user_id).fetch_one(&app.db).await.expect("session");
    let redis =
        redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url").get_connection_manager().await.expect("connect");

    // A large indexing job, taken by the worker before the telemetry is queued.
    let files = (0..FILES).map(|n| (format!("pkg/module_{n}.py"), FileContents { version: 1, lines: file(n) })).collect();
    Producer::<IndexJob>::new(redis.clone()).push(IndexJob::new(IndexFilesRecord { project_id: project, files })).await.expect("push index");
    app.eventually("SELECT EXISTS (SELECT 1 FROM retrieval_file WHERE project_id = $1)", project).await;

    let query_id = Uuid::new_v4();
    let record = QueryRecord {
        query_id,
        user_id,
        session_id: Some(session_id),
        project_id: Some(project),
        client: Default::default(),
        api_key_id: None,
        timestamp: chrono::Utc::now(),
        total_serving_time_ms: 12,
        server_version_id: 1,
        config_id: Some(1),
        multi_file_context_changes_indexes: Default::default(),
        context: None,
        contextual: None,
        behavioral: None,
        kind: QueryKind::Completion,
        generations: Vec::new(),
    };
    let queued = Instant::now();
    Producer::<DbJob>::new(redis).push(DbJob::new(DbWrite::Query(Box::new(record)))).await.expect("push telemetry");
    app.eventually("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)", query_id).await;
    let landed_after = queued.elapsed();

    let indexed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM retrieval_file WHERE project_id = $1").bind(project).fetch_one(&app.db).await.expect("count");
    assert!(
        indexed < FILES as i64,
        "the index job stored all {FILES} files before the telemetry row landed ({landed_after:?} after it was queued): telemetry waited behind it"
    );
    // The index job is still embedding; a graceful stop would wait for it.
    worker.kill();
}
