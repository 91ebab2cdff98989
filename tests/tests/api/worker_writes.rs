//! Nothing a client sends can make one of the worker's writes fail for good (issue 19, class 8):
//! PostgreSQL's `text` cannot hold U+0000 and a write it refuses goes to the dead set, losing the
//! query's rows. Text the worker writes itself (model output, chunks, jobs an older server queued)
//! can still carry NULs, and a query's user, session or config can be deleted while it waits.

use code4me_shared::jobs::index::{FileContents, IndexFilesRecord};
use code4me_shared::jobs::telemetry::{
    BehavioralRow, ContextRow, ContextualRow, DbJob, DbWrite, FeedbackRecord, GenerationRow, QueryKind, QueryRecord,
};
use code4me_tests::TestApp;
use code4me_tests::tcp_proxy::TcpProxy;
use code4me_tests::worker::Worker;
use futures::StreamExt;
use uuid::Uuid;

/// The signed-in user's id and session, and the project.
async fn owner(app: &TestApp, email: &str) -> (Uuid, Uuid, Uuid) {
    let (_plugin, project) = app.signed_in(email).await;
    let user_id: Uuid = sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = $1").bind(email).fetch_one(&app.db).await.expect("user");
    let session_id: Uuid =
        sqlx::query_scalar("SELECT session_id FROM session WHERE user_id = $1").bind(user_id).fetch_one(&app.db).await.expect("session");
    (user_id, session_id, project.parse().expect("uuid"))
}

/// A query with `text` in every text field.
fn query(owner: (Uuid, Uuid, Uuid), kind: QueryKind, text: &str) -> QueryRecord {
    let now = chrono::Utc::now();
    QueryRecord {
        query_id: Uuid::new_v4(),
        user_id: owner.0,
        session_id: Some(owner.1),
        project_id: Some(owner.2),
        client: Default::default(),
        api_key_id: None,
        timestamp: now,
        total_serving_time_ms: 12,
        server_version_id: 1,
        config_id: Some(1),
        multi_file_context_changes_indexes: [(format!("a{text}.py"), 2)].into(),
        context: Some(ContextRow {
            prefix: format!("x = {text}"),
            suffix: text.into(),
            file_name: Some(format!("m{text}.py")),
            selected_text: Some(text.into()),
        }),
        contextual: Some(ContextualRow {
            version_id: 3,
            trigger_type_id: 2,
            language_id: 47,
            file_path: Some(format!("/p/m{text}.py")),
            ..Default::default()
        }),
        behavioral: Some(BehavioralRow { typing_speed: Some(3.0), ..Default::default() }),
        kind,
        generations: vec![GenerationRow {
            model_id: 5,
            completion: format!("print({text})"),
            generation_time_ms: 10,
            shown_at: now,
            confidence: 0.5,
            logprobs: vec![-0.7],
            provider: None,
            stages: Default::default(),
        }],
    }
}

async fn dead_db_jobs(app: &TestApp) -> i64 {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let mut redis = client.get_multiplexed_async_connection().await.expect("connect");
    redis::cmd("SCARD").arg(code4me_shared::queue::config::<DbJob>().dead_jobs_set()).query_async(&mut redis).await.expect("SCARD")
}

