//! The web editor's collaboration rooms: one per file of a project, each a Yjs document served
//! with the y-sync protocol (the design document's `join_room` is opening the room's socket,
//! `code_change` a client's `Update`, `code_update` the same update relayed to the others).
//!
//! A [`Room`] holds the document (yrs, the Rust port of Yjs) and the editors' awareness (who is
//! here, their cursors and selections). Every update is stored before it is relayed
//! ([`crate::db::editor_documents`]: appended, never overwritten), so a reload or a restart loses
//! nothing. When PostgreSQL refuses an update the room is closed and forgotten: its editors
//! reconnect, the room is loaded again from what was stored, and the y-sync handshake has each
//! client send what the stored document lacks, so the refused update is stored then.
//!
//! A room exists only for a file the project has (`editor_file`). When the file is renamed or
//! deleted, every server closes its room for the old name ([`Rooms::close_file`]): the sockets end
//! with [`Closed::FileGone`] and rejoining is refused, so nobody keeps editing, or brings back, a
//! document that no longer has that name.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use sqlx::PgPool;
use tokio::sync::{OnceCell, broadcast, watch};
use uuid::Uuid;
use yrs::encoding::read::Cursor;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::protocol::{MessageReader, SyncMessage};
use yrs::sync::{Awareness, AwarenessUpdate, Message};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Text, Transact, Update};

use crate::db::{editor_documents, editor_files};
use crate::pipeline::room_relay::{self, RoomClosed, RoomEvent, RoomMessage, RoomRelay};
use crate::services::room_presence::stamp_presence;

/// The shared text every editor binds to (`ydoc.getText("content")` in the browser).
pub const TEXT_NAME: &str = "content";

/// Bytes of text (UTF-8) a document may hold; an update that finds it larger is refused (the
/// room's socket closes with 1009).
pub const MAX_DOCUMENT_BYTES: usize = 1_000_000;

/// Stored updates after which a room merges its rows into one.
const COMPACT_AFTER_UPDATES: u64 = 500;

/// Relayed messages a slow editor may fall behind by before it is sent the whole document again.
const RELAY_CAPACITY: usize = 256;

/// The sender of what another server relayed (no local connection has this id).
const FROM_ANOTHER_SERVER: u64 = 0;

/// Which room: a project's file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomKey {
    /// The project.
    pub project_id: Uuid,
    /// The file's name within it.
    pub file_name: String,
}

/// A message for the room's editors, from `from` (which does not receive it back).
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The sending peer.
    pub from: u64,
    /// One encoded y-sync message.
    pub message: Bytes,
}

/// Why a room refused what an editor sent.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// Not a y-sync message, or an update that does not decode.
    #[error("not a y-sync message: {0}")]
    Malformed(String),
    /// The document is over [`MAX_DOCUMENT_BYTES`].
    #[error("the document holds more than {MAX_DOCUMENT_BYTES} bytes of text")]
    TooLarge,
    /// PostgreSQL did not store the update (the room is closed).
    #[error("the document could not be stored: {0}")]
    Storage(#[from] sqlx::Error),
    /// The file was renamed or deleted before the update was stored (the room is closed).
    #[error("the file was renamed or deleted")]
    FileGone,
}

/// Why a room was closed: every socket on it ends, and it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// PostgreSQL refused an update: the editors reconnect and their resync stores what was refused.
    StorageFailed,
    /// The file was renamed or deleted (on this server or another): rejoining is refused.
    FileGone,
}

