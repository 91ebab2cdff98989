//! The worker's one pub/sub connection: queue wake-ups for its consumers and cancellations for the
//! generations it runs. After every (re)subscribe [`Signals::listen`] wakes every consumer, which
//! catches up on jobs pushed while it was deaf.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use code4me_shared::cancellation;
use code4me_shared::pubsub::subscribe_forever;
use code4me_shared::redis_keys::{CANCEL_CHANNEL, wake_channel};
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use uuid::Uuid;

/// Shared by the listener and every job handler; cheap to clone.
#[derive(Clone, Default)]
pub struct Signals {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Channel name → the wake-up senders of consumers polling that queue.
    wakers: Mutex<HashMap<String, Vec<UnboundedSender<()>>>>,
    /// Cancellation flags of the generations running here.
    running: Mutex<HashMap<Uuid, Arc<AtomicBool>>>,
}

/// Cancellation flag of a running job; unregisters itself when dropped.
pub struct Tracked {
    signals: Signals,
    request_id: Uuid,
    /// Set when a cancel for the request arrives.
    pub flag: Arc<AtomicBool>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.signals.inner.running.lock().expect("lock").remove(&self.request_id);
    }
}

impl Signals {
    /// A stream that yields whenever a job is pushed to `queue` (and after each resubscribe).
    pub fn wake_stream(&self, queue: &str) -> UnboundedReceiver<()> {
        let (tx, rx) = unbounded();
        self.inner.wakers.lock().expect("lock").entry(wake_channel(queue)).or_default().push(tx);
        rx
    }

    /// Registers a running job so a cancel can reach it.
    pub fn track(&self, request_id: Uuid) -> Tracked {
        let flag = Arc::new(AtomicBool::new(false));
        self.inner.running.lock().expect("lock").insert(request_id, flag.clone());
        Tracked { signals: self.clone(), request_id, flag }
    }

    fn wake(&self, channel: &str) {
        if let Some(senders) = self.inner.wakers.lock().expect("lock").get_mut(channel) {
            // Consumers rebuilt after a failure leave closed senders behind; drop those.
            senders.retain(|tx| tx.unbounded_send(()).is_ok());
        }
    }

    fn wake_all(&self) {
        let channels: Vec<String> = self.inner.wakers.lock().expect("lock").keys().cloned().collect();
        for channel in channels {
            self.wake(&channel);
        }
    }

    fn cancel(&self, payload: &str) {
        let Some(id) = cancellation::parse_announcement(payload) else { return };
        if let Some(flag) = self.inner.running.lock().expect("lock").get(&id) {
            flag.store(true, Ordering::Relaxed);
            tracing::info!(request_id = %id, "generation cancelled");
        }
    }

    /// Subscribes to the wake channels of `queues` and to cancellations, forever (until the
    /// returned future is dropped), reconnecting after any failure.
    pub async fn listen(self, client: redis::Client, queues: Vec<&'static str>) {
        let mut channels: Vec<String> = queues.iter().map(|q| wake_channel(q)).collect();
        channels.push(CANCEL_CHANNEL.to_owned());
        // After every (re)subscribe, a poll finds anything pushed while nobody was listening.
        let on_subscribed = |subscribed| {
            if subscribed {
                self.wake_all();
            }
        };
        let on_message = |channel: String, payload: String| {
            match channel.as_str() {
                CANCEL_CHANNEL => self.cancel(&payload),
                channel => self.wake(channel),
            }
            std::future::ready(())
        };
        subscribe_forever(client, channels, "wake-ups and cancellations", on_subscribed, on_message).await;
    }
}