#[tokio::test]
async fn jobs_with_a_nul_in_every_text_field_are_written_not_moved_to_the_dead_set() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "nul").await;
    let owner = owner(&app, "nul@example.com").await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let producer = code4me_shared::queue::Producer::<DbJob>::new(client.get_connection_manager().await.expect("connect"));

    let completion = query(owner, QueryKind::Completion, "a\0b");
    let chat_id = Uuid::new_v4();
    let chat = query(owner, QueryKind::Chat { chat_id, title: "t\0itle".into(), web_enabled: false, user_message: "hi\0".into() }, "\0");
    let feedback = FeedbackRecord {
        query_id: completion.query_id,
        model_id: 5,
        was_accepted: true,
        ground_truth: Some("print(\0)".into()),
        received_at: chrono::Utc::now(),
    };
    let index = IndexFilesRecord {
        project_id: owner.2,
        files: [("lib\0.py".to_owned(), FileContents { version: 1, lines: vec!["def f():".into(), "    return '\0'".into()] })].into(),
    };
    for write in [
        DbWrite::Feedback(feedback),
        DbWrite::Query(Box::new(completion.clone())),
        DbWrite::Query(Box::new(chat.clone())),
        DbWrite::IndexFiles(index),
    ] {
        producer.push(DbJob::new(write)).await.expect("push");
    }

    app.eventually("SELECT EXISTS (SELECT 1 FROM ground_truth WHERE completion_query_id = $1)", completion.query_id).await;
    app.eventually("SELECT EXISTS (SELECT 1 FROM chat_query WHERE meta_query_id = $1)", chat.query_id).await;
    app.eventually("SELECT EXISTS (SELECT 1 FROM retrieval_chunk WHERE project_id = $1)", owner.2).await;
    let stored: (String, String, String, String, String, String) = sqlx::query_as(
        "SELECT c.prefix, c.file_name, t.file_path, g.completion, gt.ground_truth, mq.multi_file_context_changes_indexes FROM meta_query mq \
         JOIN context c ON c.context_id = mq.context_id JOIN contextual_telemetry t ON t.contextual_telemetry_id = mq.contextual_telemetry_id \
         JOIN had_generation g ON g.meta_query_id = mq.meta_query_id JOIN ground_truth gt ON gt.completion_query_id = mq.meta_query_id \
         WHERE mq.meta_query_id = $1",
    )
    .bind(completion.query_id)
    .fetch_one(&app.db)
    .await
    .expect("the completion's rows");
    assert_eq!(
        stored,
        (
            "x = a\u{FFFD}b".into(),
            "ma\u{FFFD}b.py".into(),
            "/p/ma\u{FFFD}b.py".into(),
            "print(a\u{FFFD}b)".into(),
            "print(\u{FFFD})".into(),
            "{\"aa\u{FFFD}b.py\":2}".into()
        )
    );
    let (title, message): (String, String) =
        sqlx::query_as("SELECT c.title, q.user_message FROM chat c JOIN chat_query q ON q.chat_id = c.chat_id WHERE c.chat_id = $1")
            .bind(chat_id)
            .fetch_one(&app.db)
            .await
            .expect("the chat's rows");
    assert_eq!((title.as_str(), message.as_str()), ("t\u{FFFD}itle", "hi\u{FFFD}"));
    let (file, content): (String, String) =
        sqlx::query_as("SELECT file_name, content FROM retrieval_chunk WHERE project_id = $1").bind(owner.2).fetch_one(&app.db).await.expect("chunk");
    assert_eq!(file, "lib\u{FFFD}.py");
    assert!(content.contains("return '\u{FFFD}'"), "{content}");
    // The jobs are acknowledged after their rows: once drained, a dead set would hold them.
    app.drain_queues().await;
    assert_eq!(dead_db_jobs(&app).await, 0, "no job in the dead set");
    worker.stop().await;
}

#[tokio::test]
async fn a_query_whose_owner_or_config_was_deleted_while_queued_is_settled_not_rejected() {
    let app = TestApp::spawn().await;
    let owner = owner(&app, "gone@example.com").await;
    let writer = code4me_worker::telemetry::BatchWriter::start(app.db.clone());

    // The session is gone (its user deleted with their data): nothing to store, and no error.
    let orphan = query((owner.0, Uuid::new_v4(), owner.2), QueryKind::Completion, "x");
    writer.write(DbWrite::Query(Box::new(orphan.clone()))).await.expect("settled, not rejected");
    let stored: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)")
        .bind(orphan.query_id)
        .fetch_one(&app.db)
        .await
        .expect("query");
    assert!(!stored);

    // The config is gone (an admin deleted it): the query is stored without it.
    let mut unconfigured = query(owner, QueryKind::Completion, "y");
    unconfigured.config_id = Some(987_654);
    let neighbour = query(owner, QueryKind::Completion, "z");
    let (first, second) =
        tokio::join!(writer.write(DbWrite::Query(Box::new(unconfigured.clone()))), writer.write(DbWrite::Query(Box::new(neighbour.clone()))));
    first.expect("stored without its config");
    second.expect("a neighbour in the same batch is stored too");
    let config: Option<i64> = sqlx::query_scalar("SELECT config_id FROM meta_query WHERE meta_query_id = $1")
        .bind(unconfigured.query_id)
        .fetch_one(&app.db)
        .await
        .expect("stored");
    assert_eq!(config, None);
    let neighbour_config: Option<i64> = sqlx::query_scalar("SELECT config_id FROM meta_query WHERE meta_query_id = $1")
        .bind(neighbour.query_id)
        .fetch_one(&app.db)
        .await
        .expect("stored");
    assert_eq!(neighbour_config, Some(1));
}

/// time_since_last_shown, time_since_last_accepted, typing_speed, relative_document_position, caret_line.
type StoredTelemetry = (Option<i64>, Option<i64>, Option<f64>, Option<f64>, Option<i32>);

