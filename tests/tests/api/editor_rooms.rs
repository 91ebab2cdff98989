//! The editor's collaboration rooms (`/api/editor/rooms/{project_id}?file=`) with real yrs
//! documents as clients, speaking y-sync as a browser's Yjs provider does: edits reach the other
//! members within a second, concurrent edits converge, presence comes and goes, the document
//! survives a restart, and outsiders, bad input, files the project does not have and ended
//! sessions are refused. A room's file is created first (`editor_files.rs` tests the files).

use std::time::Duration;

use code4me_tests::TestApp;
use code4me_tests::plugin::Plugin;
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use yrs::encoding::read::Cursor;
use yrs::sync::protocol::{MessageReader, SyncMessage};
use yrs::sync::{Awareness, Message as SyncFrame};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

use crate::websocket::{REVOKED, Socket, open, until_closed};

/// The shared text's name (the server's `TEXT_NAME`).
const TEXT: &str = "content";

/// How long a test waits for something a room relays. Generous on purpose: on a loaded CI
/// machine the test's own runtime may stall for seconds, and `until` returns as soon as the
/// condition holds, so a passing wait costs no more than the relay does.
pub(crate) const RELAYED_WITHIN: Duration = Duration::from_secs(10);

/// One editor: a socket onto a room and the client's own Yjs document.
pub(crate) struct Editor {
    pub(crate) socket: Socket,
    awareness: Awareness,
    /// Awareness states other editors announced, by client id (`None` once removed).
    others: std::collections::HashMap<u64, Option<String>>,
}

pub(crate) fn room_path(project: &str, file: &str) -> String {
    format!("/api/editor/rooms/{project}?file={}", urlencoding(file))
}

