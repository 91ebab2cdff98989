//! The distributed pipeline end to end: the plugin's completion, feedback, context and chat calls
//! through the real server, Redis queues, the real worker running SmolLM2, and PostgreSQL.

use std::time::Duration;

use code4me_shared::jobs::Job;
use code4me_shared::jobs::llm::{CompletionTask, LlmJob, LlmTask};
use code4me_shared::jobs::telemetry::{DbWrite, FeedbackRecord, GenerationRow, QueryKind, QueryRecord};
use code4me_shared::reply::{Failure, Reply, ReplyEvent};
use code4me_tests::TestApp;
use code4me_tests::plugin::completion_body;
use code4me_tests::queues;
use code4me_tests::wait::wait_until;
use code4me_tests::worker::Worker;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn the_plugin_flow_completion_feedback_context_chat_and_history_works_and_lands_in_postgres() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "flow").await;
    let (mut plugin, _project) = app.signed_in("flow@example.com").await;

    // Multi-file context: upstream's worked example, then a completion that uses it.
    let update = json!({"context_updates": {"file1.py": [
        {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["import numpy as np", "np.array([1,2,3])"]},
        {"change_type": "update", "start_line": 0, "end_line": 1, "new_lines": ["import numpy as npp"]},
    ]}});
    let updated = plugin.call(Method::POST, "/api/completion/multi-file-context/update", Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.message(), "Multi-file context updated successfully.");
    assert_eq!(updated.body["data"], json!({"file1.py": ["import numpy as npp", "np.array([1,2,3])", ""]}));

    let reply = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "def fibonacci(n):\n    "))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.message(), "Completions generated successfully. Ready for display in your IDE.");
    let query_id = reply.body["data"]["meta_query_id"].as_str().expect("query id").to_owned();
    let item = &reply.body["data"]["completions"][0];
    assert_eq!(item["model_id"], 5);
    assert_eq!(item["model_name"], "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert!(item["completion"].is_string() && item["generation_time"].as_i64().expect("ms") > 0, "{item}");
    let confidence = item["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&confidence) && confidence > 0.0, "{confidence}");

    // Feedback right away: the query's rows may not be written yet; it is never a 404.
    let feedback = json!({"meta_query_id": query_id, "model_id": 5, "was_accepted": true, "ground_truth": "return n if n < 2 else fib(n-1)"});
    let recorded = plugin.call(Method::POST, "/api/completion/feedback", Some(feedback)).await;
    assert_eq!(recorded.status, 200, "{}", recorded.text);
    assert_eq!(recorded.body, json!({"message": "Feedback recorded successfully.", "data": {"meta_query_id": query_id, "model_id": 5}}));

    let fetched = plugin.call(Method::GET, &format!("/api/completion/{query_id}"), None).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.body["data"]["completions"][0]["completion"], item["completion"]);

    let id = uuid::Uuid::parse_str(&query_id).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM had_generation WHERE meta_query_id = $1 AND was_accepted)", id).await;
    app.eventually("SELECT EXISTS (SELECT 1 FROM ground_truth WHERE completion_query_id = $1)", id).await;
    let (prefix, language, shown, indexes): (String, i64, i64, String) = sqlx::query_as(
        "SELECT c.prefix, t.language_id, b.time_since_last_shown, mq.multi_file_context_changes_indexes FROM meta_query mq \
         JOIN context c ON c.context_id = mq.context_id JOIN contextual_telemetry t ON t.contextual_telemetry_id = mq.contextual_telemetry_id \
         JOIN behavioral_telemetry b ON b.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         JOIN completion_query cq ON cq.meta_query_id = mq.meta_query_id WHERE mq.meta_query_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .expect("every row of the query is stored");
    assert_eq!((prefix.as_str(), language, shown), ("def fibonacci(n):\n    ", 47, 1200));
    assert_eq!(serde_json::from_str::<Value>(&indexes).expect("json"), json!({"file1.py": 2}), "the context the prompt used");

    // Chat, its history, and deleting it.
    let chat_id = uuid::Uuid::new_v4();
    let chat = json!({
        "model_ids": [5], "chat_id": chat_id, "messages": [["user", "How do I reverse a list in Python?"]],
        "context": {"prefix": "", "suffix": ""}, "contextual_telemetry": {"version_id": 3, "trigger_type_id": 1, "language_id": 47},
        "behavioral_telemetry": {}, "web_enabled": false,
    });
    let answered = plugin.call(Method::POST, "/api/chat/request", Some(chat)).await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    assert_eq!(answered.body["chat_id"], json!(chat_id));
    assert!(!answered.body["title"].as_str().expect("title").is_empty());
    let turn = &answered.body["history"][0];
    assert_eq!(turn["user_message"]["content"], "How do I reverse a list in Python?", "the user's words, not the editor prefix");
    assert_eq!(turn["assistant_responses"][0]["model_id"], 3 + 2);

    let page = plugin.call(Method::GET, "/api/chat/get/1", None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["per_page"], 10);
    assert_eq!(page.body["items"][0]["chat_id"], json!(chat_id));
    assert_eq!(page.body["items"][0]["history"][0]["assistant_responses"][0]["completion"], turn["assistant_responses"][0]["completion"]);
    assert_eq!(plugin.call(Method::GET, "/api/chat/get/0", None).await.status, 422, "page 0 is a client error, not upstream's 500");

    let deleted = plugin.call(Method::DELETE, &format!("/api/chat/delete/{chat_id}"), None).await;
    assert_eq!(deleted.body, json!({"message": "Chat deleted successfully"}));
    assert_eq!(plugin.call(Method::GET, "/api/chat/get/1", None).await.body["items"], json!([]));
    assert_eq!(plugin.call(Method::DELETE, &format!("/api/chat/delete/{chat_id}"), None).await.status, 404);
    worker.stop().await;
}

