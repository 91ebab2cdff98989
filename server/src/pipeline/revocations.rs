//! Revocations heard on the shared `revoked` channel, fanned out inside the process to the
//! WebSockets that depend on the revoked session. Every server instance subscribes (the session may
//! end on another one), on the same pub/sub connection as its replies.
//!
//! A signal only says "look again": the connection re-reads its session from Redis and closes if it
//! lost it. So a late, repeated or forged message closes nothing still authorised, and after the
//! subscription was lost (messages published meanwhile are gone) every connection simply looks again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use code4me_shared::redis_keys::Revocation;
use tokio::sync::Notify;
use uuid::Uuid;

/// The connections of this process by session; cheap to clone.
#[derive(Clone, Default)]
pub struct Revocations {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Session → the connections using it (id, project, signal).
    watching: Mutex<HashMap<Uuid, Vec<Watcher>>>,
    next_id: AtomicU64,
}

struct Watcher {
    id: u64,
    project: Uuid,
    signal: Arc<Notify>,
}

/// One connection's registration; unregisters when dropped.
pub struct Watch {
    revocations: Revocations,
    session: Uuid,
    id: u64,
    signal: Arc<Notify>,
}

impl Watch {
    /// Resolves when the connection should re-check its session: a revocation named it, or the
    /// subscription came back after a loss. Signals that arrive while nobody waits are kept (one).
    pub async fn changed(&self) {
        self.signal.notified().await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watching = self.revocations.inner.watching.lock().expect("lock");
        if let Some(watchers) = watching.get_mut(&self.session) {
            watchers.retain(|w| w.id != self.id);
            if watchers.is_empty() {
                watching.remove(&self.session);
            }
        }
    }
}

impl Revocations {
    /// Registers a connection acting for `session` in `project`.
    pub fn watch(&self, session: Uuid, project: Uuid) -> Watch {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let signal = Arc::new(Notify::new());
        let watcher = Watcher { id, project, signal: signal.clone() };
        self.inner.watching.lock().expect("lock").entry(session).or_default().push(watcher);
        Watch { revocations: self.clone(), session, id, signal }
    }

    /// Signals the connections a message on the revocations channel names.
    pub(super) fn route(&self, payload: &str) {
        let revocation: Revocation = match serde_json::from_str(payload) {
            Ok(revocation) => revocation,
            Err(error) => return tracing::warn!(%error, "unreadable message on the revocations channel; ignored"),
        };
        let watching = self.inner.watching.lock().expect("lock");
        for watcher in watching.get(&revocation.session).into_iter().flatten() {
            if revocation.project.is_none_or(|p| p == watcher.project) {
                watcher.signal.notify_one();
            }
        }
    }

    /// Signals every connection (the subscription is back: what was published meanwhile is lost).
    pub(super) fn recheck_all(&self) {
        for watcher in self.inner.watching.lock().expect("lock").values().flatten() {
            watcher.signal.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn signalled(watch: &Watch) -> bool {
        tokio::time::timeout(Duration::from_millis(50), watch.changed()).await.is_ok()
    }

    #[tokio::test]
    async fn a_revocation_signals_only_the_connections_of_its_session_and_project() {
        let revocations = Revocations::default();
        let (session, other_session, project, other_project) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let here = revocations.watch(session, project);
        let elsewhere = revocations.watch(session, other_project);
        let stranger = revocations.watch(other_session, project);

        let released = Revocation { session, project: Some(project) };
        revocations.route(&serde_json::to_string(&released).expect("json"));
        assert!(signalled(&here).await);
        assert!(!signalled(&elsewhere).await, "another project of the same session keeps going");
        assert!(!signalled(&stranger).await);

        revocations.route(&serde_json::to_string(&Revocation { session, project: None }).expect("json"));
        assert!(signalled(&here).await && signalled(&elsewhere).await, "an ended session signals all its connections");
        assert!(!signalled(&stranger).await);

        revocations.route("not json");
        revocations.recheck_all();
        assert!(signalled(&stranger).await, "a resubscription makes everyone look again");
    }

    #[test]
    fn a_dropped_watch_unregisters() {
        let revocations = Revocations::default();
        let session = Uuid::new_v4();
        drop(revocations.watch(session, Uuid::new_v4()));
        assert!(revocations.inner.watching.lock().expect("lock").is_empty());
    }
}