/// Percent-encodes everything but letters, digits and `._-` (for query values).
pub(crate) fn urlencoding(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

impl Editor {
    /// Joins the room and completes the y-sync handshake (the server's state is applied).
    pub(crate) async fn join(base: &str, plugin: &Plugin, project: &str, file: &str, client_id: u64) -> Self {
        let socket = open(base, &room_path(project, file), Some(plugin), None).await.expect("upgrade");
        let mut editor = Self { socket, awareness: Awareness::new(Doc::with_client_id(client_id)), others: Default::default() };
        let step1 = SyncFrame::Sync(SyncMessage::SyncStep1(editor.doc().transact().state_vector()));
        editor.send(&step1).await;
        // The server's answer to our step 1 is its state: wait for it.
        let deadline = tokio::time::Instant::now() + RELAYED_WITHIN;
        loop {
            let frames = editor.read_one(deadline).await.expect("the server answers the handshake");
            if frames.iter().any(|f| matches!(f, SyncFrame::Sync(SyncMessage::SyncStep2(_)))) {
                break;
            }
        }
        editor
    }

    fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    pub(crate) fn text(&self) -> String {
        let text = self.doc().get_or_insert_text(TEXT);
        text.get_string(&self.doc().transact())
    }

    async fn send(&mut self, frame: &SyncFrame) {
        self.socket.send(Message::binary(frame.encode_v1())).await.expect("send");
    }

    /// Types `text` at `index` and sends the update, as a Yjs provider does after a transaction.
    pub(crate) async fn type_at(&mut self, index: u32, text: &str) {
        let before = self.doc().transact().state_vector();
        let shared = self.doc().get_or_insert_text(TEXT);
        shared.insert(&mut self.doc().transact_mut(), index, text);
        let update = self.doc().transact().encode_diff_v1(&before);
        self.send(&SyncFrame::Sync(SyncMessage::Update(update))).await;
    }

    /// Announces this editor's cursor, under `name` and in `colour` (what its browser claims).
    async fn announce_cursor(&mut self, name: &str, at: u32) {
        self.announce(&format!(r##"{{"user":{{"name":"{name}","color":"#1f77b4"}},"cursor":{at}}}"##)).await;
    }

    /// Announces an awareness state, as raw JSON.
    async fn announce(&mut self, state: &str) {
        self.awareness.set_local_state_raw(state.to_owned());
        let update = self.awareness.update().expect("awareness update");
        self.send(&SyncFrame::Awareness(update)).await;
    }

    /// Reads one frame (before `deadline`) and applies what it carries; `None` on timeout.
    async fn read_one(&mut self, deadline: tokio::time::Instant) -> Option<Vec<SyncFrame>> {
        let message = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()?;
        let Some(Ok(Message::Binary(bytes))) = message else { panic!("expected a binary y-sync frame, got {message:?}") };
        let mut decoder = DecoderV1::new(Cursor::new(&bytes));
        let frames: Vec<SyncFrame> = MessageReader::new(&mut decoder).map(|m| m.expect("the server sends y-sync")).collect();
        for frame in &frames {
            match frame {
                SyncFrame::Sync(SyncMessage::SyncStep2(update) | SyncMessage::Update(update)) => {
                    self.doc().transact_mut().apply_update(Update::decode_v1(update).expect("update")).expect("apply");
                }
                SyncFrame::Sync(SyncMessage::SyncStep1(remote)) => {
                    let diff = self.doc().transact().encode_state_as_update_v1(remote);
                    self.send(&SyncFrame::Sync(SyncMessage::SyncStep2(diff))).await;
                }
                SyncFrame::Awareness(update) => {
                    for (client, entry) in &update.clients {
                        let state = (entry.json.as_ref() != "null").then(|| entry.json.to_string());
                        self.others.insert(client.get(), state);
                    }
                }
                _ => {}
            }
        }
        Some(frames)
    }

    /// Reads frames until `done` holds, for up to [`RELAYED_WITHIN`]; whether it did.
    pub(crate) async fn until(&mut self, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + RELAYED_WITHIN;
        while !done(self) {
            if self.read_one(deadline).await.is_none() {
                return done(self);
            }
        }
        true
    }
}

/// Two signed-in users; the owner added the second to their project by e-mail and created
/// `files` in it (a room exists only for a file the project has). Returns both plugins and the
/// project id.
pub(crate) async fn two_members(app: &TestApp, files: &[&str]) -> (Plugin, Plugin, String) {
    let (mut owner, project) = app.signed_in("owner@example.com").await;
    let (guest, _) = app.signed_in("guest@example.com").await;
    let added = owner.call(Method::POST, &format!("/api/editor/projects/{project}/members"), Some(json!({"email": "Guest@Example.com "}))).await;
    assert_eq!(added.status, 201, "{}", added.text);
    for file in files {
        create_file(&mut owner, &project, file).await;
    }
    (owner, guest, project)
}

/// Creates a file in the project (201 expected).
pub(crate) async fn create_file(plugin: &mut Plugin, project: &str, name: &str) {
    let created = plugin.call(Method::POST, &format!("/api/editor/projects/{project}/files"), Some(json!({"name": name}))).await;
    assert_eq!(created.status, 201, "creating {name:?}: {}", created.text);
}

/// The status and body of a refused WebSocket handshake.
pub(crate) fn refusal(result: Result<Socket, tokio_tungstenite::tungstenite::Error>) -> (u16, String) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap_or_default();
            (response.status().as_u16(), body)
        }
        other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| "an upgraded socket")),
    }
}

