use std::time::Duration;

use code4me_shared::settings::WorkerSettings;
use code4me_tests::TestApp;

#[tokio::test]
async fn the_worker_becomes_ready_and_stops_when_asked() {
    let app = TestApp::spawn().await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(code4me_worker::run(app.worker_settings(), async {
        let _ = stop_rx.await;
    }));
    // Ready means connected: give it a moment, then it must still be running (not failed).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!worker.is_finished(), "worker exited early: {:?}", worker.await);
    stop_tx.send(()).expect("worker still listening");
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("worker stops promptly")
        .expect("worker task")
        .expect("worker returns Ok");
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