#[tokio::test]
async fn telemetry_out_of_range_from_an_older_server_is_stored_as_null_not_refused_with_the_whole_batch() {
    let app = TestApp::spawn().await;
    let _worker = Worker::start(&app, "ranges").await;
    let owner = owner(&app, "ranges@example.com").await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let producer = code4me_shared::queue::Producer::<DbJob>::new(client.get_connection_manager().await.expect("connect"));
    let mut poisoned = query(owner, QueryKind::Completion, "x");
    poisoned.behavioral =
        Some(BehavioralRow { time_since_last_shown: Some(i64::MAX), time_since_last_accepted: Some(40), typing_speed: Some(1e308) });
    poisoned.contextual =
        Some(ContextualRow { relative_document_position: Some(7.5), caret_line: Some(3), ..poisoned.contextual.clone().expect("set") });
    producer.push(DbJob::new(DbWrite::Query(Box::new(poisoned.clone())))).await.expect("push");
    app.eventually("SELECT EXISTS (SELECT 1 FROM had_generation WHERE meta_query_id = $1)", poisoned.query_id).await;
    let stored: StoredTelemetry = sqlx::query_as(
        "SELECT b.time_since_last_shown, b.time_since_last_accepted, b.typing_speed, c.relative_document_position, c.caret_line FROM meta_query mq \
         JOIN behavioral_telemetry b ON b.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         JOIN contextual_telemetry c ON c.contextual_telemetry_id = mq.contextual_telemetry_id WHERE mq.meta_query_id = $1",
    )
    .bind(poisoned.query_id)
    .fetch_one(&app.db)
    .await
    .expect("the query's telemetry");
    assert_eq!(stored, (None, Some(40), None, None, Some(3)));
    assert_eq!(dead_db_jobs(&app).await, 0);
}

/// Completion queries of `user_id` stored without one of their rows (context, telemetry, the
/// completion marker, the generation).
const INCOMPLETE_QUERIES: &str = "SELECT count(*) FROM meta_query mq WHERE mq.user_id = $1 AND NOT ( \
     mq.context_id IS NOT NULL AND mq.contextual_telemetry_id IS NOT NULL AND mq.behavioral_telemetry_id IS NOT NULL \
     AND EXISTS (SELECT 1 FROM completion_query c WHERE c.meta_query_id = mq.meta_query_id) \
     AND EXISTS (SELECT 1 FROM had_generation g WHERE g.meta_query_id = mq.meta_query_id))";

