//! The editor's collaboration rooms across server instances: every y-sync update or awareness
//! change a server accepts is published on one Redis channel, and every server applies what the
//! others published to the rooms it has open. Published after the update is stored, so a server
//! that missed messages (its subscription was down) catches up from PostgreSQL. A file renamed or
//! deleted is published too, so every server closes that file's room.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use code4me_shared::pubsub::subscribe_forever;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The channel every server publishes room traffic on and listens to.
pub const ROOMS_CHANNEL: &str = "editor:rooms";

/// One event of a room, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMessage {
    /// The publishing server (it ignores its own messages).
    pub origin: Uuid,
    /// The room's project.
    pub project_id: Uuid,
    /// The room's file.
    pub file_name: String,
    /// What happened: its fields sit beside the ones above (`message`, or `closed`).
    #[serde(flatten)]
    pub event: RoomEvent,
}

/// What a room's message says. Untagged, so a y-sync message keeps the wire form servers of the
/// previous release publish and read (`"message"`); they ignore a `closed` they cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoomEvent {
    /// A y-sync message the publisher accepted (and stored, for an update).
    Sync {
        /// The encoded y-sync message, base64 (pub/sub payloads are read as text).
        message: String,
    },
    /// The room ended on every server: its sockets close and it is forgotten.
    Closed {
        /// Why.
        closed: RoomClosed,
    },
}

/// Why a room was closed on every server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomClosed {
    /// Its file was renamed or deleted: its editors are told so (4404) and rejoining is refused.
    FileGone,
}

impl RoomMessage {
    /// The y-sync message's bytes; `None` when the payload is not base64 or not a y-sync message.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match &self.event {
            RoomEvent::Sync { message } => BASE64.decode(message).ok(),
            RoomEvent::Closed { .. } => None,
        }
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
        self.send(project_id, file_name, RoomEvent::Sync { message: BASE64.encode(message) }).await;
    }

    /// Tells the other servers to close a room. Best effort too: a server that misses it checks
    /// its rooms' files when its subscription returns, and an update its room stores meanwhile is
    /// refused (the file's row is gone) and closes the room the same way.
    pub async fn publish_closed(&self, project_id: Uuid, file_name: &str, why: RoomClosed) {
        self.send(project_id, file_name, RoomEvent::Closed { closed: why }).await;
    }

    async fn send(&self, project_id: Uuid, file_name: &str, event: RoomEvent) {
        let payload = RoomMessage { origin: self.origin, project_id, file_name: file_name.to_owned(), event };
        let Ok(payload) = serde_json::to_string(&payload) else { return };
        let mut redis = self.redis.clone();
        if let Err(error) = redis.publish::<_, _, ()>(ROOMS_CHANNEL, payload).await {
            tracing::warn!(%error, %project_id, "could not relay a room's event to the other servers");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_message_keeps_the_previous_wire_form_and_a_close_is_its_own() {
        let (origin, project_id) = (Uuid::nil(), Uuid::max());
        let previous = format!(r#"{{"origin":"{origin}","project_id":"{project_id}","file_name":"a.py","message":"AAE="}}"#);
        let read: RoomMessage = serde_json::from_str(&previous).expect("the previous release's form");
        assert_eq!(read.bytes(), Some(vec![0, 1]));
        assert_eq!(serde_json::to_string(&read).expect("json"), previous);
        let closed = RoomMessage { origin, project_id, file_name: "a.py".into(), event: RoomEvent::Closed { closed: RoomClosed::FileGone } };
        let json = serde_json::to_string(&closed).expect("json");
        assert!(json.ends_with(r#""file_name":"a.py","closed":"file_gone"}"#), "{json}");
        assert_eq!(serde_json::from_str::<RoomMessage>(&json).expect("read back"), closed);
        assert_eq!(closed.bytes(), None);
    }
}
