//! The apalis-redis queues as both processes configure them, and the producer side (the server
//! pushes, workers consume). Each setting here answers one apalis-redis trap (rust-stack-notes §2):
//!
//! - **Idle pickup.** apalis-redis finds a pushed job only when the consumer polls again; without a
//!   poll strategy that is the next heartbeat. [`Producer::push`] therefore publishes on the queue's
//!   [`wake_channel`] and workers poll on that signal (plus a slow interval as a safety net).
//! - **Orphans.** A killed worker's in-flight jobs come back once its heartbeat is
//!   [`ORPHANED_AFTER`] old (300 s with apalis' defaults), taken over by any live worker.
//! - **Head-of-line.** `batch_size` 1 for generations: a worker holds only the job it runs, so a
//!   slow generation never parks queued jobs in its in-flight set while other workers idle.
//!   Telemetry jobs are short and fetched many at a time ([`Job::FETCH_BATCH`]).
//! - **Events.** Task-event publishing is off: nobody listens, and it costs a PUBLISH per job.
//! - **Backlogs.** apalis-redis pushes every job into the queue's scheduled set, and its fetch
//!   moves *all* due jobs to the active list with one Lua `unpack`, which takes about 8,000 values
//!   at most: past that backlog (a burst while every consumer is busy, jobs queued while no worker
//!   ran) every fetch fails, and the queue stalls for good. Workers run [`promote_due`] a few
//!   times a second, moving due jobs in chunks, so the scheduled set never holds that many.

use std::marker::PhantomData;
use std::time::Duration;

use anyhow::Context;
use apalis::prelude::TaskSink;
use apalis_redis::{Config, RedisStorage};
use redis::aio::ConnectionManager;

use crate::jobs::{Incoming, Job};
use crate::redis_keys::wake_channel;

/// How often a worker heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Missed heartbeats after which a worker is presumed dead and its jobs are re-queued.
pub const MISSED_HEARTBEATS: usize = 5;

/// How long a dead worker's in-flight jobs wait before another worker takes them over.
pub const ORPHANED_AFTER: Duration = Duration::from_secs(HEARTBEAT_INTERVAL.as_secs() * MISSED_HEARTBEATS as u64);

/// Most due jobs one promotion script moves (well below Lua's `unpack` limit).
const PROMOTE_CHUNK: u64 = 1_000;

/// Moves up to `ARGV[2]` jobs due by `ARGV[1]` from the scheduled set (`KEYS[1]`) to the active
/// list (`KEYS[2]`) and raises the signal list (`KEYS[3]`) — what apalis-redis' fetch does with
/// every due job, in bounded chunks. Atomic, so workers promoting at once never move a job twice.
const PROMOTE_DUE: &str = r"
local ids = redis.call('zrangebyscore', KEYS[1], 0, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then
  redis.call('rpush', KEYS[2], unpack(ids))
  redis.call('zrem', KEYS[1], unpack(ids))
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
end
return #ids
";

/// [`PROMOTE_DUE`], hashed once: workers run it several times a second.
static PROMOTE_DUE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| redis::Script::new(PROMOTE_DUE));

/// Moves every job of the queue named `queue` that is due now from its scheduled set to its
/// active list, a chunk at a time (see the module docs: a large due backlog makes apalis' own
/// fetch fail); returns how many moved. Delayed jobs (retries after a backoff) stay scheduled.
pub async fn promote_due(redis: &mut ConnectionManager, queue: &str) -> redis::RedisResult<u64> {
    let config = queue_config(queue);
    // apalis' clock: whole seconds since the epoch.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut moved = 0;
    loop {
        let chunk: u64 = PROMOTE_DUE_SCRIPT
            .key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .arg(now)
            .arg(PROMOTE_CHUNK)
            .invoke_async(redis)
            .await?;
        moved += chunk;
        if chunk < PROMOTE_CHUNK {
            return Ok(moved);
        }
    }
}

/// The queue configuration for job type `J`, identical in server and worker.
pub fn config<J: Job>() -> Config {
    queue_config(J::QUEUE).batch_size(J::FETCH_BATCH.max(1))
}

fn queue_config(queue: &str) -> Config {
    Config::default().queue(queue).batch_size(1).heartbeat_interval(HEARTBEAT_INTERVAL).missed_heartbeats(MISSED_HEARTBEATS).emit_events(false)
}

/// The producer's storage of `J`'s queue over `redis`.
pub fn storage<J: Job>(redis: ConnectionManager) -> RedisStorage<J> {
    RedisStorage::new(redis).with_config(config::<J>())
}

