//! Who owns what: a client-chosen chat id belongs to whoever's turn created it, even when two users
//! race on it, and another user's query and chat ids answer exactly like ids that do not exist.

use code4me_shared::jobs::telemetry::{DbWrite, QueryKind, QueryRecord};
use code4me_tests::TestApp;
use code4me_tests::plugin::{Plugin, completion_body};
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

fn chat_body(chat_id: Uuid, question: &str) -> Value {
    json!({
        "model_ids": [5], "chat_id": chat_id, "messages": [["user", question]],
        "context": {"prefix": "", "suffix": ""}, "contextual_telemetry": {"version_id": 3, "trigger_type_id": 1, "language_id": 47},
        "behavioral_telemetry": {},
    })
}

/// The user messages of every turn on the caller's first history page, by chat.
async fn history(plugin: &mut Plugin) -> Vec<(Value, Vec<Value>)> {
    let page = plugin.call(Method::GET, "/api/chat/get/1", None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|chat| {
            let turns = chat["history"].as_array().expect("turns").iter().map(|t| t["user_message"]["content"].clone()).collect();
            (chat["chat_id"].clone(), turns)
        })
        .collect()
}

const NOT_FOUND: (u16, &str) = (404, "Query not found");

#[tokio::test]
async fn two_users_racing_on_one_fresh_chat_id_leave_it_with_exactly_one_owner() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "race").await;
    let (mut alice, _) = app.signed_in("alice@example.com").await;
    let (mut bob, _) = app.signed_in("bob@example.com").await;
    let chat_id = Uuid::new_v4();
    let (a, b) = tokio::join!(
        alice.call(Method::POST, "/api/chat/request", Some(chat_body(chat_id, "from alice"))),
        bob.call(Method::POST, "/api/chat/request", Some(chat_body(chat_id, "from bob"))),
    );
    let statuses = [a.status, b.status];
    assert!(statuses == [200, 404] || statuses == [404, 200], "exactly one turn succeeds: {} / {}", a.text, b.text);
    let (winner, loser, winning_text, lost) =
        if a.status == 200 { (&mut alice, &mut bob, "from alice", &b) } else { (&mut bob, &mut alice, "from bob", &a) };
    assert_eq!((lost.status, lost.message()), NOT_FOUND, "the loser is told the chat does not exist");

    assert_eq!(history(winner).await, vec![(json!(chat_id), vec![json!(winning_text)])], "only the owner's turn is in the chat");
    assert_eq!(history(loser).await, Vec::new());
    let strangers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chat_query cq JOIN meta_query mq ON mq.meta_query_id = cq.meta_query_id JOIN chat c ON c.chat_id = cq.chat_id \
         WHERE cq.chat_id = $1 AND mq.user_id IS DISTINCT FROM c.user_id",
    )
    .bind(chat_id)
    .fetch_one(&app.db)
    .await
    .expect("count");
    assert_eq!(strangers, 0);
    worker.stop().await;
}

#[tokio::test]
async fn another_users_query_and_chat_ids_answer_exactly_like_ids_that_do_not_exist() {
    let app = TestApp::spawn().await;
    let worker = Worker::start(&app, "oracle").await;
    let (mut alice, _) = app.signed_in("alice@example.com").await;
    let (mut mallory, _) = app.signed_in("mallory@example.com").await;
    let completion = alice.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "x = "))).await;
    let query_id = completion.body["data"]["meta_query_id"].as_str().expect("query id").to_owned();
    let chat_id = Uuid::new_v4();
    assert_eq!(alice.call(Method::POST, "/api/chat/request", Some(chat_body(chat_id, "mine"))).await.status, 200);
    let random = Uuid::new_v4().to_string();

    let theirs = mallory.call(Method::GET, &format!("/api/completion/{query_id}"), None).await;
    let nobodys = mallory.call(Method::GET, &format!("/api/completion/{random}"), None).await;
    assert_eq!((theirs.status, &theirs.body), (nobodys.status, &nobodys.body), "GET /api/completion/{{id}}");
    assert_eq!((theirs.status, theirs.message()), NOT_FOUND);
    let feedback = |id: &str| Some(json!({"meta_query_id": id, "model_id": 5, "was_accepted": true}));
    let theirs = mallory.call(Method::POST, "/api/completion/feedback", feedback(&query_id)).await;
    let nobodys = mallory.call(Method::POST, "/api/completion/feedback", feedback(&random)).await;
    assert_eq!((theirs.status, &theirs.body), (nobodys.status, &nobodys.body), "feedback");
    assert_eq!((theirs.status, theirs.message()), (404, "Generation record not found"));

    let theirs = mallory.call(Method::DELETE, &format!("/api/chat/delete/{chat_id}"), None).await;
    let nobodys = mallory.call(Method::DELETE, &format!("/api/chat/delete/{random}"), None).await;
    assert_eq!((theirs.status, &theirs.body), (nobodys.status, &nobodys.body), "chat delete");
    assert_eq!((theirs.status, theirs.message()), NOT_FOUND);
    let hijack = mallory.call(Method::POST, "/api/chat/request", Some(chat_body(chat_id, "mallory was here"))).await;
    assert_eq!((hijack.status, &hijack.body), (nobodys.status, &nobodys.body), "a turn on another user's chat");

    assert_eq!(history(&mut alice).await, vec![(json!(chat_id), vec![json!("mine")])], "Alice's chat is untouched");
    worker.stop().await;
}