/// One file's live document, shared by the connections editing it.
pub struct Room {
    key: RoomKey,
    db: PgPool,
    awareness: Mutex<Awareness>,
    relay: broadcast::Sender<Relayed>,
    /// Publishes what this server accepted to the other servers.
    peers: RoomRelay,
    /// Set when the room is closed: every connection ends.
    closed: watch::Sender<Option<Closed>>,
    /// Which socket speaks for each awareness client ([`FROM_ANOTHER_SERVER`] for other servers').
    owners: Mutex<HashMap<ClientID, u64>>,
    /// Updates stored since the last compaction, and the newest stored row's id.
    stored: Mutex<(u64, i64)>,
    /// Set once the stored updates have been read (the first join reads them; the others wait).
    loaded: OnceCell<()>,
    registry: Weak<Mutex<HashMap<RoomKey, Weak<Room>>>>,
}

/// What one incoming frame produced.
#[derive(Debug, Default)]
pub struct Handled {
    /// Messages for the sender only.
    pub replies: Vec<Bytes>,
    /// Awareness clients the sender announced (removed when it leaves).
    pub announced: Vec<ClientID>,
}

impl Room {
    /// The room's key.
    pub fn key(&self) -> &RoomKey {
        &self.key
    }

    /// A receiver of the messages relayed to the room's editors.
    pub fn subscribe(&self) -> broadcast::Receiver<Relayed> {
        self.relay.subscribe()
    }

    /// A signal that is set when the room is closed (check it once before waiting: a room may
    /// close between a join and the first wait).
    pub fn closed(&self) -> watch::Receiver<Option<Closed>> {
        self.closed.subscribe()
    }

    /// What the server says first: its state vector (`SyncStep1`, so the client sends what the
    /// server lacks) and, when anyone is here, everyone's awareness.
    pub fn greeting(&self) -> Vec<Bytes> {
        let awareness = self.awareness.lock().expect("room lock");
        let mut messages = vec![encode(&Message::Sync(SyncMessage::SyncStep1(awareness.doc().transact().state_vector())))];
        if let Ok(update) = awareness.update()
            && !update.clients.is_empty()
        {
            messages.push(encode(&Message::Awareness(update)));
        }
        messages
    }

    /// The whole document as one update (for an editor that fell behind the relay).
    pub fn full_state(&self) -> Bytes {
        let awareness = self.awareness.lock().expect("room lock");
        let update = awareness.doc().transact().encode_state_as_update_v1(&StateVector::default());
        encode(&Message::Sync(SyncMessage::Update(update)))
    }

