//! The WebSocket endpoints (`/api/ws/completion`, `/api/ws/completion/multi-file-context`,
//! `/api/ws/chat`) with upstream's message names — working, unlike upstream's.
//!
//! Before the upgrade: the session and project cookies are checked (401 with the contract's
//! message otherwise) and the `Origin` header must be absent (IDE clients) or allowed
//! (`CORS_ALLOWED_ORIGINS` or `PUBLIC_URL`), because browsers send cookies on cross-site
//! WebSocket handshakes and CORS does not apply to them.
//!
//! Frames, client → server: one JSON object with one key naming the action, as upstream
//! (`completion_request`, `completion_feedback`, `multi_file_context_update`, `chat_request`,
//! `chat_get`, `chat_delete`), plus `cancel` (`{}` for everything in flight on this connection, or
//! `{"request_id": ...}`). Server → client, JSON objects:
//! - `{"type": "accepted", "action", "request_id"}` as soon as a completion or chat request is taken;
//! - `{"type": "token", "request_id", "model_id", "text"}` while models generate;
//! - `{"type": "result", "action", "request_id", "status_code", "content"}` — `status_code` and
//!   `content` are upstream's (`content` is the REST body of the same action);
//! - `{"type": "cancelled", "request_id"}` for a request cancelled or superseded;
//! - `{"error": "..."}` for a frame that is not a request (the connection stays open).
//!
//! Upstream sends its result as a JSON *string* holding the JSON; `?framing=upstream` sends every
//! frame that way for clients written against it. A new `completion_request` supersedes the one
//! still running on the connection: dropped from the queue if not started, stopped mid-generation
//! if started.
//!
//! A connection acts for its session only while the session lasts: every request frame re-checks
//! the session and project in Redis ([`ProjectCaller::recheck`]), and a revocation announced by any
//! server (logout, account deleted, password reset, session expired) makes it check at once. A
//! connection that lost its session has what it runs cancelled and is closed with
//! [`CLOSE_REVOKED`] and the REST 401 message as the reason. A frame over `MAX_REQUEST_BODY_BYTES`
//! closes it with 1009 (message too big), a broken frame with 1002 or 1007.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use axum::http::{HeaderMap, StatusCode, header};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::parse::refuse_nul_in;
use crate::contract::requests::{FeedbackCompletion, PageNumberIn, RequestChatCompletion, RequestCompletion, UpdateMultiFileContext, parse_page};
use crate::contract::responses::{WsError, WsFrame, to_body};
use crate::services::callers::ProjectCaller;
use crate::services::state::AppState;
use crate::services::{chat, completion, feedback, multi_file};

/// Close code for a connection whose session ended or whose project left the session: the private
/// range's twin of HTTP 401 (as graphql-ws uses it); the reason is the REST 401 message.
pub const CLOSE_REVOKED: u16 = 4401;

/// How long a connection this server closes waits for the client's answering Close frame, so the
/// TCP connection ends cleanly instead of being reset.
pub const CLOSING_HANDSHAKE: Duration = Duration::from_secs(2);

/// Which of the three endpoints a connection is on (each accepts its own actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/api/ws/completion`.
    Completion,
    /// `/api/ws/completion/multi-file-context`.
    MultiFileContext,
    /// `/api/ws/chat`.
    Chat,
}

impl Endpoint {
    fn accepts(self, action: &str) -> bool {
        match self {
            Self::Completion => matches!(action, "completion_request" | "completion_feedback" | "cancel"),
            Self::MultiFileContext => action == "multi_file_context_update",
            Self::Chat => matches!(action, "chat_request" | "chat_get" | "chat_delete" | "cancel"),
        }
    }
}

/// How frames are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// JSON objects (ours).
    Objects,
    /// Each frame a JSON string holding the object (upstream's double encoding).
    Upstream,
}

/// Refuses a handshake whose `Origin` is neither allowed by CORS nor this site itself.
pub fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let allowed = state.settings.cors_allowed_origins.iter().any(|o| o == origin) || state.settings.public_url == origin;
    if allowed { Ok(()) } else { Err(ApiError::Detail(StatusCode::FORBIDDEN, messages::ORIGIN_NOT_ALLOWED.to_owned())) }
}

/// A request running on the connection.
struct InFlight {
    task: JoinHandle<()>,
    /// A newer completion request replaces it.
    supersedable: bool,
}

/// What the writer task sends: a frame, or the Close that ends the connection.
enum Outgoing {
    Frame(Value),
    Close(CloseFrame),
}

