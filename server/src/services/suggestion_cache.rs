//! The suggestion API's cache and its single flight. Editors ask again for the same caret (a
//! keystroke undone, a second plugin instance, a retry after a timeout), and a generation costs a
//! worker seconds: answers are kept in Redis under their context hash for
//! `SUGGESTION_CACHE_TTL_SECONDS`, and identical requests that arrive while one is being answered
//! wait for that answer instead of generating it again — on the same server through an in-process
//! channel (no polling), across servers through a Redis lock whose holder fills the cache the
//! others watch.
//!
//! Every failure of Redis here is a cache miss, never an error: the cache only saves work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use code4me_shared::redis_keys::{SUGGESTION, SUGGESTION_LOCK, key};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use tokio::sync::watch;

/// Deletes the lock only if it still holds our token (it may have expired and been taken since).
static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"));

/// First pause between two looks at a lock another server holds; doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(20);
/// Longest pause between two looks: a waiter learns of the answer at most this late.
const MAX_POLL: Duration = Duration::from_millis(250);

/// What the leader of a flight hands its followers: the suggestions JSON, or nothing when it
/// failed (the followers then try for themselves).
type Landing = Option<Arc<String>>;

/// The cache and the flights in progress on this server; cheap to clone.
#[derive(Clone)]
pub struct SuggestionCache {
    redis: ConnectionManager,
    /// The flights in progress on this server.
    flights: Flights,
    /// Lookups answered from the cache or a flight, for the hit ratio.
    hits: Arc<AtomicU64>,
    /// Lookups that had to generate.
    misses: Arc<AtomicU64>,
}

/// Context keys being generated on this server → where their answer will land.
#[derive(Clone, Default)]
struct Flights(Arc<Mutex<HashMap<String, watch::Receiver<Landing>>>>);

impl Flights {
    /// Joins the flight of `context_key`, or starts it.
    fn join(&self, context_key: &str) -> Flight {
        let mut flights = self.0.lock().expect("flights lock");
        if let Some(receiver) = flights.get(context_key) {
            return Flight::Follower(Follower(receiver.clone()));
        }
        let (sender, receiver) = watch::channel(None);
        flights.insert(context_key.to_owned(), receiver);
        Flight::Leader(Leader { key: context_key.to_owned(), flights: self.clone(), sender })
    }
}

/// A request's part in the flight of its context.
pub enum Flight {
    /// No one on this server is generating it: this request does, and lands the answer.
    Leader(Leader),
    /// Another request here is generating it: wait with [`Follower::answer`].
    Follower(Follower),
}

/// The request that generates; dropping it without [`Leader::land`] releases its followers empty-handed.
pub struct Leader {
    key: String,
    flights: Flights,
    sender: watch::Sender<Landing>,
}

impl Leader {
    /// Hands the answer to every follower.
    pub fn land(self, json: Arc<String>) {
        let _ = self.sender.send(Some(json));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.flights.0.lock().expect("flights lock").remove(&self.key);
    }
}

/// A request waiting for another's answer.
pub struct Follower(watch::Receiver<Landing>);

impl Follower {
    /// The leader's answer; `None` when it failed or went away.
    pub async fn answer(mut self) -> Option<Arc<String>> {
        match self.0.wait_for(Option::is_some).await {
            Ok(landed) => landed.clone(),
            Err(_) => None,
        }
    }
}

/// The outcome of taking the cross-server lock.
pub enum Lock {
    /// This server generates; release when done.
    Held(HeldLock),
    /// Another server generates this context now.
    Busy,
    /// No lock (the cache is off or Redis did not answer): generate without one.
    Off,
}

/// A held `suggestion_lock:` entry.
pub struct HeldLock {
    key: String,
    token: String,
}

