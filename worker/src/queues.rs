//! The worker's queue consumers, supervised: apalis workers stop for good on the first Redis
//! error (a timeout, a restart), so each consumer runs in a loop that rebuilds it. Which queues
//! there are, with their handlers and concurrency, is [`crate::jobs::registry`]; every queue gets
//! the same consumer ([`consumer!`]) and the same supervision here.
//!
//! Every (re)start takes a fresh worker name. apalis refuses to register a name that heartbeated
//! recently and treats two live holders of one name as undefined behaviour; a fresh name avoids
//! both, and the jobs the previous incarnation held come back through orphan recovery
//! ([`queue::ORPHANED_AFTER`]), which this very process performs on its next heartbeats.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use apalis::prelude::WorkerError;
use apalis_core::backend::Vacuum;
use code4me_shared::queue;
use futures::channel::mpsc::UnboundedReceiver;
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use crate::signals::Signals;

/// A safety-net poll for consumers whose wake-up was lost (pub/sub is fire-and-forget).
pub const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// One queue this worker consumes: an entry of [`crate::jobs::registry`].
pub struct Registration {
    /// The queue ([`code4me_shared::jobs::Job::QUEUE`]).
    pub queue: &'static str,
    /// Jobs of this queue in flight at once (at least one).
    pub concurrency: usize,
    /// Builds a fresh consumer of the queue ([`consumer!`]).
    pub start: StartConsumer,
}

/// Builds one incarnation of a queue's apalis consumer.
pub type StartConsumer = Box<dyn Fn(Start) -> ConsumerRun + Send + Sync>;

/// What one (re)start of a consumer gets.
pub struct Start {
    /// A fresh apalis worker name (see the module docs).
    pub name: String,
    /// Redis for the queue.
    pub redis: ConnectionManager,
    /// Wake-ups published when a job is pushed to the queue.
    pub wake: UnboundedReceiver<()>,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// Turns true when the worker stops.
    pub stop: watch::Receiver<bool>,
}

/// A [`StartConsumer`] for jobs of type `$job` handled by `$handler` (an
/// `async fn(Incoming<$job>, Data<C>) -> Result<(), BoxDynError>`) with `$context` as its `Data`:
/// the queue's storage read as [`code4me_shared::jobs::Incoming`], polled on wake-ups with a
/// [`FALLBACK_POLL`], panics caught, stopped by [`Start::stop`]. A macro rather than a generic
/// function: apalis' worker future is `Send`, but proving it through generic bounds defeats the
/// compiler (higher-ranked lifetimes), so each expansion names concrete types.
macro_rules! consumer {
    ($job:ty, $handler:path, $context:expr) => {{
        use apalis::layers::WorkerBuilderExt as _;
        use apalis::prelude::BackendExt as _;
        let context = $context;
        let start: $crate::queues::StartConsumer = Box::new(move |start: $crate::queues::Start| {
            let polling = apalis::prelude::Strategy::new().stream(start.wake).interval($crate::queues::FALLBACK_POLL);
            let backend = code4me_shared::queue::consumer_storage::<$job>(start.redis).poll_with_strategy(polling);
            let worker = apalis::prelude::WorkerBuilder::new(start.name)
                .backend(backend)
                .concurrency(start.concurrency)
                .catch_panic()
                .data(context.clone())
                .build($handler);
            $crate::queues::boxed(worker.run_until($crate::queues::stopped(start.stop)))
        });
        start
    }};
}
pub(crate) use consumer;

/// How the consumers of one process are set up.
pub struct Consumers {
    /// Redis for the queues (response timeout well above redis-rs' 500 ms default).
    pub redis: ConnectionManager,
    /// Wake-ups and cancellations.
    pub signals: Signals,
    /// Base of the apalis worker names (`WORKER_ID`).
    pub worker_id: String,
}

impl Consumers {
    /// Runs a supervised consumer of every registered queue until `stop` turns true; returns once
    /// all of them have finished the jobs they hold.
    pub async fn run(&self, registry: &[Registration], stop: watch::Receiver<bool>) {
        futures::future::join_all(registry.iter().map(|registration| self.run_one(registration, stop.clone()))).await;
    }

    async fn run_one(&self, registration: &Registration, stop: watch::Receiver<bool>) {
        self.supervise(registration.queue, stop, |name, stop| {
            (registration.start)(Start {
                name,
                redis: self.redis.clone(),
                wake: self.signals.wake_stream(registration.queue),
                concurrency: registration.concurrency.max(1),
                stop,
            })
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

/// Deletes the data of jobs finished more than `keep` ago from every queue in `queues`, checking
/// every minute (or every `keep`, if shorter): apalis-redis never does, and Redis would grow without
/// bound (apalis-redis #10). Handlers never fail plainly (they either succeed or abort), so no job
/// awaiting a retry is in a terminal state this could delete.
pub async fn vacuum_forever(redis: ConnectionManager, keep: Duration, queues: Vec<&'static str>) {
    // The vacuum only reads each queue's keys: the payload type does not matter.
    let mut storages: Vec<_> = queues.into_iter().map(|name| (name, queue::untyped_storage(redis.clone(), name))).collect();
    let mut interval = tokio::time::interval(keep.clamp(Duration::from_secs(1), Duration::from_secs(60)));
    loop {
        interval.tick().await;
        for (name, storage) in &mut storages {
            match storage.vacuum_before(keep).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(queue = *name, removed = n, "vacuumed finished jobs"),
                Err(error) => tracing::warn!(queue = *name, %error, "could not vacuum finished jobs"),
            }
        }
    }
}

/// How often [`promote_forever`] moves due jobs: at 30,000 pushes a second, a tenth of a second
/// leaves at most a few thousand jobs for apalis' fetch to promote at once.
pub const PROMOTE_EVERY: Duration = Duration::from_millis(100);

/// Moves due jobs of every queue in `queues` from the scheduled set to the active list every
/// `every`, in bounded chunks ([`queue::promote_due`]): apalis-redis' fetch promotes every due job
/// at once and fails for good past about 8,000 of them.
pub async fn promote_forever(mut redis: ConnectionManager, every: Duration, queues: Vec<&'static str>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        promote_all(&mut redis, &queues).await;
    }
}

/// One promotion pass over `queues` ([`queue::promote_due`]); failures are logged, the next pass retries.
pub async fn promote_all(redis: &mut ConnectionManager, queues: &[&'static str]) {
    for name in queues {
        match queue::promote_due(redis, name).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(queue = *name, promoted = n, "promoted due jobs"),
            Err(error) => tracing::warn!(queue = *name, %error, "could not promote due jobs"),
        }
    }
}

/// A consumer's run as a `Send` trait object: apalis' worker futures are `Send`, but proving it
/// through the generic call chain defeats the compiler (higher-ranked lifetimes), so it is
/// checked once per [`consumer!`] expansion with concrete types.
pub type ConsumerRun = Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;

/// Boxes a consumer's run ([`consumer!`]).
pub fn boxed(run: impl Future<Output = Result<(), WorkerError>> + Send + 'static) -> ConsumerRun {
    Box::pin(run)
}

/// Resolves (as apalis' `run_until` wants) once `stop` is true.
pub async fn stopped(mut stop: watch::Receiver<bool>) -> Result<(), std::io::Error> {
    let _ = stop.wait_for(|s| *s).await;
    Ok(())
}

/// A short unique suffix for worker names.
fn ulid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