/// The storage of the queue named `queue` (a [`Job::QUEUE`]) without a payload type, for code that
/// handles every queue alike and never reads a payload (the worker's vacuum).
pub fn untyped_storage(redis: ConnectionManager, queue: &str) -> RedisStorage<()> {
    RedisStorage::new(redis).with_config(queue_config(queue))
}

/// The consumer's storage of `J`'s queue: it reads [`Incoming<J>`], so an undecodable payload
/// reaches the handler instead of stopping the consumer.
pub fn consumer_storage<J: Job>(redis: ConnectionManager) -> RedisStorage<Incoming<J>> {
    RedisStorage::new(redis).with_config(config::<J>())
}

/// Pushes jobs of type `J` and wakes the queue's consumers.
pub struct Producer<J: Job> {
    storage: RedisStorage<J>,
    redis: ConnectionManager,
    wake: String,
    job: PhantomData<J>,
}

impl<J: Job> Clone for Producer<J> {
    fn clone(&self) -> Self {
        Self { storage: self.storage.clone(), redis: self.redis.clone(), wake: self.wake.clone(), job: PhantomData }
    }
}

impl<J: Job> Producer<J> {
    /// A producer over `redis` (whose response timeout must be well above redis-rs' 500 ms).
    pub fn new(redis: ConnectionManager) -> Self {
        Self { storage: storage::<J>(redis.clone()), redis, wake: wake_channel(J::QUEUE), job: PhantomData }
    }

    /// Enqueues `job` durably, then wakes idle consumers. Returns once Redis has the job: a caller
    /// that gets `Ok` may tell its client the data is safe.
    pub async fn push(&self, job: J) -> anyhow::Result<()> {
        let mut storage = self.storage.clone();
        storage.push(job).await.map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("pushing a job to queue {}", J::QUEUE))?;
        // The wake-up is best effort: a consumer that misses it finds the job on its next poll.
        let mut redis = self.redis.clone();
        if let Err(error) = redis::cmd("PUBLISH").arg(&self.wake).arg("").query_async::<i64>(&mut redis).await {
            tracing::warn!(%error, queue = J::QUEUE, "could not wake the queue's workers");
        }
        Ok(())
    }
}

/// How many jobs of one queue are in each state, read through apalis-redis' key layout (the
/// operators' health report; the test harness reads the same keys).
///
/// apalis-redis 1.0 pushes every job into `<queue>:scheduled` with "now" as its time (its push
/// script schedules any job with a run time, and it gives each one) and a consumer's fetch moves
/// the due ones to `<queue>:active`; so a job is waiting when it is in the active list or due in
/// the scheduled set, and delayed when its time is still ahead (a retry after a backoff).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be fetched: `<queue>:active` plus the due part of `<queue>:scheduled`.
    pub waiting: u64,
    /// Scheduled for later (`<queue>:scheduled` with a time ahead).
    pub delayed: u64,
    /// Fetched and not yet acknowledged (the `<queue>:inflight:<consumer>` sets; a killed worker's
    /// jobs count here until orphan recovery re-queues them).
    pub running: u64,
    /// Aborted or out of retries (`<queue>:dead`); apalis never empties it.
    pub dead: u64,
}

/// The depth of the queue named `queue` (a [`Job::QUEUE`]). Reads only: the in-flight sets are
/// found with `SCAN`, never `KEYS`, so a large Redis is not blocked.
pub async fn depth(redis: &mut ConnectionManager, queue: &str) -> redis::RedisResult<QueueDepth> {
    let config = queue_config(queue);
    let pattern = format!("{}:*", config.inflight_jobs_set());
    let mut running = 0;
    let mut cursor = 0_u64;
    loop {
        let (next, sets): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500).query_async(redis).await?;
        for set in sets {
            running += redis::cmd("SCARD").arg(set).query_async::<u64>(redis).await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // apalis' own clock: whole seconds since the epoch, read where the job was pushed.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (active, due, delayed, dead): (u64, u64, u64, u64) = redis::pipe()
        .cmd("LLEN")
        .arg(config.active_jobs_list())
        .cmd("ZCOUNT")
        .arg(config.scheduled_jobs_set())
        .arg("-inf")
        .arg(now)
        .cmd("ZCOUNT")
        .arg(config.scheduled_jobs_set())
        .arg(format!("({now}"))
        .arg("+inf")
        .cmd("SCARD")
        .arg(config.dead_jobs_set())
        .query_async(redis)
        .await?;
    Ok(QueueDepth { waiting: active + due, delayed, running, dead })
}