/// One connection's state.
struct Connection {
    state: AppState,
    caller: ProjectCaller,
    endpoint: Endpoint,
    out: mpsc::UnboundedSender<Outgoing>,
    running: HashMap<Uuid, InFlight>,
}

/// Serves one upgraded connection until the client leaves, its session is revoked or it sends
/// what cannot be read; everything still running for it is cancelled then (nobody may wait for it).
pub async fn serve(socket: WebSocket, state: AppState, caller: ProjectCaller, endpoint: Endpoint, framing: Framing) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut frames) = mpsc::unbounded_channel::<Outgoing>();
    let mut writer = tokio::spawn(async move {
        while let Some(outgoing) = frames.recv().await {
            let frame = match outgoing {
                Outgoing::Frame(frame) => frame,
                Outgoing::Close(close) => {
                    let _ = sink.send(Message::Close(Some(close))).await;
                    break;
                }
            };
            let text = match framing {
                Framing::Objects => frame.to_string(),
                Framing::Upstream => Value::String(frame.to_string()).to_string(),
            };
            if sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                break;
            }
        }
    });
    let revocations = state.pipeline.revocations().watch(caller.session_id, caller.project_id);
    let mut connection = Connection { state, caller, endpoint, out, running: HashMap::new() };
    let close = loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = revocations.changed() => match connection.authorise().await {
                Err(close) => break Some(close),
                Ok(_) => continue, // still authorised, or Redis is away: the next request checks again
            },
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                if let Err(close) = connection.on_text(text.as_str()).await {
                    break Some(close);
                }
            }
            Some(Ok(Message::Binary(_))) => connection.send(to_body(&WsError { error: messages::BINARY_FRAMES_UNSUPPORTED })),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => break None,
            Some(Err(error)) => break unreadable(&error),
        }
    };
    connection.cancel_where(|_, _| true).await;
    let closing = close.is_some();
    if let Some(close) = close {
        let _ = connection.out.send(Outgoing::Close(close));
    }
    drop(connection);
    // A client that stopped reading would hold the writer (and its queued frames) forever.
    if tokio::time::timeout(CLOSING_HANDSHAKE, &mut writer).await.is_err() {
        writer.abort();
    }
    if closing {
        // The client answers our Close with its own; until then, whatever it still sends is dropped.
        let _ = tokio::time::timeout(CLOSING_HANDSHAKE, async { while let Some(Ok(_)) = stream.next().await {} }).await;
    }
}

/// The Close for a read error: 1009 for a frame or message over the size limit, 1007 for text
/// that is not UTF-8, 1002 for a broken frame; none when the connection itself is gone.
pub fn unreadable(error: &axum::Error) -> Option<CloseFrame> {
    let inner = std::error::Error::source(error).and_then(|e| e.downcast_ref::<tungstenite::Error>());
    let (code, reason) = match inner? {
        tungstenite::Error::Capacity(_) => (close_code::SIZE, "Message too big"),
        tungstenite::Error::Utf8(_) => (close_code::INVALID, "Text frames must be UTF-8"),
        tungstenite::Error::Protocol(_) => (close_code::PROTOCOL, "WebSocket protocol error"),
        _ => return None,
    };
    tracing::info!(error = %error, code, "closing a WebSocket that sent what cannot be read");
    Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) })
}

impl Connection {
    fn send(&self, frame: Value) {
        let _ = self.out.send(Outgoing::Frame(frame));
    }