    /// Handles one binary frame from peer `from` (one or more y-sync messages): answers sync
    /// requests, applies, stores and relays updates, relays awareness — under `speaker`, the
    /// account's name ([`stamp_presence`]).
    pub async fn handle(&self, from: u64, speaker: &str, frame: &[u8]) -> Result<Handled, RoomError> {
        let messages = decode_all(frame)?;
        let mut handled = Handled::default();
        for message in messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(remote)) => {
                    let awareness = self.awareness.lock().expect("room lock");
                    let diff = awareness.doc().transact().encode_state_as_update_v1(&remote);
                    handled.replies.push(encode(&Message::Sync(SyncMessage::SyncStep2(diff))));
                }
                Message::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => self.apply(from, update).await?,
                Message::Awareness(update) => {
                    let Some(update) = self.claim(from, update).and_then(|update| stamped(update, speaker)) else { continue };
                    handled.announced.extend(update.clients.keys().copied());
                    let message = encode(&Message::Awareness(update.clone()));
                    self.awareness.lock().expect("room lock").apply_update(update).map_err(|e| RoomError::Malformed(e.to_string()))?;
                    self.share(from, message);
                }
                Message::AwarenessQuery => {
                    let awareness = self.awareness.lock().expect("room lock");
                    if let Ok(update) = awareness.update() {
                        handled.replies.push(encode(&Message::Awareness(update)));
                    }
                }
                Message::Auth(_) | Message::Custom(..) => {}
            }
        }
        Ok(handled)
    }

    /// Applies an update (refused when it does not decode or the document is full), stores it,
    /// then relays it. An update that changes nothing (already known) is neither stored nor relayed.
    async fn apply(&self, from: u64, update: Vec<u8>) -> Result<(), RoomError> {
        let decoded = Update::decode_v1(&update).map_err(|e| RoomError::Malformed(e.to_string()))?;
        {
            let awareness = self.awareness.lock().expect("room lock");
            let doc = awareness.doc();
            // Already known (a client's resync repeating what it sent, a newcomer's empty
            // handshake reply): nothing to store or relay — and never refused, so a document at
            // its size limit can still be opened.
            if !decoded.extends(&doc.transact().state_vector()) && decoded.delete_set().is_empty() {
                return Ok(());
            }
            let text = doc.get_or_insert_text(TEXT_NAME);
            if text.len(&doc.transact()) as usize > MAX_DOCUMENT_BYTES {
                return Err(RoomError::TooLarge);
            }
            doc.transact_mut().apply_update(decoded).map_err(|e| RoomError::Malformed(e.to_string()))?;
        }
        match editor_documents::append(&self.db, self.key.project_id, &self.key.file_name, std::slice::from_ref(&update)).await {
            Ok(last) => self.stored(last),
            // Renamed or deleted since this room opened: what its editors typed has nowhere to go.
            Err(error) if editor_documents::is_file_gone(&error) => {
                self.close(Closed::FileGone);
                return Err(RoomError::FileGone);
            }
            Err(error) => {
                tracing::warn!(%error, project_id = %self.key.project_id, "an editor's update could not be stored; closing the room");
                self.close(Closed::StorageFailed);
                return Err(RoomError::Storage(error));
            }
        }
        self.share(from, encode(&Message::Sync(SyncMessage::Update(update))));
        Ok(())
    }

    /// Relays a message accepted from local peer `from` to this server's other editors and
    /// publishes it to the other servers.
    fn share(&self, from: u64, message: Bytes) {
        let _ = self.relay.send(Relayed { from, message: message.clone() });
        let (peers, key) = (self.peers.clone(), self.key.clone());
        tokio::spawn(async move { peers.publish(key.project_id, &key.file_name, &message).await });
    }

    /// Applies what another server accepted (already stored by it) and relays it to this
    /// server's editors.
    fn apply_remote(&self, frame: &[u8]) {
        let Ok(messages) = decode_all(frame) else { return };
        for message in messages {
            let accepted = match &message {
                Message::Sync(SyncMessage::Update(update)) => Update::decode_v1(update)
                    .ok()
                    .is_some_and(|update| self.awareness.lock().expect("room lock").doc().transact_mut().apply_update(update).is_ok()),
                Message::Awareness(update) => {
                    // Another server's editors: no local socket may speak for them.
                    let mut owners = self.owners.lock().expect("room lock");
                    for (client, entry) in &update.clients {
                        if is_removal(entry) {
                            owners.remove(client);
                        } else {
                            owners.entry(*client).or_insert(FROM_ANOTHER_SERVER);
                        }
                    }
                    drop(owners);
                    self.awareness.lock().expect("room lock").apply_update(update.clone()).is_ok()
                }
                _ => false,
            };
            if accepted {
                let _ = self.relay.send(Relayed { from: FROM_ANOTHER_SERVER, message: encode(&message) });
            }
        }
    }

    /// Applies every stored update (a no-op for those already applied) and relays what was new
    /// to this server's editors: how a room loads, and how it catches up on what other servers
    /// stored while their messages could not reach it.
    async fn catch_up(&self) -> Result<(), sqlx::Error> {
        let (updates, last) = editor_documents::updates(&self.db, self.key.project_id, &self.key.file_name).await?;
        {
            let mut stored = self.stored.lock().expect("room lock");
            stored.1 = stored.1.max(last);
        }
        let diff = {
            let awareness = self.awareness.lock().expect("room lock");
            let doc = awareness.doc();
            let before = doc.transact().state_vector();
            {
                let mut txn = doc.transact_mut();
                for update in &updates {
                    match Update::decode_v1(update) {
                        Ok(update) => {
                            let _ = txn.apply_update(update);
                        }
                        Err(error) => tracing::warn!(%error, project_id = %self.key.project_id, "a stored document update does not decode; skipped"),
                    }
                }
            }
            (doc.transact().state_vector() != before).then(|| doc.transact().encode_diff_v1(&before))
        };
        if let Some(diff) = diff {
            let _ = self.relay.send(Relayed { from: FROM_ANOTHER_SERVER, message: encode(&Message::Sync(SyncMessage::Update(diff))) });
        }
        Ok(())
    }

    /// Counts a stored update; past [`COMPACT_AFTER_UPDATES`], merges the stored rows in the background.
    fn stored(&self, last: i64) {
        let through = {
            let mut stored = self.stored.lock().expect("room lock");
            stored.0 += 1;
            stored.1 = stored.1.max(last);
            if stored.0 < COMPACT_AFTER_UPDATES {
                return;
            }
            stored.0 = 0;
            stored.1
        };
        let (db, key) = (self.db.clone(), self.key.clone());
        tokio::spawn(async move {
            if let Err(error) = editor_documents::compact(&db, key.project_id, &key.file_name, through, merge_updates).await {
                tracing::warn!(%error, project_id = %key.project_id, "compacting a document's updates failed; they stay as they are");
            }
        });
    }

    /// Removes the awareness states a leaving peer announced and tells the others.
    pub fn leave(&self, from: u64, announced: &HashSet<ClientID>) {
        if announced.is_empty() {
            return;
        }
        self.owners.lock().expect("room lock").retain(|_, owner| *owner != from);
        let mut awareness = self.awareness.lock().expect("room lock");
        for &client in announced {
            awareness.remove_state(client);
        }
        if let Ok(update) = awareness.update_with_clients(announced.iter().copied()) {
            self.share(from, encode(&Message::Awareness(update)));
        }
    }

    /// The part of an awareness update that peer `from` may send: the states of awareness
    /// clients it speaks for (the first socket to announce a client id owns it until it leaves),
    /// so a member cannot move or clear someone else's cursor. `None` when nothing is left.
    fn claim(&self, from: u64, mut update: AwarenessUpdate) -> Option<AwarenessUpdate> {
        let mut owners = self.owners.lock().expect("room lock");
        update.clients.retain(|client, _| *owners.entry(*client).or_insert(from) == from);
        (!update.clients.is_empty()).then_some(update)
    }

    /// Closes the room: its connections end and the next join loads it from PostgreSQL again (or
    /// is refused, for a file that is gone).
    fn close(&self, why: Closed) {
        if let Some(registry) = self.registry.upgrade() {
            let mut rooms = registry.lock().expect("rooms lock");
            if rooms.get(&self.key).is_some_and(|weak| std::ptr::eq(weak.as_ptr(), self)) {
                rooms.remove(&self.key);
            }
        }
        self.closed.send_replace(Some(why));
    }
}

