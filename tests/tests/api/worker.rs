use std::time::Duration;

use code4me_shared::redis_keys::WorkerModelsValue;
use code4me_shared::settings::WorkerSettings;
use code4me_tests::TestApp;
use code4me_tests::wait::wait_for;

#[tokio::test]
async fn the_worker_becomes_ready_and_stops_when_asked() {
    let app = TestApp::spawn().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(code4me_worker::run_with_ready(
        app.worker_settings(),
        async {
            let _ = stop_rx.await;
        },
        move || {
            let _ = ready_tx.send(());
        },
    ));
    let ready = tokio::time::timeout(Duration::from_secs(120), ready_rx).await.expect("ready within 120 s");
    assert!(ready.is_ok() && !worker.is_finished(), "worker exited before it was ready: {:?}", worker.await);
    stop_tx.send(()).expect("worker still listening");
    tokio::time::timeout(Duration::from_secs(10), worker).await.expect("worker stops promptly").expect("worker task").expect("worker returns Ok");
}

#[tokio::test]
async fn the_worker_announces_the_models_it_loaded_and_why_the_others_are_unavailable() {
    let app = TestApp::spawn().await;
    let settings = WorkerSettings::from_env(&app.env.clone().with("WORKER_ID", "announce-test")).expect("settings");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(code4me_worker::run(settings, async {
        let _ = stop_rx.await;
    }));
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", app.redis.port())).expect("url");
    let mut redis = client.get_multiplexed_async_connection().await.expect("connect");
    let key = "worker_models:announce-test";

    let raw: String = wait_for("the worker's announcement", Duration::from_secs(60), async || {
        assert!(!worker.is_finished(), "worker exited before announcing its models");
        redis::cmd("GET").arg(key).query_async(&mut redis).await.expect("GET")
    })
    .await;
    let value: WorkerModelsValue = serde_json::from_str(&raw).expect("the announcement is a WorkerModelsValue");
    assert_eq!(value.loaded, vec![5], "SmolLM2 (row 5) loads from data/models; the others have no weights here");
    let reason = &value.unavailable[&2];
    assert!(reason.contains("bigcode/starcoder2-3b"), "the reason names the model: {reason}");
    let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut redis).await.expect("TTL");
    assert!(ttl > 0 && ttl <= 30, "the announcement expires if the worker dies: ttl {ttl}");

    stop_tx.send(()).expect("worker still running");
    tokio::time::timeout(Duration::from_secs(10), worker).await.expect("stops").expect("task").expect("Ok");
    let exists: bool = redis::cmd("EXISTS").arg(key).query_async(&mut redis).await.expect("EXISTS");
    assert!(!exists, "a worker that stops takes its announcement with it");
}

#[tokio::test]
async fn the_worker_gives_up_with_a_message_naming_redis_when_it_stays_unreachable() {
    let mut app = TestApp::spawn().await;
    app.redis.stop();
    let message = start_worker_expecting_failure(app.env.clone()).await;
    assert!(message.contains("Redis") && message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn the_worker_gives_up_with_a_message_naming_postgres_when_it_stays_unreachable() {
    let app = TestApp::spawn().await;
    let message = start_worker_expecting_failure(app.env.clone().with("DB_PORT", "1")).await;
    assert!(message.contains("PostgreSQL") && message.contains("unreachable"), "{message}");
}

/// Runs the worker with a 1 s start-up budget and returns its error, failing the test if it hangs
/// or succeeds.
async fn start_worker_expecting_failure(env: code4me_shared::settings::EnvSource) -> String {
    let settings = WorkerSettings::from_env(&env.with("STARTUP_CONNECT_TIMEOUT_SECONDS", "1")).expect("settings");
    let result = tokio::time::timeout(Duration::from_secs(20), code4me_worker::run(settings, std::future::pending()))
        .await
        .expect("the worker gives up instead of hanging");
    format!("{:#}", result.expect_err("an unreachable dependency is an error"))
}