#[tokio::test]
async fn unknown_and_unavailable_models_get_the_error_item_while_the_others_answer() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "mixed").await;
    let (mut plugin, _) = app.signed_in("mixed@example.com").await;
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5, 2, 999], "import os\n"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.body["data"]["completions"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["model_id"], 5);
    assert_eq!(items[1], json!({"message": "Completion for model failed", "model_name": "bigcode/starcoder2-3b"}));
    assert_eq!(items[2], json!({"message": "Completion for model failed", "model_name": "Model ID: 999"}));
    worker.stop().await;
}

#[tokio::test]
async fn feedback_is_refused_for_another_users_query_as_for_an_unknown_one_and_for_a_model_that_did_not_answer() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "owners").await;
    let (mut alice, _) = app.signed_in("alice@example.com").await;
    let (mut mallory, _) = app.signed_in("mallory@example.com").await;
    let reply = alice.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "x = "))).await;
    let query_id = reply.body["data"]["meta_query_id"].clone();
    let on = |model: i64| json!({"meta_query_id": query_id, "model_id": model, "was_accepted": true});
    let stolen = mallory.call(Method::POST, "/api/completion/feedback", Some(on(5))).await;
    assert_eq!((stolen.status, stolen.message()), (404, "Generation record not found"), "another user's query is not found, not forbidden");
    assert_eq!(mallory.call(Method::GET, &format!("/api/completion/{}", query_id.as_str().expect("id")), None).await.status, 404);
    let wrong_model = alice.call(Method::POST, "/api/completion/feedback", Some(on(2))).await;
    assert_eq!((wrong_model.status, wrong_model.message()), (404, "Generation record not found"));
    let unknown = alice
        .call(Method::POST, "/api/completion/feedback", Some(json!({"meta_query_id": uuid::Uuid::new_v4(), "model_id": 5, "was_accepted": false})))
        .await;
    assert_eq!(unknown.status, 404);
    let invalid =
        alice.call(Method::POST, "/api/completion/feedback", Some(json!({"meta_query_id": "nope", "model_id": -1, "was_accepted": true}))).await;
    assert_eq!(invalid.status, 422, "{}", invalid.text);
    worker.stop().await;
}

#[tokio::test]
async fn completion_bodies_that_break_the_contract_get_422s_with_the_field_path() {
    let app = TestApp::spawn().await;
    let (mut plugin, _) = app.signed_in("strict@example.com").await;
    let mut body = completion_body(&[5], "x");
    body["contextual_telemetry"]["language_id"] = json!(0);
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["loc"], json!(["body", "contextual_telemetry", "language_id"]));
    let mut body = completion_body(&[5], "x");
    body["context"].as_object_mut().expect("object").remove("prefix");
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["detail"][0]["type"], "missing");
    let mut body = completion_body(&[5], "x");
    body["contextual_telemetry"]["language_id"] = json!(9999);
    body["contextual_telemetry"]["trigger_type_id"] = json!(77);
    let reply = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
    assert_eq!(reply.status, 422, "an id that names no row could never be stored: {}", reply.text);
    let locs: Vec<&Value> = reply.body["detail"].as_array().expect("issues").iter().map(|i| &i["loc"]).collect();
    assert_eq!(locs, [&json!(["body", "contextual_telemetry", "trigger_type_id"]), &json!(["body", "contextual_telemetry", "language_id"])]);
    let mut anonymous = app.plugin();
    assert_eq!(anonymous.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "x"))).await.status, 401);
}

