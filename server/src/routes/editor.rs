//! The web editor's endpoints: who is a member of a project (`/api/editor/projects/{project_id}/members`,
//! REST), the caller's projects ([`projects`]), a project's files ([`files`]) and the
//! collaboration rooms.
//!
//! `GET /api/editor/rooms/{project_id}?file=NAME`: a WebSocket onto the collaboration room of one
//! file of a project ([`crate::services::rooms`]), speaking the y-sync protocol in binary frames —
//! what `y-websocket`'s provider speaks, so a browser's Yjs document binds to it unchanged.
//!
//! Before the upgrade: the `auth_token` and `session_token` cookies (401 with the contract's
//! messages), the `Origin` (403 unless allowed, as the other sockets), the file name (422),
//! membership of the project (403) and the file (404: create it first). After it: the server
//! greets with its state vector and the room's awareness, then answers and relays every message.
//! The socket ends when the session ends (logout on any server: close 4401 with the REST 401
//! message), on a frame that is not y-sync (1003), on a document over its size limit (1009), when
//! the document cannot be stored (1011: reconnect, and the client's resync stores what was
//! refused) and when the file is renamed or deleted ([`CLOSE_FILE_GONE`]: rejoining is refused).

pub mod files;
pub mod projects;

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};

use crate::contract::editor::{AddMemberRequest, ProjectMember, ProjectMembers};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::http::auth::{CurrentUser, SessionCaller};
use crate::http::extract::{JsonBody, QueryFields};
use crate::routes::ws::connection::{CLOSE_REVOKED, CLOSING_HANDSHAKE, check_origin, unreadable};
use crate::services::editor;
use crate::services::rooms::{Closed, Room, RoomError};
use crate::services::state::AppState;

/// Frames queued for one editor beyond which it is too slow to keep (it reconnects and resyncs).
const OUTGOING_FRAMES: usize = 1024;

/// Close code of a room's sockets when its file is renamed or deleted (on any server), or an
/// update reaches storage after that: the file is gone, so reconnecting would be refused (404);
/// the editor lists the files again instead. 4000–4999 are the application's; 4404 reads as 404.
pub const CLOSE_FILE_GONE: u16 = 4404;

/// The members of one of the caller's projects.
#[utoipa::path(get, path = "/api/editor/projects/{project_id}/members", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(("project_id" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The members, owner first", body = ProjectMembers),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not a member of this project", body = crate::contract::responses::Detail)
    ))]
pub async fn members(State(state): State<AppState>, user: CurrentUser, Path(project_id): Path<String>) -> Result<Json<ProjectMembers>, ApiError> {
    Ok(Json(editor::members(&state, user.user_id, editor::project_id(&project_id)?).await?))
}

/// Adds an account to a project, by e-mail: it may then join the project's rooms. Owner only.
#[utoipa::path(post, path = "/api/editor/projects/{project_id}/members", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(("project_id" = String, Path, description = "The project's id")),
    request_body(content = crate::openapi::AddMemberBody),
    responses(
        (status = 201, description = "Added", body = ProjectMember),
        (status = 200, description = "Already a member", body = ProjectMember),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not this project's owner", body = crate::contract::responses::Detail),
        (status = 404, description = "No account has this e-mail address", body = crate::contract::responses::Detail),
        (status = 422, description = "`email` is missing or not an address", body = crate::openapi::ValidationError)
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ProjectMember>), ApiError> {
    let project_id = editor::project_id(&project_id)?;
    let request = AddMemberRequest::parse(&body)?;
    let (added, member) = editor::add_member(&state, user.user_id, project_id, request).await?;
    Ok((if added { StatusCode::CREATED } else { StatusCode::OK }, Json(member)))
}