#[tokio::test]
async fn the_worker_never_attaches_a_turn_to_a_chat_another_user_owns() {
    let app = TestApp::spawn().await;
    let (_alice, alice_project) = app.signed_in("alice@example.com").await;
    let (_bob, bob_project) = app.signed_in("bob@example.com").await;
    let ids = async |email: &str| -> (Uuid, Uuid) {
        sqlx::query_as("SELECT u.user_id, s.session_id FROM \"user\" u JOIN session s ON s.user_id = u.user_id WHERE u.email = $1")
            .bind(email)
            .fetch_one(&app.db)
            .await
            .expect("user and session")
    };
    let ((alice, alice_session), (bob, bob_session)) = (ids("alice@example.com").await, ids("bob@example.com").await);
    let chat_id = Uuid::new_v4();
    let turn = |user_id: Uuid, session_id: Uuid, project: &str, title: &str| QueryRecord {
        query_id: Uuid::new_v4(),
        user_id,
        session_id: Some(session_id),
        project_id: Some(project.parse().expect("uuid")),
        client: Default::default(),
        api_key_id: None,
        timestamp: chrono::Utc::now(),
        total_serving_time_ms: 1,
        server_version_id: 1,
        config_id: Some(1),
        multi_file_context_changes_indexes: Default::default(),
        context: None,
        contextual: None,
        behavioral: None,
        kind: QueryKind::Chat { chat_id, title: title.into(), web_enabled: false, user_message: "hi".into() },
        generations: Vec::new(),
    };
    let writer = code4me_worker::telemetry::BatchWriter::start(app.db.clone());
    // Alice's claim, as the server makes it when her turn starts: no title yet.
    sqlx::query("INSERT INTO chat (chat_id, project_id, user_id, title, created_at) VALUES ($1, $2, $3, '', now())")
        .bind(chat_id)
        .bind(alice_project.parse::<Uuid>().expect("uuid"))
        .bind(alice)
        .execute(&app.db)
        .await
        .expect("claim");
    let bobs = turn(bob, bob_session, &bob_project, "Bob's title");
    writer.write(DbWrite::Query(Box::new(bobs.clone()))).await.expect("written");
    let alices = turn(alice, alice_session, &alice_project, "Alice's title");
    writer.write(DbWrite::Query(Box::new(alices.clone()))).await.expect("written");
    writer.write(DbWrite::Query(Box::new(alices.clone()))).await.expect("written twice, stored once");

    let (owner, title): (Uuid, String) =
        sqlx::query_as("SELECT user_id, title FROM chat WHERE chat_id = $1").bind(chat_id).fetch_one(&app.db).await.expect("chat");
    assert_eq!((owner, title.as_str()), (alice, "Alice's title"), "the owner's first stored turn names the chat");
    let turns: Vec<Uuid> =
        sqlx::query_scalar("SELECT meta_query_id FROM chat_query WHERE chat_id = $1").bind(chat_id).fetch_all(&app.db).await.expect("turns");
    assert_eq!(turns, vec![alices.query_id], "Bob's turn is not in Alice's chat");
    let kept: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)")
        .bind(bobs.query_id)
        .fetch_one(&app.db)
        .await
        .expect("query");
    assert!(kept, "Bob's query itself is still recorded (nothing a user sent is lost)");
}