#[tokio::test]
async fn the_owner_adds_members_by_email_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let (mut owner, mut guest, project) = two_members(&app, &[]).await;
    let (mut stranger, strangers_project) = app.signed_in("stranger@example.com").await;
    let path = format!("/api/editor/projects/{project}/members");

    let listed = guest.call(Method::GET, &path, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let members = listed.body["members"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!((members[0]["email"].as_str(), members[0]["is_owner"].as_bool()), (Some("owner@example.com"), Some(true)));
    assert_eq!((members[1]["email"].as_str(), members[1]["is_owner"].as_bool()), (Some("guest@example.com"), Some(false)));

    let again = owner.call(Method::POST, &path, Some(json!({"email": "guest@example.com"}))).await;
    assert_eq!(again.status, 200, "adding a member twice changes nothing");
    let by_guest = guest.call(Method::POST, &path, Some(json!({"email": "stranger@example.com"}))).await;
    assert_eq!((by_guest.status, by_guest.body["detail"].as_str()), (403, Some("Only the project's owner can add members")));
    for (who, target) in [(&mut stranger, &path), (&mut owner, &format!("/api/editor/projects/{strangers_project}/members"))] {
        let refused = who.call(Method::GET, target, None).await;
        assert_eq!((refused.status, refused.body["detail"].as_str()), (403, Some("You are not a member of this project")));
        let refused = who.call(Method::POST, target, Some(json!({"email": "guest@example.com"}))).await;
        assert_eq!(refused.status, 403);
    }
    let unknown = owner.call(Method::POST, &path, Some(json!({"email": "nobody@example.com"}))).await;
    assert_eq!((unknown.status, unknown.body["detail"].as_str()), (404, Some("No account has this e-mail address")));
    for body in [json!({}), json!({"email": "not-an-address"}), json!({"email": "a\u{0}b@example.com"}), json!({"email": 7}), json!([1])] {
        let refused = owner.call(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.text);
    }
    for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"] {
        assert_eq!(owner.call(Method::GET, &format!("/api/editor/projects/{bad}/members"), None).await.status, 403);
    }
    assert_eq!(app.plugin().call(Method::GET, &path, None).await.status, 401);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM project_users WHERE project_id = $1::uuid").bind(&project).fetch_one(&app.db).await.expect("count");
    assert_eq!(count, 2);
}

#[tokio::test]
async fn members_see_each_others_edits_within_a_second_and_concurrent_edits_converge() {
    let app = TestApp::spawn().await;
    let (owner, guest, project) = two_members(&app, &["src/main.py", "README.md"]).await;
    let mut a = Editor::join(&app.address, &owner, &project, "src/main.py", 1).await;
    let mut b = Editor::join(&app.address, &guest, &project, "src/main.py", 2).await;

    a.type_at(0, "def main():\n    pass\n").await;
    assert!(b.until(|b| b.text() == "def main():\n    pass\n").await, "B sees A's edit: {:?}", b.text());
    b.type_at(0, "import os\n").await;
    assert!(a.until(|a| a.text().starts_with("import os\n")).await, "A sees B's edit: {:?}", a.text());

    // Both type at the same spot before seeing the other's edit.
    let end = a.text().chars().count() as u32;
    a.type_at(end, "# from A\n").await;
    b.type_at(end, "# from B\n").await;
    let both = |e: &Editor| e.text().contains("# from A\n") && e.text().contains("# from B\n");
    assert!(a.until(both).await && b.until(both).await);
    assert_eq!(a.text(), b.text(), "concurrent edits converge to the same text");

    // Other files are other rooms.
    let other = Editor::join(&app.address, &owner, &project, "README.md", 3).await;
    assert_eq!(other.text(), "");
}

