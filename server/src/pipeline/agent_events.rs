//! Announcements of new agent run events, heard on the shared `agent_events` channel (the worker
//! publishes the run's id after storing an event) and fanned out inside the process to the streams
//! following that run. One subscription per server, on the pipeline's pub/sub connection, however
//! many streams are open.
//!
//! A signal only says "read the table again": a stream never takes an event from the message, so a
//! lost, late or forged announcement changes nothing (streams also poll), and after the
//! subscription was lost every stream simply reads again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use uuid::Uuid;

/// The agent streams of this process by run; cheap to clone.
#[derive(Clone, Default)]
pub struct AgentEvents {
    inner: Arc<Inner>,
}

/// One stream's registration id and its signal.
type Stream = (u64, Arc<Notify>);

#[derive(Default)]
struct Inner {
    /// Run → its streams.
    following: Mutex<HashMap<Uuid, Vec<Stream>>>,
    next_id: AtomicU64,
}

/// One stream's registration; unregisters when dropped.
pub struct Following {
    events: AgentEvents,
    run_id: Uuid,
    id: u64,
    signal: Arc<Notify>,
}

impl Following {
    /// Resolves when the run may have a new event. A signal that arrives while nobody waits is
    /// kept (one).
    pub async fn changed(&self) {
        self.signal.notified().await;
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let mut following = self.events.inner.following.lock().expect("lock");
        if let Some(streams) = following.get_mut(&self.run_id) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                following.remove(&self.run_id);
            }
        }
    }
}

impl AgentEvents {
    /// Registers a stream following `run_id`.
    pub fn follow(&self, run_id: Uuid) -> Following {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let signal = Arc::new(Notify::new());
        self.inner.following.lock().expect("lock").entry(run_id).or_default().push((id, signal.clone()));
        Following { events: self.clone(), run_id, id, signal }
    }

    /// Signals the streams of the run a message names.
    pub(super) fn route(&self, payload: &str) {
        let Ok(run_id) = Uuid::parse_str(payload.trim()) else {
            return tracing::warn!("unreadable message on the agent events channel; ignored");
        };
        for (_, signal) in self.inner.following.lock().expect("lock").get(&run_id).into_iter().flatten() {
            signal.notify_one();
        }
    }

    /// Signals every stream (the subscription is back: what was published meanwhile is lost).
    pub(super) fn signal_all(&self) {
        for (_, signal) in self.inner.following.lock().expect("lock").values().flatten() {
            signal.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn signalled(following: &Following) -> bool {
        tokio::time::timeout(Duration::from_millis(50), following.changed()).await.is_ok()
    }

    #[tokio::test]
    async fn an_announcement_signals_only_the_streams_of_its_run_and_dropped_streams_leave() {
        let events = AgentEvents::default();
        let (run, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b, stranger) = (events.follow(run), events.follow(run), events.follow(other));
        events.route(&run.to_string());
        assert!(signalled(&a).await && signalled(&b).await);
        assert!(!signalled(&stranger).await);
        events.route("not a uuid");
        assert!(!signalled(&a).await);
        drop((a, b));
        assert!(!events.inner.following.lock().expect("lock").contains_key(&run), "no entry outlives its streams");
        events.signal_all();
        assert!(signalled(&stranger).await);
    }
}