impl SuggestionCache {
    /// A cache over this connection.
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis, flights: Flights::default(), hits: Arc::default(), misses: Arc::default() }
    }

    /// The cached suggestions JSON of `context_key` (`<user_id>:<hash>`), if any.
    pub async fn get(&self, context_key: &str) -> Option<String> {
        match self.redis.clone().get::<_, Option<String>>(key(SUGGESTION, context_key)).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "suggestion cache unreadable; generating");
                None
            }
        }
    }

    /// Stores an answer for `ttl`.
    pub async fn put(&self, context_key: &str, json: &str, ttl: Duration) {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return;
        }
        let stored: redis::RedisResult<()> = self.redis.clone().pset_ex(key(SUGGESTION, context_key), json, millis).await;
        if let Err(error) = stored {
            tracing::warn!(%error, "could not cache suggestions");
        }
    }

    /// Joins the flight of `context_key` on this server, or starts it.
    pub fn join(&self, context_key: &str) -> Flight {
        self.flights.join(context_key)
    }

    /// Takes the cross-server lock of `context_key` for at most `hold` (`SET NX PX`).
    pub async fn lock(&self, context_key: &str, hold: Duration) -> Lock {
        let (lock_key, token) = (key(SUGGESTION_LOCK, context_key), uuid::Uuid::new_v4().to_string());
        let millis = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1);
        let taken: redis::RedisResult<Option<String>> =
            redis::cmd("SET").arg(&lock_key).arg(&token).arg("NX").arg("PX").arg(millis).query_async(&mut self.redis.clone()).await;
        match taken {
            Ok(Some(_)) => Lock::Held(HeldLock { key: lock_key, token }),
            Ok(None) => Lock::Busy,
            Err(error) => {
                tracing::warn!(%error, "suggestion lock unavailable; generating without it");
                Lock::Off
            }
        }
    }

    /// Releases a lock this server holds.
    pub async fn release(&self, lock: HeldLock) {
        let released: redis::RedisResult<i64> = RELEASE.key(&lock.key).arg(&lock.token).invoke_async(&mut self.redis.clone()).await;
        if let Err(error) = released {
            tracing::warn!(%error, "could not release a suggestion lock; it expires by itself");
        }
    }

    /// Waits while another server holds the lock of `context_key`: its answer once cached, or
    /// `None` when the lock went away without one (that server failed) or `deadline` passed.
    pub async fn await_other(&self, context_key: &str, deadline: Instant) -> Option<String> {
        let lock_key = key(SUGGESTION_LOCK, context_key);
        let mut pause = FIRST_POLL;
        while Instant::now() < deadline {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
            if let Some(found) = self.get(context_key).await {
                return Some(found);
            }
            let held: redis::RedisResult<bool> = self.redis.clone().exists(&lock_key).await;
            if !matches!(held, Ok(true)) {
                // Released: the answer may have landed between the two reads.
                return self.get(context_key).await;
            }
        }
        None
    }

    /// Counts a lookup, for the hit ratio; returns the ratio of hits so far on this server.
    pub fn count(&self, hit: bool) -> f64 {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        let (hits, misses) = (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed));
        // Counts stay far below 2^52, where f64 holds integers exactly.
        #[allow(clippy::cast_precision_loss)]
        let ratio = hits as f64 / (hits + misses).max(1) as f64;
        ratio
    }

    /// Whether Redis answers `PING` within `timeout`.
    pub async fn reachable(&self, timeout: Duration) -> bool {
        let (mut redis, ping) = (self.redis.clone(), redis::cmd("PING"));
        matches!(tokio::time::timeout(timeout, ping.query_async::<String>(&mut redis)).await, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_answer_and_a_failed_leader_frees_them() {
        let flights = Flights::default();
        let join = |k: &str| flights.join(k);
        let Flight::Leader(leader) = join("a") else { panic!("first is the leader") };
        let Flight::Follower(follower) = join("a") else { panic!("second follows") };
        let waiting = tokio::spawn(follower.answer());
        leader.land(Arc::new("[1]".to_owned()));
        assert_eq!(waiting.await.expect("task").as_deref().map(String::as_str), Some("[1]"));
        assert!(flights.0.lock().expect("lock").is_empty(), "the flight ends with its leader");

        let Flight::Leader(failing) = join("b") else { panic!("leader") };
        let Flight::Follower(follower) = join("b") else { panic!("follower") };
        drop(failing);
        assert_eq!(follower.answer().await, None);
    }
}
