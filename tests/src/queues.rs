//! The apalis-redis queues seen from outside, through apalis-redis' own key layout
//! ([`apalis_redis::Config`]): how many jobs of each queue wait, run or died. The harness uses it to
//! drain the queues before assertions and to fail a test whose jobs ended in a dead set.

use std::collections::BTreeSet;

use apalis_redis::Config;
use redis::aio::MultiplexedConnection;

/// The queues a test may have used: the worker's three (`code4me_shared::jobs`). Queues apalis
/// registered consumers for are added at run time ([`known_queues`]).
pub const QUEUES: [&str; 3] = ["llm", "db", "index"];

/// Where apalis-redis lists the `<queue>:workers` set of every queue a consumer registered on
/// (`register_worker.lua`).
const QUEUE_LIST_KEY: &str = "core:apalis:queues:list";

/// The jobs of one queue by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueState {
    /// Waiting to be fetched (`<queue>:active`).
    pub pending: u64,
    /// Waiting for a retry after a plain failure (`<queue>:scheduled`).
    pub retrying: u64,
    /// Fetched by a consumer and not yet acknowledged (`<queue>:inflight:<worker>`, one set per
    /// consumer; a killed worker's set stays until orphan recovery re-queues it).
    pub running: u64,
    /// Aborted or out of retries (`<queue>:dead`); apalis never empties it.
    pub dead: u64,
}

impl QueueState {
    /// No job waits, retries or runs.
    pub fn is_idle(&self) -> bool {
        self.pending == 0 && self.retrying == 0 && self.running == 0
    }
}

/// Every queue worth looking at: [`QUEUES`] and any queue apalis registered a consumer for.
pub async fn known_queues(redis: &mut MultiplexedConnection) -> redis::RedisResult<BTreeSet<String>> {
    let registered: Vec<String> = redis::cmd("ZRANGE").arg(QUEUE_LIST_KEY).arg(0).arg(-1).query_async(redis).await?;
    let mut queues: BTreeSet<String> = QUEUES.iter().map(|q| (*q).to_owned()).collect();
    queues.extend(registered.iter().filter_map(|key| key.strip_suffix(":workers")).map(str::to_owned));
    Ok(queues)
}

/// The state of `queue`.
pub async fn state(redis: &mut MultiplexedConnection, queue: &str) -> redis::RedisResult<QueueState> {
    let config = Config::default().queue(queue);
    let inflight_sets: Vec<String> = scan(redis, &format!("{}:*", config.inflight_jobs_set())).await?;
    let mut running = 0;
    for set in inflight_sets {
        running += redis::cmd("SCARD").arg(set).query_async::<u64>(redis).await?;
    }
    Ok(QueueState {
        pending: redis::cmd("LLEN").arg(config.active_jobs_list()).query_async(redis).await?,
        retrying: redis::cmd("ZCARD").arg(config.scheduled_jobs_set()).query_async(redis).await?,
        running,
        dead: redis::cmd("SCARD").arg(config.dead_jobs_set()).query_async(redis).await?,
    })
}

/// The state of every [known queue](known_queues), by name.
pub async fn states(redis: &mut MultiplexedConnection) -> redis::RedisResult<Vec<(String, QueueState)>> {
    let mut states = Vec::new();
    for queue in known_queues(redis).await? {
        let state = state(redis, &queue).await?;
        states.push((queue, state));
    }
    Ok(states)
}

/// The consumers registered on `queue` (apalis worker names), live or stale.
pub async fn consumers(redis: &mut MultiplexedConnection, queue: &str) -> redis::RedisResult<BTreeSet<String>> {
    redis::cmd("ZRANGE").arg(Config::default().queue(queue).workers_set()).arg(0).arg(-1).query_async(redis).await
}

/// Every key matching `pattern` (SCAN, never KEYS: the test's Redis is small, but the habit is cheap).
async fn scan(redis: &mut MultiplexedConnection, pattern: &str) -> redis::RedisResult<Vec<String>> {
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(100).query_async(redis).await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// The number of dead jobs in every [known queue](known_queues), read without a runtime (for
/// `Drop`); `None` when Redis cannot be reached (a test that stopped it).
pub fn dead_jobs_blocking(port: u16) -> Option<Vec<(String, u64)>> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).ok()?;
    let mut redis = client.get_connection_with_timeout(std::time::Duration::from_secs(2)).ok()?;
    let registered: Vec<String> = redis::cmd("ZRANGE").arg(QUEUE_LIST_KEY).arg(0).arg(-1).query(&mut redis).ok()?;
    let mut queues: BTreeSet<String> = QUEUES.iter().map(|q| (*q).to_owned()).collect();
    queues.extend(registered.iter().filter_map(|key| key.strip_suffix(":workers")).map(str::to_owned));
    let mut dead = Vec::new();
    for queue in queues {
        let count: u64 = redis::cmd("SCARD").arg(Config::default().queue(&queue).dead_jobs_set()).query(&mut redis).ok()?;
        dead.push((queue, count));
    }
    Some(dead)
}