#[tokio::test]
async fn thousands_of_queries_and_their_feedback_land_whole_through_a_postgres_outage_mid_run() {
    const QUERIES: usize = 1500;
    let app = TestApp::spawn().await;
    let relay = TcpProxy::start(app.database.port).await;
    let worker = Worker::start_with(&app, "ingest", &[("DB_PORT", relay.port.to_string())]).await;
    let owner = owner(&app, "ingest@example.com").await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let producer = code4me_shared::queue::Producer::<DbJob>::new(client.get_connection_manager().await.expect("connect"));
    // Each row's list of logprobs has its own length; the values must come back bit for bit.
    let logprobs = [-0.25, -1e-300, -745.133_219_101_941_1, -123.456_789];
    let queries: Vec<QueryRecord> = (0..QUERIES)
        .map(|i| {
            let mut q = query(owner, QueryKind::Completion, &format!("v{i}"));
            q.generations[0].logprobs = logprobs[..=i % logprobs.len()].to_vec();
            q
        })
        .collect();
    let feedback = |i: usize| {
        DbWrite::Feedback(FeedbackRecord {
            query_id: queries[i].query_id,
            model_id: 5,
            was_accepted: i.is_multiple_of(3),
            ground_truth: Some(format!("print(v{i}) # {i}")),
            received_at: chrono::Utc::now(),
        })
    };

    // Never may a reader see a query with only some of its rows.
    let (stop_watching, mut stopped) = tokio::sync::watch::channel(false);
    let db = app.db.clone();
    let watcher = tokio::spawn(async move {
        let mut worst = 0i64;
        while !*stopped.borrow() {
            let incomplete: i64 = sqlx::query_scalar(INCOMPLETE_QUERIES).bind(owner.0).fetch_one(&db).await.expect("count");
            worst = worst.max(incomplete);
            let _ = tokio::time::timeout(std::time::Duration::from_millis(20), stopped.changed()).await;
        }
        worst
    });

    // Feedback before its query for every even one (parked until the rows come), then the queries
    // and the rest of the feedback from sixteen pushers at once, PostgreSQL going away halfway.
    let push = |write: DbWrite| {
        let producer = producer.clone();
        async move { producer.push(DbJob::new(write)).await.expect("push") }
    };
    futures::stream::iter((0..QUERIES).step_by(2).map(|i| push(feedback(i)))).buffer_unordered(16).collect::<Vec<()>>().await;
    let rest: Vec<DbWrite> = (0..QUERIES)
        .flat_map(|i| {
            let query = DbWrite::Query(Box::new(queries[i].clone()));
            if i % 2 == 0 { vec![query] } else { vec![query, feedback(i)] }
        })
        .collect();
    let half = rest.len() / 2;
    let mut rest = rest.into_iter();
    futures::stream::iter(rest.by_ref().take(half).map(push)).buffer_unordered(16).collect::<Vec<()>>().await;
    relay.cut();
    futures::stream::iter(rest.map(push)).buffer_unordered(16).collect::<Vec<()>>().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    relay.restore();
    app.drain_queues().await;
    stop_watching.send(true).expect("watcher");
    assert_eq!(watcher.await.expect("watcher"), 0, "a query was visible with only some of its rows");

    let counted: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE g.was_accepted), \
         (SELECT count(*) FROM ground_truth gt JOIN meta_query m ON m.meta_query_id = gt.completion_query_id WHERE m.user_id = $1), \
         (SELECT count(*) FROM deferred_feedback) \
         FROM meta_query mq JOIN had_generation g ON g.meta_query_id = mq.meta_query_id WHERE mq.user_id = $1",
    )
    .bind(owner.0)
    .fetch_one(&app.db)
    .await
    .expect("count");
    let accepted = (0..QUERIES).filter(|i| i.is_multiple_of(3)).count() as i64;
    assert_eq!(counted, (QUERIES as i64, accepted, QUERIES as i64, 0), "queries, accepted, ground truths, parked feedback");
    let incomplete: i64 = sqlx::query_scalar(INCOMPLETE_QUERIES).bind(owner.0).fetch_one(&app.db).await.expect("count");
    assert_eq!(incomplete, 0, "queries missing some of their rows");
    for i in [0, 1, 2, 3, QUERIES - 1] {
        let (stored, truth): (Vec<f64>, String) = sqlx::query_as(
            "SELECT g.logprobs, gt.ground_truth FROM had_generation g JOIN ground_truth gt ON gt.completion_query_id = g.meta_query_id \
             WHERE g.meta_query_id = $1",
        )
        .bind(queries[i].query_id)
        .fetch_one(&app.db)
        .await
        .expect("stored");
        let sent = &queries[i].generations[0].logprobs;
        assert_eq!(stored.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), sent.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert_eq!(truth, format!("print(v{i}) # {i}"));
    }
    assert_eq!(dead_db_jobs(&app).await, 0);
    worker.stop().await;
}

#[tokio::test]
async fn a_backlog_of_twelve_thousand_jobs_queued_while_no_worker_ran_is_consumed() {
    // apalis-redis' fetch promotes every due job with one Lua `unpack`, which fails past about
    // 8,000: without the worker's chunked promotion this backlog stalls the queue for good.
    const JOBS: usize = 12_000;
    let app = TestApp::spawn().await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let producer = code4me_shared::queue::Producer::<DbJob>::new(client.get_connection_manager().await.expect("connect"));
    // Feedback for queries not stored yet: each job parks one row, the cheapest write there is.
    let queries: Vec<Uuid> = (0..JOBS).map(|_| Uuid::new_v4()).collect();
    futures::stream::iter(queries.iter().map(|&query_id| {
        let producer = producer.clone();
        async move {
            let feedback = FeedbackRecord { query_id, model_id: 5, was_accepted: false, ground_truth: None, received_at: chrono::Utc::now() };
            producer.push(DbJob::new(DbWrite::Feedback(feedback))).await.expect("push");
        }
    }))
    .buffer_unordered(32)
    .collect::<Vec<()>>()
    .await;

    let worker = Worker::start(&app, "backlog").await;
    app.drain_queues().await;
    let parked: i64 = sqlx::query_scalar("SELECT count(*) FROM deferred_feedback WHERE meta_query_id = ANY($1)")
        .bind(&queries)
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(parked, JOBS as i64, "every queued job ran");
    assert_eq!(dead_db_jobs(&app).await, 0);
    worker.stop().await;
}

