//! The real worker, run in the test process.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::TestApp;

/// A worker running in this process until its stop sender is used or dropped.
pub struct Worker {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Worker {
    /// Starts a worker named `id` on the app's database and Redis.
    pub fn start(app: &TestApp, id: &str) -> Self {
        Self::start_with(app, id, &[])
    }

    /// Starts a worker named `id` with some settings overridden (`DB_PORT` of a relay, ...).
    pub fn start_with(app: &TestApp, id: &str, overrides: &[(&str, String)]) -> Self {
        let mut env = app.env.clone().with("WORKER_ID", id);
        for (key, value) in overrides {
            env = env.with(*key, value.clone());
        }
        let settings = code4me_shared::settings::WorkerSettings::from_env(&env).expect("settings");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(code4me_worker::run(settings, async {
            let _ = stopped.await;
        }));
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