/// `GET /api/editor/rooms/{project_id}?file=NAME` (WebSocket).
pub async fn room(
    State(state): State<AppState>,
    caller: SessionCaller,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    QueryFields(query): QueryFields,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let project_id = editor::project_id(&project_id)?;
    let room = editor::enter(&state, caller, project_id, &query).await?;
    let name = editor::account_name(&state, caller.user_id).await?;
    let max = state.settings.max_body_bytes;
    Ok(ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| serve(socket, state, caller, room, name)))
}

/// Serves one editor until it leaves, its session ends, it misbehaves or the room closes.
async fn serve(socket: WebSocket, state: AppState, caller: SessionCaller, room: Arc<Room>, name: String) {
    let peer = state.rooms.next_peer();
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<Message>(OUTGOING_FRAMES);
    let mut writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    let send = |bytes: bytes::Bytes| out.try_send(Message::Binary(bytes)).is_ok();
    let mut relayed = room.subscribe();
    for greeting in room.greeting() {
        send(greeting);
    }
    let revocations = state.pipeline.revocations().watch(caller.session_id, room.key().project_id);
    let mut announced = HashSet::new();
    let mut closed = room.closed();
    // Closed between the join and now (its file deleted meanwhile): the first wait sees it too.
    if closed.borrow().is_some() {
        closed.mark_changed();
    }
    let close = loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Binary(frame))) => match room.handle(peer, &name, &frame).await {
                    Ok(handled) => {
                        announced.extend(handled.announced);
                        if !handled.replies.into_iter().all(send) {
                            break Some(close(close_code::POLICY, "Too slow to keep up"));
                        }
                    }
                    Err(RoomError::Malformed(reason)) => {
                        tracing::info!(%reason, "closing an editor socket that sent what is not y-sync");
                        break Some(close(close_code::UNSUPPORTED, "Frames must be y-sync messages"));
                    }
                    Err(RoomError::TooLarge) => break Some(close(close_code::SIZE, "The document is too large")),
                    Err(RoomError::Storage(_)) => break Some(closed_frame(Closed::StorageFailed)),
                    Err(RoomError::FileGone) => break Some(closed_frame(Closed::FileGone)),
                },
                Some(Ok(Message::Text(_))) => break Some(close(close_code::UNSUPPORTED, "Frames must be y-sync messages")),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(error)) => break unreadable(&error),
            },
            relay = relayed.recv() => match relay {
                Ok(relay) if relay.from == peer => {}
                Ok(relay) => if !send(relay.message) { break Some(close(close_code::POLICY, "Too slow to keep up")) },
                // Fell behind the relay: the whole document brings it up to date (merging is idempotent).
                Err(broadcast::error::RecvError::Lagged(_)) => if !send(room.full_state()) { break Some(close(close_code::POLICY, "Too slow to keep up")) },
                Err(broadcast::error::RecvError::Closed) => break Some(close(close_code::ERROR, "The room closed; reconnect")),
            },
            // Still live, or Redis cannot tell: the next signal checks again.
            () = revocations.changed() => if let Ok(false) = editor::session_is_live(&state, caller).await {
                break Some(CloseFrame { code: CLOSE_REVOKED, reason: Utf8Bytes::from_static(messages::INVALID_SESSION_TOKEN) });
            },
            _ = closed.changed() => break Some(closed_frame((*closed.borrow()).unwrap_or(Closed::StorageFailed))),
        }
    };
    room.leave(peer, &announced);
    drop(relayed);
    if let Some(frame) = close {
        let _ = out.try_send(Message::Close(Some(frame)));
    }
    drop(out);
    if tokio::time::timeout(CLOSING_HANDSHAKE, &mut writer).await.is_err() {
        writer.abort();
    }
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: Utf8Bytes::from_static(reason) }
}

/// The close frame of a room that was closed.
fn closed_frame(why: Closed) -> CloseFrame {
    match why {
        Closed::StorageFailed => close(close_code::ERROR, "The document could not be stored; reconnect"),
        Closed::FileGone => close(CLOSE_FILE_GONE, messages::FILE_RENAMED_OR_DELETED),
    }
}