#[tokio::test]
async fn telemetry_recorded_at_once_shares_jobs_and_every_write_lands() {
    const QUERIES: usize = 300;
    let app = TestApp::spawn().await;
    let owner = owner(&app, "coalesced@example.com").await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let pipeline = code4me_server::pipeline::Pipeline::start(client.get_connection_manager().await.expect("connect"), client.clone());
    let queries: Vec<QueryRecord> = (0..QUERIES).map(|i| query(owner, QueryKind::Completion, &format!("c{i}"))).collect();
    // The server's path, from many requests at once, with no worker running yet.
    futures::stream::iter(queries.iter().map(|q| pipeline.record(DbWrite::Query(Box::new(q.clone())))))
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()
        .expect("recorded");
    let mut redis = app.redis_connection().await;
    let jobs: usize = redis::cmd("HLEN").arg(code4me_shared::queue::config::<DbJob>().job_data_hash()).query_async(&mut redis).await.expect("HLEN");
    assert!(jobs < QUERIES / 2, "{jobs} jobs for {QUERIES} writes recorded at once");
    assert!(jobs >= QUERIES.div_ceil(code4me_server::pipeline::telemetry::MAX_WRITES_PER_JOB), "{jobs} jobs");

    let worker = Worker::start(&app, "coalesced").await;
    app.drain_queues().await;
    let ids: Vec<Uuid> = queries.iter().map(|q| q.query_id).collect();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM had_generation WHERE meta_query_id = ANY($1)").bind(&ids).fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, QUERIES as i64);
    let incomplete: i64 = sqlx::query_scalar(INCOMPLETE_QUERIES).bind(owner.0).fetch_one(&app.db).await.expect("count");
    assert_eq!(incomplete, 0);
    worker.stop().await;
}

/// A generation's query scope (time, owner, session, config, document telemetry, serving time)
/// as stored on the row.
type StoredScope = (
    chrono::DateTime<chrono::Utc>,
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<f64>,
    Option<i32>,
);

/// The bulk writer supplies each generation's query scope in its own INSERT, so the per-row trigger
/// that fills it for every other writer is skipped: the columns must hold what the trigger would
/// copy — the user's config for a query served without one, no document telemetry for a query sent
/// without it — or every analytics view scoped by user, config or language would miss the rows.
#[tokio::test]
async fn generations_written_in_bulk_carry_their_querys_scope() {
    let app = TestApp::spawn().await;
    let owner = owner(&app, "scope@example.com").await;
    // The user is on a config of their own; the configured query was served with the default one.
    let users_config: i64 =
        sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('config {}') RETURNING config_id").fetch_one(&app.db).await.expect("config");
    sqlx::query("UPDATE \"user\" SET config_id = $1 WHERE user_id = $2").bind(users_config).bind(owner.0).execute(&app.db).await.expect("assigned");
    let writer = code4me_worker::telemetry::BatchWriter::start(app.db.clone());
    let mut configured = query(owner, QueryKind::Completion, "a");
    configured.config_id = Some(1);
    let contextual = configured.contextual.as_mut().expect("contextual");
    (contextual.document_char_length, contextual.relative_document_position) = (Some(4_321), Some(0.25));
    let mut unconfigured = query(owner, QueryKind::Completion, "b");
    unconfigured.config_id = None;
    let mut bare = query(owner, QueryKind::Completion, "c");
    bare.contextual = None;
    let writes = [&configured, &unconfigured, &bare].map(|q| writer.write(DbWrite::Query(Box::new(q.clone()))));
    for written in futures::future::join_all(writes).await {
        written.expect("written");
    }

    let scope = |q: &QueryRecord, config: i64, document: Option<(i64, i64, Option<i32>, Option<f64>)>| {
        let (language, trigger, length, position) = document.map_or((None, None, None, None), |(l, t, n, p)| (Some(l), Some(t), n, p));
        (
            q.timestamp.timestamp_micros(),
            Some(q.user_id),
            Some("completion".to_owned()),
            q.session_id,
            Some(config),
            language,
            trigger,
            length,
            position,
            Some(12),
        )
    };
    let expected = [
        (&configured, scope(&configured, 1, Some((47, 2, Some(4_321), Some(0.25))))),
        (&unconfigured, scope(&unconfigured, users_config, Some((47, 2, None, None)))),
        (&bare, scope(&bare, 1, None)),
    ];
    for (q, expected) in expected {
        let s: StoredScope = sqlx::query_as(
            "SELECT query_timestamp, user_id, query_type, session_id, config_id, language_id, trigger_type_id, document_char_length, \
             relative_document_position, total_serving_time FROM had_generation WHERE meta_query_id = $1",
        )
        .bind(q.query_id)
        .fetch_one(&app.db)
        .await
        .expect("stored");
        assert_eq!((s.0.timestamp_micros(), s.1, s.2, s.3, s.4, s.5, s.6, s.7, s.8, s.9), expected, "query {}", q.query_id);
    }
}