#[tokio::test]
async fn feedback_that_overtakes_its_query_is_applied_when_the_query_lands() {
    let app = TestApp::spawn().await;
    let (_plugin, project) = app.signed_in("early@example.com").await;
    let user_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'early@example.com'").fetch_one(&app.db).await.expect("user");
    let session_id: uuid::Uuid =
        sqlx::query_scalar("SELECT session_id FROM session WHERE user_id = $1").bind(user_id).fetch_one(&app.db).await.expect("session");
    let writer = code4me_worker::telemetry::BatchWriter::start(app.db.clone());
    let query_id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    let feedback = FeedbackRecord { query_id, model_id: 5, was_accepted: true, ground_truth: Some("print(x)".into()), received_at: now };
    writer.write(DbWrite::Feedback(feedback.clone())).await.expect("parked");
    writer.write(DbWrite::Feedback(feedback)).await.expect("a redelivered job is harmless");
    let record = QueryRecord {
        query_id,
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
        context: Some(code4me_shared::jobs::telemetry::ContextRow {
            prefix: "print(".into(),
            suffix: String::new(),
            file_name: Some("a.py".into()),
            selected_text: None,
        }),
        contextual: Some(code4me_shared::jobs::telemetry::ContextualRow {
            version_id: 3,
            trigger_type_id: 2,
            language_id: 47,
            caret_line: Some(1),
            ..Default::default()
        }),
        behavioral: Some(code4me_shared::jobs::telemetry::BehavioralRow { typing_speed: Some(3.0), ..Default::default() }),
        kind: QueryKind::Completion,
        generations: vec![GenerationRow {
            model_id: 5,
            completion: "print(".into(),
            generation_time_ms: 10,
            shown_at: now,
            confidence: 0.5,
            logprobs: vec![-0.7],
            provider: None,
            stages: Default::default(),
        }],
    };
    writer.write(DbWrite::Query(Box::new(record.clone()))).await.expect("written");
    writer.write(DbWrite::Query(Box::new(record))).await.expect("written twice, stored once");
    let (accepted, truths, parked): (bool, i64, i64) = sqlx::query_as(
        "SELECT g.was_accepted, (SELECT count(*) FROM ground_truth WHERE completion_query_id = $1), \
         (SELECT count(*) FROM deferred_feedback WHERE meta_query_id = $1) FROM had_generation g WHERE g.meta_query_id = $1",
    )
    .bind(query_id)
    .fetch_one(&app.db)
    .await
    .expect("generation stored");
    assert_eq!((accepted, truths, parked), (true, 1, 0));
}

/// Pushes a job straight onto the `llm` queue and returns the replies published for it.
async fn push_raw(app: &TestApp, job: &LlmJob) -> impl futures::Stream<Item = Reply> + use<> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let mut pubsub = client.get_async_pubsub().await.expect("pubsub");
    pubsub.subscribe(&job.reply_to).await.expect("subscribe");
    let redis = client.get_connection_manager().await.expect("connect");
    code4me_shared::queue::Producer::<LlmJob>::new(redis).push(job.clone()).await.expect("push");
    pubsub.into_on_message().map(|m| serde_json::from_str::<Reply>(&m.get_payload::<String>().expect("text")).expect("a Reply"))
}

fn raw_job(version: u32) -> LlmJob {
    LlmJob {
        version,
        request_id: uuid::Uuid::new_v4(),
        model_id: 5,
        reply_to: format!("replies:test-{}", uuid::Uuid::new_v4().simple()),
        stream: false,
        deadline_ms: chrono::Utc::now().timestamp_millis() + 60_000,
        enqueued_ms: chrono::Utc::now().timestamp_millis(),
        task: LlmTask::Completion(CompletionTask { prefix: "x = 1\n".into(), max_new_tokens: Some(2), ..CompletionTask::default() }),
    }
}

#[tokio::test]
async fn a_job_this_worker_cannot_read_is_aborted_once_not_retried_twenty_five_times() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "versions").await;
    let mut replies = Box::pin(push_raw(&app, &raw_job(99)).await);
    let reply = tokio::time::timeout(Duration::from_secs(20), replies.next()).await.expect("answered").expect("reply");
    assert!(matches!(&reply.event, ReplyEvent::Failed(Failure::UnsupportedJob(reason)) if reason.contains("version 99")), "{reply:?}");
    app.expect_dead_jobs(1);
    app.drain_queues().await;
    let llm = queues::state(&mut app.redis_connection().await, LlmJob::QUEUE).await.expect("queue state");
    assert_eq!((llm.dead, llm.retrying), (1, 0), "in the dead set, with no retry scheduled");
    // Drained with nothing scheduled: no run of it can still come.
    assert!(tokio::time::timeout(Duration::from_millis(10), replies.next()).await.is_err(), "never run again");
    worker.stop().await;
}

