//! Replies from workers to this server instance: one pub/sub subscription per instance on its own
//! channel (see [`super::listen`]), fanned out inside the process to whichever request is waiting.
//! Redis pub/sub does not reconnect by itself; the listener resubscribes after any loss (replies
//! published meanwhile are lost, and their requests end at their timeout with the contract's error
//! items).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use code4me_shared::reply::Reply;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Routes replies to waiting requests; cheap to clone.
#[derive(Clone, Default)]
pub struct ReplyRouter {
    waiting: Arc<Mutex<HashMap<Uuid, mpsc::UnboundedSender<Reply>>>>,
}

/// A request's stream of replies; stops routing when dropped.
pub struct Replies {
    router: ReplyRouter,
    request_id: Uuid,
    rx: mpsc::UnboundedReceiver<Reply>,
}

impl Replies {
    /// The next reply, or `None` if the router is gone.
    pub async fn next(&mut self) -> Option<Reply> {
        self.rx.recv().await
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        self.router.waiting.lock().expect("lock").remove(&self.request_id);
    }
}

impl ReplyRouter {
    /// Starts routing replies for `request_id` (before its jobs are pushed, so none is missed).
    pub fn expect(&self, request_id: Uuid) -> Replies {
        let (tx, rx) = mpsc::unbounded_channel();
        self.waiting.lock().expect("lock").insert(request_id, tx);
        Replies { router: self.clone(), request_id, rx }
    }

    /// Hands a reply published on this instance's channel to the request waiting for it.
    pub(super) fn route(&self, payload: &str) {
        let reply: Reply = match serde_json::from_str(payload) {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!(%error, "unreadable reply on this server's channel; ignored");
                return;
            }
        };
        if let Some(tx) = self.waiting.lock().expect("lock").get(&reply.request_id) {
            let _ = tx.send(reply);
        }
    }
}
