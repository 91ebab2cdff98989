//! `/api/analytics/research/...`: code survival and effort figures from a hand-built telemetry
//! history, and the worker scoring each ground truth for survival when it stores it.

use chrono::{DateTime, Duration, Utc};
use code4me_shared::jobs::telemetry::{DbJob, DbWrite, FeedbackRecord, GenerationRow, QueryKind, QueryRecord};
use code4me_tests::TestApp;
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// One stored completion of `user` in `session` (query time `at`), its document `length`
/// characters long in `file`; accepted at `accepted_at` when given.
struct Completion<'a> {
    user: Uuid,
    session: Uuid,
    at: DateTime<Utc>,
    text: &'a str,
    accepted_at: Option<DateTime<Utc>>,
    file: &'a str,
    length: i32,
}

async fn session_of(app: &TestApp, user: Uuid) -> Uuid {
    let session = Uuid::new_v4();
    sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, now())")
        .bind(session)
        .bind(user)
        .execute(&app.db)
        .await
        .expect("session");
    session
}

async fn store(app: &TestApp, c: Completion<'_>) -> Uuid {
    let (project, query) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, 'p', now())")
        .bind(project)
        .execute(&app.db)
        .await
        .expect("project");
    // Separate statements: had_generation's trigger copies its query's time and user from
    // meta_query, which a sibling CTE's insert would not show it yet.
    sqlx::query(
        "WITH t AS (INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, file_path, document_char_length) \
                    VALUES ($1, 3, 1, 47, $6, $7)) \
         INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, session_id, project_id, \"timestamp\", total_serving_time, query_type) \
         VALUES ($1, $2, $1, $3, $4, $5, 100, 'completion')",
    )
    .bind(query)
    .bind(c.user)
    .bind(c.session)
    .bind(project)
    .bind(c.at)
    .bind(c.file)
    .bind(c.length)
    .execute(&app.db)
    .await
    .expect("query");
    sqlx::query(
        "WITH c AS (INSERT INTO completion_query (meta_query_id) VALUES ($1)) \
         INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, accepted_at) \
         VALUES ($1, 5, $2, 50, ARRAY[$3::timestamptz], $4::timestamptz IS NOT NULL, 0.5, ARRAY[-0.1], $4)",
    )
    .bind(query)
    .bind(c.text)
    .bind(c.at)
    .bind(c.accepted_at)
    .execute(&app.db)
    .await
    .expect("generation");
    query
}

/// A ground truth `after` acceptance, scored `similarity`.
async fn truth(app: &TestApp, query: Uuid, accepted_at: DateTime<Utc>, after: Duration, similarity: f64) {
    sqlx::query(
        "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth, model_id, similarity) VALUES ($1, $2, 'later', 5, $3)",
    )
    .bind(query)
    .bind(accepted_at + after)
    .bind(similarity)
    .execute(&app.db)
    .await
    .expect("ground truth");
}