#[tokio::test]
async fn an_idle_worker_starts_a_pushed_job_at_once_not_at_its_next_poll() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "idle").await;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let job = raw_job(LlmJob::VERSION);
        let pushed = std::time::Instant::now();
        let mut replies = Box::pin(push_raw(&app, &job).await);
        let started = tokio::time::timeout(Duration::from_secs(20), replies.next()).await.expect("answered").expect("reply");
        assert!(matches!(started.event, ReplyEvent::Started { .. }), "{started:?}");
        waits.push(pushed.elapsed());
        let _ = tokio::time::timeout(Duration::from_secs(20), replies.next()).await;
        app.drain_queues().await; // idle again: the job is acknowledged
    }
    waits.sort();
    // The fallback poll is 1 s and apalis' own idle poll 30 s; a woken worker starts in milliseconds.
    assert!(waits[2] < Duration::from_millis(250), "median push→start {:?} (all: {waits:?})", waits[2]);
    worker.stop().await;
}

#[tokio::test]
async fn a_killed_workers_job_is_answered_by_another_worker() {
    let app = TestApp::spawn().await;
    let doomed = Worker::start(&app, "doomed").await;
    let (mut plugin, _) = app.signed_in("orphan@example.com").await;
    let mut body = completion_body(&[5], "class Stack:\n    def __init__(self):\n        ");
    body["stop_sequences"] = json!([]);
    let request = tokio::spawn(async move { plugin.call(Method::POST, "/api/completion/request", Some(body)).await });
    // Wait until the doomed worker (the only one) holds the job, then kill it.
    let mut redis = app.redis_connection().await;
    wait_until("the doomed worker takes the job", Duration::from_secs(30), async || {
        queues::state(&mut redis, LlmJob::QUEUE).await.expect("queue state").running > 0
    })
    .await;
    doomed.kill();
    let rescuer = Worker::start(&app, "rescuer").await;
    let reply = tokio::time::timeout(Duration::from_secs(60), request).await.expect("answered within the timeout").expect("task");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["completions"][0]["model_id"], 5, "answered by the rescuer: {}", reply.text);
    rescuer.stop().await;
}

#[tokio::test]
async fn workers_and_servers_recover_by_themselves_when_redis_restarts() {
    let mut app = TestApp::spawn().await;
    let worker = Worker::start(&app, "phoenix").await;
    let (mut plugin, _) = app.signed_in("phoenix@example.com").await;
    let first = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "a = "))).await;
    assert_eq!(first.status, 200, "{}", first.text);
    app.redis.restart();
    // Sessions live in Redis (with AOF in production; this test Redis starts empty), so sign in again.
    let (mut plugin, _) = app.signed_in("phoenix2@example.com").await;
    wait_until("completions work again after Redis came back", Duration::from_secs(30), async || {
        let reply = plugin.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "b = "))).await;
        reply.status == 200 && reply.body["data"]["completions"][0]["model_id"] == 5
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_payload_no_worker_can_decode_goes_to_the_dead_set_and_the_queue_keeps_moving() {
    use apalis::prelude::TaskSink;
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "poison").await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let redis = client.get_connection_manager().await.expect("connect");
    let mut raw = apalis_redis::RedisStorage::<Value>::new(redis).with_config(code4me_shared::queue::config::<LlmJob>());
    raw.push(json!({"not": "a job"})).await.expect("push garbage");
    let mut replies = Box::pin(push_raw(&app, &raw_job(LlmJob::VERSION)).await);
    let started = tokio::time::timeout(Duration::from_secs(20), replies.next()).await.expect("the next job still runs").expect("reply");
    assert!(matches!(started.event, ReplyEvent::Started { .. }), "{started:?}");
    app.expect_dead_jobs(1);
    let dead = queues::state(&mut app.redis_connection().await, LlmJob::QUEUE).await.expect("queue state").dead;
    assert_eq!(dead, 1, "the garbage is in the dead set");
    worker.stop().await;
}

#[tokio::test]
async fn finished_jobs_are_deleted_from_redis_after_the_retention() {
    let app = TestApp::spawn().await;
    let worker = Worker::start_with(&app, "vacuum", &[("QUEUE_KEEP_FINISHED_SECONDS", "1".to_owned())]).await;
    let mut job = raw_job(LlmJob::VERSION);
    job.model_id = 0; // names no model: answered at once
    let mut replies = Box::pin(push_raw(&app, &job).await);
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(20), replies.next()).await.expect("answered").expect("reply");
    }
    let mut redis = app.redis_connection().await;
    let data = code4me_shared::queue::config::<LlmJob>().job_data_hash();
    // apalis-redis alone keeps every finished job's payload and metadata forever.
    wait_until("the finished job's data is vacuumed once it is older than the retention", Duration::from_secs(10), async || {
        redis::cmd("HLEN").arg(&data).query_async::<i64>(&mut redis).await.expect("HLEN") == 0
    })
    .await;
    worker.stop().await;
}