/// The update with each state as the other members get it ([`stamp_presence`]); `None` when
/// nothing is left.
fn stamped(mut update: AwarenessUpdate, speaker: &str) -> Option<AwarenessUpdate> {
    update.clients.retain(|_, entry| match stamp_presence(&entry.json, speaker) {
        Some(json) => {
            entry.json = json.into();
            true
        }
        None => false,
    });
    (!update.clients.is_empty()).then_some(update)
}

/// Whether an awareness entry removes its client (a `null` state).
fn is_removal(entry: &AwarenessUpdateEntry) -> bool {
    entry.json.as_ref() == "null"
}

fn encode(message: &Message) -> Bytes {
    Bytes::from(message.encode_v1())
}

/// Every message of a frame (y-sync allows several back to back).
fn decode_all(frame: &[u8]) -> Result<Vec<Message>, RoomError> {
    if frame.is_empty() {
        return Err(RoomError::Malformed("empty frame".to_owned()));
    }
    let mut decoder = DecoderV1::new(Cursor::new(frame));
    let messages: Vec<Message> =
        MessageReader::new(&mut decoder).map(|m| m.map_err(|e| RoomError::Malformed(e.to_string()))).collect::<Result<_, _>>()?;
    // The reader stops silently at a message cut short (or a length past the frame's end): every
    // byte must belong to a whole message, which re-encoding them tells (Yjs encodes canonically).
    let whole: usize = messages.iter().map(|m| m.encode_v1().len()).sum();
    if whole != frame.len() {
        return Err(RoomError::Malformed(format!("{} of {} bytes are not a whole message", frame.len() - whole.min(frame.len()), frame.len())));
    }
    Ok(messages)
}