fn point(body: &Value, checkpoint: i64) -> &Value {
    body["data"].as_array().expect("data").iter().find(|p| p["checkpoint_seconds"] == checkpoint).expect("checkpoint")
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

#[tokio::test]
async fn survival_counts_each_accepted_completion_once_per_checkpoint_from_its_earliest_ground_truth_there() {
    let app = TestApp::spawn().await;
    let (mut researcher, me) = app.signed_up("me@example.com", false).await;
    let (_, other) = app.signed_up("other@example.com", false).await;
    let (mine, theirs) = (session_of(&app, me).await, session_of(&app, other).await);
    let accepted = Utc::now() - Duration::hours(1);
    let s = Duration::seconds;
    let completion =
        |user, session, accepted_at| Completion { user, session, at: accepted - s(2), text: "return x", accepted_at, file: "a.py", length: 100 };
    // A: verbatim at 45 s, edited (0.85) at 2.5 min, rewritten (0.3) at 11 min.
    let a = store(&app, completion(me, mine, Some(accepted))).await;
    truth(&app, a, accepted, s(45), 1.0).await;
    truth(&app, a, accepted, s(150), 0.85).await;
    truth(&app, a, accepted, s(660), 0.3).await;
    // B: 0.9 at 31 s, then verbatim again at 50 s (only the earliest in a span counts).
    let b = store(&app, completion(me, mine, Some(accepted))).await;
    truth(&app, b, accepted, s(31), 0.9).await;
    truth(&app, b, accepted, s(50), 1.0).await;
    // C: only a ground truth before the first checkpoint (the plugin's 15 s): not counted.
    let c = store(&app, completion(me, mine, Some(accepted))).await;
    truth(&app, c, accepted, s(15), 1.0).await;
    // D: accepted before acceptance times were recorded: its query's time stands in (2 s earlier).
    let d = store(&app, Completion { accepted_at: None, ..completion(me, mine, None) }).await;
    sqlx::query("UPDATE had_generation SET was_accepted = TRUE WHERE meta_query_id = $1").bind(d).execute(&app.db).await.expect("accepted");
    truth(&app, d, accepted - s(2), s(301), 0.5).await;
    // Someone else's, invisible to a non-admin.
    let e = store(&app, completion(other, theirs, Some(accepted))).await;
    truth(&app, e, accepted, s(40), 0.0).await;

    let reply = researcher.call(Method::GET, "/api/analytics/research/code-survival", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &reply.body;
    assert_eq!(body["mostly_unchanged_threshold"], 0.8);
    // 30 s: A (1.0) and B (0.9) — one verbatim, both mostly unchanged.
    let at30 = point(body, 30);
    assert_eq!(at30["generations"], 2, "{body}");
    assert!(close(&at30["unchanged_rate"], 0.5) && close(&at30["mostly_unchanged_rate"], 1.0) && close(&at30["avg_similarity"], 0.95), "{at30}");
    // 2 min: A at 0.85. 5 min: D at 0.5. 10 min: A at 0.3.
    let at120 = point(body, 120);
    assert!(at120["generations"] == 1 && close(&at120["unchanged_rate"], 0.0) && close(&at120["mostly_unchanged_rate"], 1.0), "{at120}");
    let at300 = point(body, 300);
    assert!(at300["generations"] == 1 && close(&at300["mostly_unchanged_rate"], 0.0), "{at300}");
    assert!(point(body, 600)["generations"] == 1 && close(&point(body, 600)["avg_similarity"], 0.3), "{body}");
    // Wilson intervals: 1 of 2 → [0.0945, 0.9055].
    assert!((at30["unchanged_95ci"]["lower"].as_f64().expect("lower") - 0.0945).abs() < 1e-4, "{at30}");

    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let everyone = admin.call(Method::GET, "/api/analytics/research/code-survival", None).await;
    assert_eq!(point(&everyone.body, 30)["generations"], 3, "the admin sees the other user's too: {}", everyone.text);
    let none =
        admin.call(Method::GET, "/api/analytics/research/code-survival?end_time=2020-01-01T00:00:00Z&start_time=2019-01-01T00:00:00Z", None).await;
    assert!(none.body["data"].as_array().expect("data").iter().all(|p| p["generations"] == 0 && p["unchanged_rate"].is_null()), "{}", none.text);
    let bad = admin.call(Method::GET, "/api/analytics/research/code-survival?user_id=nope", None).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn effort_counts_shown_and_accepted_queries_characters_per_active_day_and_the_suggested_share_of_new_code() {
    let app = TestApp::spawn().await;
    let (mut researcher, me) = app.signed_up("me@example.com", false).await;
    let session = session_of(&app, me).await;
    let today = Utc::now() - Duration::hours(1);
    let yesterday = today - Duration::days(1);
    // Three queries in a.py (document 100 → 160 characters), one in b.py (no growth), across two
    // days: one empty completion (not shown), two accepted (8 + 12 characters).
    for (at, text, accepted, file, length) in [
        (yesterday, "return x", true, "a.py", 100),
        (today, "", false, "a.py", 130),
        (today, "print(value)", true, "a.py", 160),
        (today, "pass", false, "b.py", 40),
    ] {
        store(&app, Completion { user: me, session, at, text, accepted_at: accepted.then_some(at), file, length }).await;
    }
    let reply = researcher.call(Method::GET, "/api/analytics/research/effort", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let e = &reply.body;
    assert_eq!((e["requested"].clone(), e["shown"].clone(), e["accepted"].clone()), (json!(4), json!(3), json!(2)), "{e}");
    assert!(close(&e["shown_rate"], 0.75) && close(&e["acceptance_per_shown"], 2.0 / 3.0), "{e}");
    assert_eq!((e["accepted_chars"].clone(), e["active_user_days"].clone()), (json!(20), json!(2)), "{e}");
    assert!(close(&e["accepted_chars_per_active_user_day"], 10.0), "{e}");
    // 20 accepted characters of 60 new ones.
    assert_eq!(e["document_growth_chars"], 60);
    assert!(close(&e["suggested_share_of_new_code"], 20.0 / 60.0), "{e}");
}

#[tokio::test]
async fn the_worker_scores_each_ground_truth_and_keeps_the_first_acceptance_time() {
    let app = TestApp::spawn().await;
    let _worker = Worker::start(&app, "survival").await;
    let (_plugin, project) = app.signed_in("owner@example.com").await;
    let user_id: Uuid = sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'owner@example.com'").fetch_one(&app.db).await.expect("user");
    let session_id: Uuid =
        sqlx::query_scalar("SELECT session_id FROM session WHERE user_id = $1").bind(user_id).fetch_one(&app.db).await.expect("session");
    let now = Utc::now();
    let query = QueryRecord {
        query_id: Uuid::new_v4(),
        user_id,
        session_id: Some(session_id),
        project_id: Some(project.parse().expect("uuid")),
        client: Default::default(),
        api_key_id: None,
        timestamp: now,
        total_serving_time_ms: 12,
        server_version_id: 1,
        config_id: Some(1),
        multi_file_context_changes_indexes: Default::default(),
        context: None,
        contextual: None,
        behavioral: None,
        kind: QueryKind::Completion,
        generations: vec![GenerationRow {
            model_id: 5,
            completion: "return sum(items)".into(),
            generation_time_ms: 10,
            shown_at: now,
            confidence: 0.5,
            logprobs: vec![-0.7],
            provider: None,
            stages: Default::default(),
        }],
    };
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let producer = code4me_shared::queue::Producer::<DbJob>::new(client.get_connection_manager().await.expect("connect"));
    producer.push(DbJob::new(DbWrite::Query(Box::new(query.clone())))).await.expect("push");
    app.eventually("SELECT EXISTS (SELECT 1 FROM had_generation WHERE meta_query_id = $1)", query.query_id).await;
    let accepted_at = now + Duration::seconds(1);
    // The plugin's acceptance, then its ground truths: verbatim, then with one character edited.
    let feedback = |ground_truth: Option<&str>, received_at| FeedbackRecord {
        query_id: query.query_id,
        model_id: 5,
        was_accepted: true,
        ground_truth: ground_truth.map(str::to_owned),
        received_at,
    };
    producer.push(DbJob::new(DbWrite::Feedback(feedback(None, accepted_at)))).await.expect("push");
    app.eventually("SELECT accepted_at IS NOT NULL FROM had_generation WHERE meta_query_id = $1", query.query_id).await;
    for (truth, at) in [
        (Some("def total(items):\n    return sum(items)\n"), accepted_at + Duration::seconds(45)),
        (Some("def total(items):\n    return sum(item)\n"), accepted_at + Duration::seconds(150)),
    ] {
        producer.push(DbJob::new(DbWrite::Feedback(feedback(truth, at)))).await.expect("push");
    }
    app.eventually("SELECT count(*) = 2 FROM ground_truth WHERE completion_query_id = $1", query.query_id).await;
    let scores: Vec<(Option<i64>, Option<f64>)> =
        sqlx::query_as("SELECT model_id, similarity FROM ground_truth WHERE completion_query_id = $1 ORDER BY truth_timestamp")
            .bind(query.query_id)
            .fetch_all(&app.db)
            .await
            .expect("scores");
    assert_eq!(scores[0], (Some(5), Some(1.0)));
    let edited = scores[1].1.expect("scored");
    assert!((edited - (1.0 - 1.0 / 17.0)).abs() < 1e-12, "one edit in 17 characters: {edited}");
    let stored: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT accepted_at FROM had_generation WHERE meta_query_id = $1")
        .bind(query.query_id)
        .fetch_one(&app.db)
        .await
        .expect("row");
    assert_eq!(stored.map(|t| t.timestamp_micros()), Some(accepted_at.timestamp_micros()), "the first acceptance's time, not a later feedback's");
}

#[tokio::test]
async fn a_real_completion_records_its_latency_by_stage() {
    let app = TestApp::spawn().await;
    let _worker = Worker::start(&app, "stages").await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("stages@example.com", "Secret123").await;
    let reply =
        plugin.call(Method::POST, "/api/completion/request", Some(code4me_tests::plugin::completion_body(&[5], "def add(a, b):\n    "))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let query = Uuid::parse_str(reply.body["data"]["meta_query_id"].as_str().expect("id")).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM had_generation WHERE meta_query_id = $1)", query).await;
    let (queue_wait, first_token, generation, serving): (Option<i32>, Option<i32>, i32, Option<i32>) = sqlx::query_as(
        "SELECT hg.queue_wait_ms, hg.first_token_ms, hg.generation_time, mq.total_serving_time FROM had_generation hg \
         JOIN meta_query mq USING (meta_query_id) WHERE hg.meta_query_id = $1",
    )
    .bind(query)
    .fetch_one(&app.db)
    .await
    .expect("the generation");
    let (queue_wait, first_token, serving) =
        (queue_wait.expect("queue wait recorded"), first_token.expect("first token recorded"), serving.expect("serving time"));
    assert!(first_token > 0 && first_token <= generation, "the first token comes inside the model's time: {first_token} of {generation} ms");
    assert!(
        queue_wait + generation <= serving + 5,
        "queue and model fit in the server's time (±5 ms of two clocks): {queue_wait} + {generation} vs {serving}"
    );

    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let stages = admin.call(Method::GET, "/api/analytics/research/latency-stages", None).await;
    assert_eq!(stages.status, 200, "{}", stages.text);
    let row = &stages.body["data"][0];
    assert_eq!(row["generations"], 1, "{row}");
    assert!(close(&row["prefill"]["p50_ms"], f64::from(first_token)), "{row}");
    assert!(close(&row["decode"]["p50_ms"], f64::from(generation - first_token)), "{row}");
    assert!(close(&row["queue_wait"]["p50_ms"], f64::from(queue_wait)), "{row}");
    assert!(close(&row["total"]["p50_ms"], f64::from(serving)), "{row}");
}
