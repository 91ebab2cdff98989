//! The worker's queue consumers, supervised: apalis workers stop for good on the first Redis
//! error (a timeout, a restart), so each consumer runs in a loop that rebuilds it.
//!
//! Every (re)start takes a fresh worker name. apalis refuses to register a name that heartbeated
//! recently and treats two live holders of one name as undefined behaviour; a fresh name avoids
//! both, and the jobs the previous incarnation held come back through orphan recovery
//! ([`queue::ORPHANED_AFTER`]), which this very process performs on its next heartbeats.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BackendExt, Strategy, WorkerBuilder, WorkerError};
use apalis_core::backend::Vacuum;
use code4me_shared::jobs::{DbJob, Job, LlmJob};
use code4me_shared::queue;
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use crate::db_jobs::{self, DbContext};
use crate::llm_jobs::{self, LlmContext};
use crate::signals::Signals;

/// A safety-net poll for consumers whose wake-up was lost (pub/sub is fire-and-forget).
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// How the consumers of one process are set up.
pub struct Consumers {
    /// Redis for the queues (response timeout well above redis-rs' 500 ms default).
    pub redis: ConnectionManager,
    /// Wake-ups and cancellations.
    pub signals: Signals,
    /// Base of the apalis worker names (`WORKER_ID`).
    pub worker_id: String,
    /// Generations run at once.
    pub llm_concurrency: usize,
    /// Telemetry jobs in flight at once (they are committed together in batches).
    pub db_concurrency: usize,
}

impl Consumers {
    /// Runs the `llm` consumer until `stop` turns true.
    pub async fn run_llm(&self, context: LlmContext, stop: watch::Receiver<bool>) {
        self.supervise(LlmJob::QUEUE, stop, |name, stop| {
            let backend = queue::consumer_storage::<LlmJob>(self.redis.clone())
                .poll_with_strategy(Strategy::new().stream(self.signals.wake_stream(LlmJob::QUEUE)).interval(FALLBACK_POLL));
            let worker = WorkerBuilder::new(name)
                .backend(backend)
                .concurrency(self.llm_concurrency.max(1))
                .catch_panic()
                .data(context.clone())
                .build(llm_jobs::handle);
            boxed(worker.run_until(stopped(stop)))
        })
        .await;
    }

    /// Runs the `db` consumer until `stop` turns true.
    pub async fn run_db(&self, context: DbContext, stop: watch::Receiver<bool>) {
        self.supervise(DbJob::QUEUE, stop, |name, stop| {
            let backend = queue::consumer_storage::<DbJob>(self.redis.clone())
                .poll_with_strategy(Strategy::new().stream(self.signals.wake_stream(DbJob::QUEUE)).interval(FALLBACK_POLL));
            let worker = WorkerBuilder::new(name)
                .backend(backend)
                .concurrency(self.db_concurrency.max(1))
                .catch_panic()
                .data(context.clone())
                .build(db_jobs::handle);
            boxed(worker.run_until(stopped(stop)))
        })
        .await;
    }

    async fn supervise<F, Fut, E>(&self, queue_name: &str, stop: watch::Receiver<bool>, mut start: F)
    where
        F: FnMut(String, watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut restarts = 0u32;
        loop {
            let name = format!("{}-{queue_name}-{}", self.worker_id, ulid_like());
            tracing::info!(worker = %name, "consuming queue {queue_name}");
            let result = start(name.clone(), stop.clone()).await;
            if *stop.borrow() {
                return;
            }
            restarts += 1;
            metrics::counter!("queue_consumer_restarts_total", "queue" => queue_name.to_owned()).increment(1);
            match result {
                Ok(()) => tracing::warn!(worker = %name, "queue consumer ended; restarting"),
                Err(error) => tracing::warn!(worker = %name, %error, restarts, "queue consumer failed; restarting"),
            }
            let mut stop = stop.clone();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// Deletes the data of jobs finished more than `keep` ago from both queues, checking every minute
/// (or every `keep`, if shorter): apalis-redis never does, and Redis would grow without bound
/// (apalis-redis #10). Handlers never fail plainly (they either succeed or abort), so no job
/// awaiting a retry is in a terminal state this could delete.
pub async fn vacuum_forever(redis: ConnectionManager, keep: Duration) {
    let mut llm = queue::storage::<LlmJob>(redis.clone());
    let mut db = queue::storage::<DbJob>(redis);
    let mut interval = tokio::time::interval(keep.clamp(Duration::from_secs(1), Duration::from_secs(60)));
    loop {
        interval.tick().await;
        for (name, result) in [(LlmJob::QUEUE, llm.vacuum_before(keep).await), (DbJob::QUEUE, db.vacuum_before(keep).await)] {
            match result {
                Ok(0) => {}
                Ok(n) => tracing::debug!(queue = name, removed = n, "vacuumed finished jobs"),
                Err(error) => tracing::warn!(queue = name, %error, "could not vacuum finished jobs"),
            }
        }
    }
}

/// A consumer's run as a `Send` trait object: apalis' worker futures are `Send`, but proving it
/// through the generic call chain defeats the compiler (higher-ranked lifetimes), so it is
/// checked once here with concrete types.
type ConsumerRun = Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;

fn boxed(run: impl Future<Output = Result<(), WorkerError>> + Send + 'static) -> ConsumerRun {
    Box::pin(run)
}

/// Resolves (as apalis' `run_until` wants) once `stop` is true.
async fn stopped(mut stop: watch::Receiver<bool>) -> Result<(), std::io::Error> {
    let _ = stop.wait_for(|s| *s).await;
    Ok(())
}

/// A short unique suffix for worker names.
fn ulid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
