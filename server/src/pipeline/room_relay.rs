//! The editor's collaboration rooms across server instances: every y-sync update or awareness
//! change a server accepts is published on one Redis channel, and every server applies what the
//! others published to the rooms it has open. Published after the update is stored, so a server
//! that missed messages (its subscription was down) catches up from PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use code4me_shared::pubsub::subscribe_forever;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The channel every server publishes room traffic on and listens to.
pub const ROOMS_CHANNEL: &str = "editor:rooms";

/// One y-sync message of a room, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMessage {
    /// The publishing server (it ignores its own messages).
    pub origin: Uuid,
    /// The room's project.
    pub project_id: Uuid,
    /// The room's file.
    pub file_name: String,
    /// The encoded y-sync message, base64 (pub/sub payloads are read as text).
    pub message: String,
}

impl RoomMessage {
    /// The y-sync message's bytes; `None` when the payload is not base64.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        BASE64.decode(&self.message).ok()
    }
}

/// Publishes this server's room traffic; cheap to clone.
#[derive(Clone)]
pub struct RoomRelay {
    redis: ConnectionManager,
    origin: Uuid,
}

impl RoomRelay {
    /// A relay publishing as a fresh server identity.
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis, origin: Uuid::new_v4() }
    }

    /// This server's identity on the channel.
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Publishes one message of a room. Best effort: a server that misses it catches up from
    /// PostgreSQL when its subscription returns or a room is opened.
    pub async fn publish(&self, project_id: Uuid, file_name: &str, message: &[u8]) {
        let payload = RoomMessage { origin: self.origin, project_id, file_name: file_name.to_owned(), message: BASE64.encode(message) };
        let Ok(payload) = serde_json::to_string(&payload) else { return };
        let mut redis = self.redis.clone();
        if let Err(error) = redis.publish::<_, _, ()>(ROOMS_CHANNEL, payload).await {
            tracing::warn!(%error, %project_id, "could not relay a room's update to the other servers");
        }
    }
}

/// Hears the other servers' room traffic forever: `on_subscribed(true)` each time the
/// subscription is (back) in place, `on_message` for each message another server published.
pub async fn follow(client: redis::Client, origin: Uuid, on_subscribed: impl FnMut(bool), mut on_message: impl FnMut(RoomMessage) + Send) {
    subscribe_forever(client, vec![ROOMS_CHANNEL.to_owned()], "editor rooms", on_subscribed, |_, payload| {
        match serde_json::from_str::<RoomMessage>(&payload) {
            Ok(message) if message.origin != origin => on_message(message),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ignoring a malformed message on the rooms channel"),
        }
        std::future::ready(())
    })
    .await;
}