/// The merge of stored updates into one (for compaction); `None` when one does not decode.
fn merge_updates(updates: Vec<Vec<u8>>) -> Option<Vec<u8>> {
    let doc = Doc::new();
    {
        let mut txn = doc.transact_mut();
        for update in updates {
            txn.apply_update(Update::decode_v1(&update).ok()?).ok()?;
        }
    }
    Some(doc.transact().encode_state_as_update_v1(&StateVector::default()))
}

/// The live rooms of this server; cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    db: PgPool,
    peers: RoomRelay,
    open: Arc<Mutex<HashMap<RoomKey, Weak<Room>>>>,
    next_peer: Arc<AtomicU64>,
}

impl Rooms {
    /// No room open yet; `peers` carries the rooms' traffic to and from the other servers.
    pub fn new(db: PgPool, peers: RoomRelay) -> Self {
        Self { db, peers, open: Arc::default(), next_peer: Arc::new(AtomicU64::new(FROM_ANOTHER_SERVER + 1)) }
    }

    /// The open room of `key`, if any.
    fn open_room(&self, key: &RoomKey) -> Option<Arc<Room>> {
        self.open.lock().expect("rooms lock").get(key).and_then(Weak::upgrade)
    }

    /// Every open room.
    fn open_rooms(&self) -> Vec<Arc<Room>> {
        self.open.lock().expect("rooms lock").values().filter_map(Weak::upgrade).collect()
    }

    /// A new peer id for a connection.
    pub fn next_peer(&self) -> u64 {
        self.next_peer.fetch_add(1, Ordering::Relaxed)
    }

    /// The room of `key`, loaded from PostgreSQL when no connection of this server has it open.
    ///
    /// A new room is registered before its updates are read, so whatever another server stores
    /// after that read is published to a room that already hears it; joins racing the first wait
    /// for its one read (and retry it if it failed).
    pub async fn join(&self, key: RoomKey) -> sqlx::Result<Arc<Room>> {
        let room = {
            let mut open = self.open.lock().expect("rooms lock");
            match open.get(&key).and_then(Weak::upgrade) {
                Some(room) => room,
                None => {
                    let room = Arc::new(Room {
                        key: key.clone(),
                        db: self.db.clone(),
                        awareness: Mutex::new(Awareness::new(Doc::new())),
                        relay: broadcast::channel(RELAY_CAPACITY).0,
                        peers: self.peers.clone(),
                        closed: watch::channel(None).0,
                        owners: Mutex::default(),
                        stored: Mutex::new((0, 0)),
                        loaded: OnceCell::new(),
                        registry: Arc::downgrade(&self.open),
                    });
                    open.retain(|_, weak| weak.strong_count() > 0);
                    open.insert(key, Arc::downgrade(&room));
                    room
                }
            }
        };
        room.loaded.get_or_try_init(|| room.catch_up()).await?;
        Ok(room)
    }

    /// Closes the rooms of a file that was renamed or deleted, here and (through Redis) on every
    /// other server: their sockets end with [`Closed::FileGone`] and are forgotten.
    pub async fn close_file(&self, project_id: Uuid, file_name: &str) {
        self.close_here(&RoomKey { project_id, file_name: file_name.to_owned() }, Closed::FileGone);
        self.peers.publish_closed(project_id, file_name, RoomClosed::FileGone).await;
    }