#[tokio::test]
async fn presence_is_relayed_and_removed_when_an_editor_leaves() {
    let app = TestApp::spawn().await;
    let (owner, guest, project) = two_members(&app, &["app.js"]).await;
    let mut a = Editor::join(&app.address, &owner, &project, "app.js", 11).await;
    let mut b = Editor::join(&app.address, &guest, &project, "app.js", 12).await;
    // A browser may claim any name: the others see the account's ("Test User"), and the colour.
    a.announce_cursor("Ada", 0).await;
    let shown = |s: &str| s.contains(r#""name":"Test User""#) && s.contains(r##""color":"#1f77b4""##) && s.contains(r#""cursor":0"#);
    assert!(b.until(|b| b.others.get(&11).is_some_and(|s| s.as_deref().is_some_and(shown))).await, "{:?}", b.others);
    assert!(!b.others[&11].as_deref().unwrap_or_default().contains("Ada"), "{:?}", b.others);

    // A newcomer is greeted with everyone already here.
    let mut c = Editor::join(&app.address, &owner, &project, "app.js", 13).await;
    assert!(c.until(|c| c.others.get(&11).is_some_and(Option::is_some)).await, "{:?}", c.others);

    // B cannot speak for A: a forged removal of A's cursor reaches nobody.
    let mut forged = yrs::sync::Awareness::new(Doc::with_client_id(11));
    forged.set_local_state_raw(r#"{"user":{"name":"Mallory"}}"#);
    let mut update = forged.update().expect("update");
    if let Some(entry) = update.clients.values_mut().next() {
        entry.clock += 100;
    }
    b.send(&SyncFrame::Awareness(update)).await;
    b.announce_cursor("Bob", 1).await;
    assert!(c.until(|c| c.others.get(&12).is_some_and(Option::is_some)).await);
    assert!(c.others[&11].as_deref().is_some_and(|s| s.contains(r#""cursor":0"#)), "A's state is untouched: {:?}", c.others);
    // CSS smuggled in as a cursor colour reaches nobody.
    b.announce(r#"{"user":{"name":"B","color":"red;position:fixed;inset:0"},"cursor":2}"#).await;
    assert!(c.until(|c| c.others.get(&12).is_some_and(|s| s.as_deref().is_some_and(|s| s.contains(r#""cursor":2"#)))).await, "{:?}", c.others);
    assert!(!c.others[&12].as_deref().unwrap_or_default().contains("position"), "{:?}", c.others);

    a.socket.close(None).await.expect("close");
    assert!(b.until(|b| b.others.get(&11) == Some(&None)).await, "A's cursor disappears: {:?}", b.others);
}

#[tokio::test]
async fn the_document_survives_a_server_restart() {
    let mut app = TestApp::spawn().await;
    let (owner, _, project) = two_members(&app, &["lib.rs"]).await;
    let mut a = Editor::join(&app.address, &owner, &project, "lib.rs", 21).await;
    a.type_at(0, "fn answer() -> u32 {\n    42\n}\n").await;
    let shared = a.doc().get_or_insert_text(TEXT);
    let before = a.doc().transact().state_vector();
    shared.remove_range(&mut a.doc().transact_mut(), 0, 3);
    let deletion = a.doc().transact().encode_diff_v1(&before);
    a.send(&SyncFrame::Sync(SyncMessage::Update(deletion))).await;
    let expected = a.text();
    // The server stores an update before relaying it: a second editor seeing both means both are stored.
    let mut watcher = Editor::join(&app.address, &owner, &project, "lib.rs", 22).await;
    assert!(watcher.until(|w| w.text() == expected).await);
    drop((a, watcher));

    app.restart_server().await;
    let mut owner = owner;
    owner.use_server(&app.address);
    let reloaded = Editor::join(&app.address, &owner, &project, "lib.rs", 23).await;
    assert_eq!(reloaded.text(), "answer() -> u32 {\n    42\n}\n");
}

#[tokio::test]
async fn outsiders_bad_input_and_garbage_frames_are_refused() {
    let app = TestApp::spawn().await;
    let (owner, _, project) = two_members(&app, &["a.py"]).await;
    let (stranger, _) = app.signed_in("stranger@example.com").await;

    let (status, body) = refusal(open(&app.address, &room_path(&project, "a.py"), Some(&stranger), None).await);
    assert_eq!((status, body.as_str()), (403, r#"{"detail":"You are not a member of this project"}"#));
    // A stranger learns nothing of which files exist; a member asking for a missing one gets 404.
    let (status, _) = refusal(open(&app.address, &room_path(&project, "missing.py"), Some(&stranger), None).await);
    assert_eq!(status, 403);
    let (status, body) = refusal(open(&app.address, &room_path(&project, "missing.py"), Some(&owner), None).await);
    assert_eq!((status, body.as_str()), (404, r#"{"detail":"No such file in this project"}"#));
    let (status, _) = refusal(open(&app.address, &room_path(&project, "a.py"), None, None).await);
    assert_eq!(status, 401);
    for path in [
        format!("/api/editor/rooms/{project}"),
        room_path(&project, "bad\u{0}name"),
        room_path(&project, "line\nbreak"),
        room_path(&project, &"x".repeat(513)),
        room_path(&project, "../a.py"),
        room_path(&project, "/a.py"),
    ] {
        let (status, body) = refusal(open(&app.address, &path, Some(&owner), None).await);
        assert_eq!(status, 422, "{path}: {body}");
    }
    let (status, _) = refusal(open(&app.address, &room_path("not-a-uuid", "a.py"), Some(&owner), None).await);
    assert_eq!(status, 403);
    let (status, _) = refusal(open(&app.address, &room_path(&uuid::Uuid::new_v4().to_string(), "a.py"), Some(&owner), None).await);
    assert_eq!(status, 403, "a project that does not exist is refused like another's");
    let (status, _) = refusal(open(&app.address, &room_path(&project, "a.py"), Some(&owner), Some("https://evil.example")).await);
    assert_eq!(status, 403);

    // Frames that are not y-sync close the socket with 1003; the room keeps serving the others.
    for frame in [Message::binary(vec![0u8, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]), Message::binary(Vec::new()), Message::text("{\"join_room\": 1}")] {
        let mut editor = Editor::join(&app.address, &owner, &project, "a.py", 31).await;
        editor.socket.send(frame).await.expect("send");
        let (_, code, _) = until_closed(&mut editor.socket).await;
        assert_eq!(code, 1003);
    }
    let mut fine = Editor::join(&app.address, &owner, &project, "a.py", 32).await;
    fine.type_at(0, "ok").await;
    let mut watcher = Editor::join(&app.address, &owner, &project, "a.py", 33).await;
    assert!(watcher.until(|w| w.text() == "ok").await, "{:?}", watcher.text());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM editor_document_update").fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, 1, "only the real edit was stored");
}

#[tokio::test]
async fn a_room_socket_closes_when_its_session_ends() {
    let app = TestApp::spawn().await;
    let (owner, mut guest, project) = two_members(&app, &["notes.md"]).await;
    let mut b = Editor::join(&app.address, &guest, &project, "notes.md", 41).await;
    assert_eq!(guest.deactivate().await.status, 200);
    let (_, code, reason) = until_closed(&mut b.socket).await;
    assert_eq!((code, reason.as_str()), REVOKED);
    // The owner's edits go on, and the ended session cannot rejoin.
    let mut a = Editor::join(&app.address, &owner, &project, "notes.md", 42).await;
    a.type_at(0, "still here").await;
    assert!(open(&app.address, &room_path(&project, "notes.md"), Some(&guest), None).await.is_err());
}

#[tokio::test]
async fn a_document_over_the_size_limit_takes_no_more_edits() {
    let app = TestApp::spawn().await;
    let (owner, _, project) = two_members(&app, &["big.txt"]).await;
    let mut a = Editor::join(&app.address, &owner, &project, "big.txt", 51).await;
    // Just over the limit, in pieces under the frame limit.
    let piece = "y".repeat(500_001);
    a.type_at(0, &piece).await;
    a.type_at(0, &piece).await;
    let mut b = Editor::join(&app.address, &owner, &project, "big.txt", 52).await;
    assert!(b.until(|b| b.text().len() == 1_000_002).await);
    // A full document still opens: a newcomer's empty handshake reply is no edit.
    let mut c = Editor::join(&app.address, &owner, &project, "big.txt", 53).await;
    assert!(c.until(|c| c.text().len() == 1_000_002).await);
    b.type_at(0, "one more").await;
    let (_, code, _) = until_closed(&mut b.socket).await;
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn editors_on_two_servers_share_one_room() {
    let app = TestApp::spawn().await;
    let (owner, guest, project) = two_members(&app, &["shared.go"]).await;
    let second = app.start_another_server().await;
    let mut a = Editor::join(&app.address, &owner, &project, "shared.go", 61).await;
    let mut b = Editor::join(&second.address, &guest, &project, "shared.go", 62).await;

    a.type_at(0, "package main\n").await;
    assert!(b.until(|b| b.text() == "package main\n").await, "across servers: {:?}", b.text());
    b.announce_cursor("Grace", 3).await;
    assert!(a.until(|a| a.others.get(&62).is_some_and(Option::is_some)).await, "presence crosses servers too");
    let end = a.text().len() as u32;
    a.type_at(end, "// A\n").await;
    b.type_at(end, "// B\n").await;
    let both = |e: &Editor| e.text().contains("// A\n") && e.text().contains("// B\n");
    assert!(a.until(both).await && b.until(both).await);
    assert_eq!(a.text(), b.text());

    // Stored once, by the server that accepted each edit.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM editor_document_update").fetch_one(&app.db).await.expect("count");
    assert_eq!(stored, 3);
}