    /// Handles one text frame; `Err` with the Close to send when the session is gone.
    async fn on_text(&mut self, text: &str) -> Result<(), CloseFrame> {
        self.running.retain(|_, r| !r.task.is_finished());
        let (action, body) = match self.parse(text) {
            Ok(request) => request,
            Err(error) => {
                self.send(to_body(&WsError { error: &error }));
                return Ok(());
            }
        };
        // Every request is authorised against the session as it is now, not as it was at the handshake.
        if let Some(unavailable) = self.authorise().await? {
            self.send(result_frame(&action, None, Err(unavailable)));
            return Ok(());
        }
        // The same door as REST bodies (`JsonBody`): text holding U+0000 is refused with a 422.
        if let Err(refused) = refuse_nul_in(text.as_bytes(), &body) {
            self.send(result_frame(&action, None, Err(refused)));
            return Ok(());
        }
        match action.as_str() {
            "completion_request" => {
                self.cancel_where(|_, r| r.supersedable).await;
                self.spawn(action, body, true);
            }
            "chat_request" => self.spawn(action, body, false),
            "cancel" => {
                let only = body.get("request_id").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok());
                self.cancel_where(|id, _| only.is_none_or(|o| o == *id)).await;
            }
            _ => {
                let outcome = self.answer_now(&action, body).await;
                self.send(result_frame(&action, None, outcome));
            }
        }
        Ok(())
    }

    /// Checks the session as it is now: `Err` with the Close to send when it is gone (a 401 from
    /// [`ProjectCaller::recheck`]), `Ok(Some(error))` when it cannot be checked (Redis unreachable).
    async fn authorise(&self) -> Result<Option<ApiError>, CloseFrame> {
        match self.caller.recheck(&self.state).await {
            Ok(()) => Ok(None),
            Err(ApiError::Message(status, reason)) if status == StatusCode::UNAUTHORIZED => {
                Err(CloseFrame { code: CLOSE_REVOKED, reason: Utf8Bytes::from_static(reason) })
            }
            Err(other) => Ok(Some(other)),
        }
    }

    /// The action and its body, or why the frame is not a request of this endpoint.
    fn parse(&self, text: &str) -> Result<(String, Value), String> {
        let frame: Value = serde_json::from_str(text).map_err(|error| format!("Invalid JSON: {error}"))?;
        let invalid = || messages::INVALID_WEBSOCKET_REQUEST.to_owned();
        let (action, body) = frame.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()).ok_or_else(invalid)?;
        if !self.endpoint.accepts(action) {
            return Err(invalid());
        }
        Ok((action.clone(), body.clone()))
    }

    /// Actions that answer at once (no model involved).
    async fn answer_now(&self, action: &str, body: Value) -> Result<Value, ApiError> {
        let (state, caller) = (&self.state, self.caller);
        match action {
            "completion_feedback" => Ok(to_body(&feedback::record(state, caller, FeedbackCompletion::parse(body)?).await?)),
            "multi_file_context_update" => Ok(to_body(&multi_file::apply(state, caller, UpdateMultiFileContext::parse(body)?).await?)),
            "chat_get" => {
                let raw = match body.get("page_number") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let page = parse_page(&raw, PageNumberIn::Body)?;
                Ok(to_body(&chat::history_page(&state.db, &caller, page).await?))
            }
            "chat_delete" => {
                let raw = body.get("chat_id").and_then(Value::as_str).unwrap_or_default();
                Ok(to_body(&chat::delete(&state.db, &caller, raw).await?))
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// Runs a model request in the background, streaming its tokens.
    fn spawn(&mut self, action: String, body: Value, supersedable: bool) {
        let request_id = Uuid::new_v4();
        self.send(to_body(&WsFrame::Accepted { action: &action, request_id }));
        let (state, caller, out) = (self.state.clone(), self.caller, self.out.clone());
        let task = tokio::spawn(async move {
            let tokens = out.clone();
            let mut on_token = move |model_id: i64, text: &str| {
                let _ = tokens.send(Outgoing::Frame(to_body(&WsFrame::Token { request_id, model_id, text })));
            };
            let outcome = match action.as_str() {
                "completion_request" => match RequestCompletion::parse(body) {
                    Ok(request) => completion::complete(&state, caller, request, request_id, Some(&mut on_token)).await.map(|r| to_body(&r)),
                    Err(error) => Err(error),
                },
                _ => match RequestChatCompletion::parse(body) {
                    Ok(request) => chat::chat(&state, caller, request, request_id, Some(&mut on_token)).await.map(|r| to_body(&r)),
                    Err(error) => Err(error),
                },
            };
            let _ = out.send(Outgoing::Frame(result_frame(&action, Some(request_id), outcome)));
        });
        self.running.insert(request_id, InFlight { task, supersedable });
    }

    /// Cancels matching requests: their tasks stop, their queued jobs are dropped, their running
    /// generations stop at the next token.
    async fn cancel_where(&mut self, matches: impl Fn(&Uuid, &InFlight) -> bool) {
        let cancelled: Vec<Uuid> = self.running.iter().filter(|(id, r)| matches(id, r) && !r.task.is_finished()).map(|(id, _)| *id).collect();
        for id in cancelled {
            if let Some(request) = self.running.remove(&id) {
                request.task.abort();
                self.state.pipeline.cancel(id).await;
                self.send(to_body(&WsFrame::Cancelled { request_id: id }));
            }
        }
    }
}

/// `{"type": "result", "action", "request_id", "status_code", "content"}`.
fn result_frame(action: &str, request_id: Option<Uuid>, outcome: Result<Value, ApiError>) -> Value {
    let (status, content) = match outcome {
        Ok(content) => (StatusCode::OK, content),
        Err(error) => error.status_and_body(),
    };
    to_body(&WsFrame::Result { action, request_id, status_code: status.as_u16(), content })
}