    /// Closes this server's room of `key`, if open.
    fn close_here(&self, key: &RoomKey, why: Closed) {
        if let Some(room) = self.open_room(key) {
            room.close(why);
        }
    }

    /// Brings an open room up to date after messages may have been lost: closes it when its file
    /// is gone (the close was among them), else catches up on the stored updates.
    async fn recover(&self, room: &Room) -> sqlx::Result<()> {
        if !editor_files::exists(&self.db, room.key.project_id, &room.key.file_name).await? {
            room.close(Closed::FileGone);
            return Ok(());
        }
        room.catch_up().await
    }
}

/// Applies the other servers' room traffic to this server's open rooms, forever; whenever the
/// subscription is (back) in place, every open room catches up from PostgreSQL (or closes, when
/// its file is gone), since what was published meanwhile is lost.
pub async fn follow_other_servers(client: redis::Client, rooms: Rooms) {
    let origin = rooms.peers.origin();
    let on_subscribed = |subscribed: bool| {
        if subscribed {
            let rooms = rooms.clone();
            tokio::spawn(async move {
                for room in rooms.open_rooms() {
                    if let Err(error) = rooms.recover(&room).await {
                        tracing::warn!(%error, project_id = %room.key.project_id, "a room could not catch up; it does at its next reopening");
                    }
                }
            });
        }
    };
    let on_message = |message: RoomMessage| {
        let key = RoomKey { project_id: message.project_id, file_name: message.file_name.clone() };
        match message.event {
            RoomEvent::Closed { closed: RoomClosed::FileGone } => rooms.close_here(&key, Closed::FileGone),
            RoomEvent::Sync { .. } => {
                if let (Some(room), Some(bytes)) = (rooms.open_room(&key), message.bytes()) {
                    room.apply_remote(&bytes);
                }
            }
        }
    };
    room_relay::follow(client, origin, on_subscribed, on_message).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::GetString;

    /// A client document with `text` typed by client `id`, and its update from empty.
    fn client_with(id: u64, text: &str) -> (Doc, Vec<u8>) {
        let doc = Doc::with_client_id(id);
        let shared = doc.get_or_insert_text(TEXT_NAME);
        shared.insert(&mut doc.transact_mut(), 0, text);
        let update = doc.transact().encode_state_as_update_v1(&StateVector::default());
        (doc, update)
    }

    #[test]
    fn frames_decode_every_message_and_refuse_garbage() {
        let (_, update) = client_with(1, "x");
        let mut frame = Message::Sync(SyncMessage::Update(update)).encode_v1();
        frame.extend(Message::AwarenessQuery.encode_v1());
        assert_eq!(decode_all(&frame).unwrap().len(), 2);
        assert!(decode_all(&[]).is_err());
        assert!(decode_all(&[0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err(), "a length past the frame");
        assert!(decode_all(&[0, 9]).is_err(), "an unknown sync step");
    }

    #[test]
    fn merging_stored_updates_gives_the_same_document() {
        let (a, first) = client_with(1, "hello");
        let shared = a.get_or_insert_text(TEXT_NAME);
        let sv = a.transact().state_vector();
        shared.insert(&mut a.transact_mut(), 5, " world");
        let second = a.transact().encode_diff_v1(&sv);
        let merged = merge_updates(vec![first, second]).unwrap();
        let (restored, _) = (Doc::new(), ());
        restored.transact_mut().apply_update(Update::decode_v1(&merged).unwrap()).unwrap();
        assert_eq!(restored.get_or_insert_text(TEXT_NAME).get_string(&restored.transact()), "hello world");
        assert!(merge_updates(vec![vec![1, 2, 3]]).is_none(), "a row that does not decode stops the compaction");
    }
}
