//! The real worker, run in the test process.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::TestApp;
use crate::queues;
use crate::wait::wait_until;

/// How long a worker may take to become ready: loading SmolLM2 and MiniLM takes seconds, more on
/// a machine running many tests at once.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The queues a worker consumes; [`Worker::start`] waits for a consumer on each.
const CONSUMED: [&str; 2] = ["llm", "db"];

/// A worker running in this process until its stop sender is used or dropped.
pub struct Worker {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Worker {
    /// Starts a worker named `id` on the app's database and Redis and returns once it consumes.
    pub async fn start(app: &TestApp, id: &str) -> Self {
        Self::start_with(app, id, &[]).await
    }

    /// Starts a worker named `id` with some settings overridden (`DB_PORT` of a relay, ...) and
    /// returns once it consumes: its models are loaded and each queue has a consumer registered
    /// with apalis (registration precedes a consumer's first fetch, so a job pushed now is fetched
    /// by that poll or by the wake-up its push publishes). Panics with the worker's error if it
    /// stops before that.
    pub async fn start_with(app: &TestApp, id: &str, overrides: &[(&str, String)]) -> Self {
        let mut env = app.env.clone().with("WORKER_ID", id);
        for (key, value) in overrides {
            env = env.with(*key, value.clone());
        }
        let settings = code4me_shared::settings::WorkerSettings::from_env(&env).expect("settings");
        let mut redis = app.redis_connection().await;
        // Consumers already registered (other workers, or stale names apalis keeps): the new
        // worker's are the names that were not there before.
        let mut before = Vec::new();
        for queue in CONSUMED {
            before.push(queues::consumers(&mut redis, queue).await.expect("read consumers"));
        }

        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel::<()>();
        let mut task = tokio::spawn(code4me_worker::run_with_ready(
            settings,
            async {
                let _ = stopped.await;
            },
            move || {
                let _ = ready_tx.send(());
            },
        ));
        let ready = tokio::select! {
            ready = tokio::time::timeout(READY_TIMEOUT, ready_rx) => ready,
            result = &mut task => panic!("worker {id} stopped before it was ready: {result:?}"),
        };
        match ready {
            Ok(Ok(())) => {}
            // The sender was dropped unused: `run` returned before it was ready.
            Ok(Err(_)) => panic!("worker {id} stopped before it was ready: {:?}", task.await),
            Err(_) => panic!("worker {id} was not ready within {READY_TIMEOUT:?}"),
        }
        wait_until(&format!("worker {id} registers a consumer on {CONSUMED:?}"), READY_TIMEOUT, async || {
            for (queue, before) in CONSUMED.iter().zip(&before) {
                let now: BTreeSet<String> = queues::consumers(&mut redis, queue).await.expect("read consumers");
                if now.is_subset(before) {
                    return false;
                }
            }
            true
        })
        .await;
        Self { stop: Some(stop), task }
    }

    /// Kills it without any goodbye (no job released, no heartbeat any more), as SIGKILL would.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Stops it gracefully (jobs in progress finish) and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task).await.expect("worker stops").expect("task").expect("Ok");
    }
}
