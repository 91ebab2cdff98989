//! The account view `GET /api/user/get` answers (the user row and their config's text), cached per
//! server as the serialised body, so the plugin's frequent reads cost neither a PostgreSQL round
//! trip nor serialising the config (a dozen KiB) again.
//!
//! Invalidation, not a lifetime, keeps it right: every committed change to a user or config row is
//! announced by PostgreSQL ([`crate::db::changes`]), whoever made it, and each announcement
//! advances the cache's epoch; an entry is served only while its epoch is current. A change made
//! by this server advances the epoch itself as soon as it is committed, so a client reads its own
//! write even before the announcement arrives. The cache is trusted only while its listener is
//! connected (announcements sent while it is not are lost): a lost listener turns it off until it
//! listens again. [`MAX_AGE`] bounds the one case left, a connection that died without a sign.
//!
//! The epoch is read before a row is loaded and the entry is stored only if it is unchanged after,
//! so a load racing a change can never be stored as current.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quick_cache::sync::Cache;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::services::user_config::UserConfigs;

/// Users whose views are kept (about 15 KiB each with the default config: ~150 MiB at most).
const CAPACITY: usize = 10_000;

/// The longest an entry is served, whatever was (not) heard.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// How long to wait before listening again after the listener failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Cached account views; cheap to clone (one cache per server).
#[derive(Clone)]
pub struct ProfileCache {
    inner: Arc<Inner>,
}

struct Inner {
    entries: Cache<Uuid, Entry>,
    /// Advanced by every change heard or made.
    epoch: AtomicU64,
    /// Whether changes are being heard (the listener is connected).
    trusted: AtomicBool,
}

#[derive(Clone)]
struct Entry {
    epoch: u64,
    loaded: Instant,
    body: Bytes,
}

/// The epoch a load started in; [`ProfileCache::store`] keeps the result only if it is still current.
#[derive(Debug, Clone, Copy)]
pub struct LoadStarted(u64);

impl Default for ProfileCache {
    fn default() -> Self {
        Self { inner: Arc::new(Inner { entries: Cache::new(CAPACITY), epoch: AtomicU64::new(0), trusted: AtomicBool::new(false) }) }
    }
}

impl ProfileCache {
    /// `user_id`'s view (its JSON body) when a current one is cached.
    pub fn get(&self, user_id: Uuid) -> Option<Bytes> {
        if !self.inner.trusted.load(Ordering::Acquire) {
            return None;
        }
        let entry = self.inner.entries.get(&user_id)?;
        (entry.epoch == self.inner.epoch.load(Ordering::Acquire) && entry.loaded.elapsed() < MAX_AGE).then_some(entry.body)
    }

    /// Call before reading the rows a view is built from.
    pub fn load_started(&self) -> LoadStarted {
        LoadStarted(self.inner.epoch.load(Ordering::Acquire))
    }

    /// Keeps `body`, built from rows read after `started`, unless something changed meanwhile.
    pub fn store(&self, user_id: Uuid, started: LoadStarted, body: Bytes) {
        if self.inner.trusted.load(Ordering::Acquire) && self.inner.epoch.load(Ordering::Acquire) == started.0 {
            self.inner.entries.insert(user_id, Entry { epoch: started.0, loaded: Instant::now(), body });
        }
    }

    /// Drops every cached view: a user or config row changed (call once the change is committed).
    pub fn changed(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn set_trusted(&self, trusted: bool) {
        self.changed();
        self.inner.trusted.store(trusted, Ordering::Release);
        if !trusted {
            self.inner.entries.clear();
        }
    }
}

/// Listens for user and config changes for as long as the server runs: each one drops the cached
/// account views and the cached per-user configs ([`UserConfigs`], which would otherwise follow
/// within their own lifetime). Listens again after a failure, the cache off meanwhile.
pub async fn follow_changes(db: PgPool, profiles: ProfileCache, configs: UserConfigs) {
    // An outage is reported once, not at every retry.
    let mut reported = false;
    loop {
        match db::changes::listen_for_user_data_changes(&db).await {
            Ok(mut listener) => {
                reported = false;
                profiles.set_trusted(true);
                // `try_recv` says `None` when the connection was lost: what was sent meanwhile is gone.
                while let Ok(Some(_)) = listener.try_recv().await {
                    profiles.changed();
                    configs.forget_all();
                }
                profiles.set_trusted(false);
                configs.forget_all();
                tracing::warn!("lost the user-change listener; account views are read from PostgreSQL until it listens again");
            }
            Err(error) if !reported => {
                reported = true;
                tracing::warn!(%error, "cannot listen for user changes; account views are read from PostgreSQL until it can");
            }
            Err(error) => tracing::debug!(%error, "still cannot listen for user changes"),
        }
        tokio::time::sleep(RELISTEN_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &'static str) -> Bytes {
        Bytes::from_static(name.as_bytes())
    }

    #[test]
    fn nothing_is_served_until_changes_are_heard() {
        let cache = ProfileCache::default();
        let user = Uuid::new_v4();
        cache.store(user, cache.load_started(), view("a"));
        assert!(cache.get(user).is_none(), "not trusted before the listener listens");
        cache.set_trusted(true);
        cache.store(user, cache.load_started(), view("a"));
        assert_eq!(cache.get(user), Some(view("a")));
    }

    #[test]
    fn a_change_drops_every_view() {
        let cache = ProfileCache::default();
        cache.set_trusted(true);
        let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
        cache.store(one, cache.load_started(), view("a"));
        cache.store(two, cache.load_started(), view("b"));
        cache.changed();
        assert!(cache.get(one).is_none() && cache.get(two).is_none());
    }

    #[test]
    fn a_load_racing_a_change_is_not_stored() {
        let cache = ProfileCache::default();
        cache.set_trusted(true);
        let user = Uuid::new_v4();
        let started = cache.load_started();
        cache.changed(); // committed while the (now stale) row was being read
        cache.store(user, started, view("old"));
        assert!(cache.get(user).is_none());
    }

    #[test]
    fn losing_the_listener_turns_the_cache_off() {
        let cache = ProfileCache::default();
        cache.set_trusted(true);
        let user = Uuid::new_v4();
        cache.store(user, cache.load_started(), view("a"));
        cache.set_trusted(false);
        assert!(cache.get(user).is_none());
        cache.set_trusted(true);
        assert!(cache.get(user).is_none(), "what was cached before the loss is not trusted after it");
    }
}
