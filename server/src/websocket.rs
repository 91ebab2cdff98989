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

use std::collections::HashMap;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use axum::http::{HeaderMap, StatusCode, header};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::auth::extract::ProjectCaller;
use crate::error::{ApiError, OrFail};
use crate::requests::{RequestChatCompletion, RequestCompletion};
use crate::routes::chat::{delete::delete_chat, get::parse_page};
use crate::routes::completion::{feedback, multi_file};
use crate::state::AppState;
use crate::{chat, completion, messages};

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
    if allowed { Ok(()) } else { Err(ApiError::Detail(StatusCode::FORBIDDEN, "Origin not allowed".to_owned())) }
}

/// A request running on the connection.
struct InFlight {
    task: JoinHandle<()>,
    /// A newer completion request replaces it.
    supersedable: bool,
}

/// One connection's state.
struct Connection {
    state: AppState,
    caller: ProjectCaller,
    endpoint: Endpoint,
    out: mpsc::UnboundedSender<Value>,
    running: HashMap<Uuid, InFlight>,
}

/// Serves one upgraded connection until the client leaves; everything still running for it is
/// cancelled then (nobody is waiting for it).
pub async fn serve(socket: WebSocket, state: AppState, caller: ProjectCaller, endpoint: Endpoint, framing: Framing) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut frames) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            let text = match framing {
                Framing::Objects => frame.to_string(),
                Framing::Upstream => Value::String(frame.to_string()).to_string(),
            };
            if sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                break;
            }
        }
    });
    let mut connection = Connection { state, caller, endpoint, out, running: HashMap::new() };
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => connection.on_text(text.as_str()).await,
            Message::Binary(_) => connection.send(json!({"error": "Binary frames are not supported; send JSON text frames"})),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    connection.cancel_where(|_, _| true).await;
    drop(connection);
    let _ = writer.await;
}

impl Connection {
    fn send(&self, frame: Value) {
        let _ = self.out.send(frame);
    }

    async fn on_text(&mut self, text: &str) {
        self.running.retain(|_, r| !r.task.is_finished());
        let frame: Value = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => return self.send(json!({"error": format!("Invalid JSON: {error}")})),
        };
        let Some((action, body)) = frame.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
            return self.send(json!({"error": "Invalid websocket request"}));
        };
        if !self.endpoint.accepts(action) {
            return self.send(json!({"error": "Invalid websocket request"}));
        }
        let (action, body) = (action.clone(), body.clone());
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
    }

    /// Actions that answer at once (no model involved).
    async fn answer_now(&self, action: &str, body: Value) -> Result<Value, ApiError> {
        match action {
            "completion_feedback" => feedback::record(&self.state, self.caller, body).await,
            "multi_file_context_update" => multi_file::apply(&self.state, self.caller, body).await,
            "chat_get" => {
                let raw = match body.get("page_number") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let page = parse_page(&raw, json!("body"))?;
                chat::history_page(&self.state.db, &self.caller, page).await.or_fail(messages::CHAT_GET_FAILED)
            }
            "chat_delete" => {
                let raw = body.get("chat_id").and_then(Value::as_str).unwrap_or_default();
                delete_chat(&self.state, self.caller, raw).await
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// Runs a model request in the background, streaming its tokens.
    fn spawn(&mut self, action: String, body: Value, supersedable: bool) {
        let request_id = Uuid::new_v4();
        self.send(json!({"type": "accepted", "action": action, "request_id": request_id}));
        let (state, caller, out) = (self.state.clone(), self.caller, self.out.clone());
        let task = tokio::spawn(async move {
            let tokens = out.clone();
            let mut on_token = move |model_id: i64, text: &str| {
                let _ = tokens.send(json!({"type": "token", "request_id": request_id, "model_id": model_id, "text": text}));
            };
            let outcome = match action.as_str() {
                "completion_request" => match RequestCompletion::parse(body) {
                    Ok(request) => completion::complete(&state, caller, request, request_id, Some(&mut on_token)).await,
                    Err(error) => Err(error),
                },
                _ => match RequestChatCompletion::parse(body) {
                    Ok(request) => chat::chat(&state, caller, request, request_id, Some(&mut on_token)).await,
                    Err(error) => Err(error),
                },
            };
            let _ = out.send(result_frame(&action, Some(request_id), outcome));
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
                self.send(json!({"type": "cancelled", "request_id": id}));
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
    json!({"type": "result", "action": action, "request_id": request_id, "status_code": status.as_u16(), "content": content})
}
