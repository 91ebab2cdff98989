//! `/api/ws/...`: the WebSocket twins of the completion, multi-file context and chat endpoints
//! (protocol in [`crate::routes::ws::connection`]).

use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;

use self::connection::{Endpoint, Framing};
use crate::contract::error::ApiError;
use crate::http::auth::ProjectCaller;
use crate::http::extract::QueryFields;
use crate::services::state::AppState;

pub mod connection;

/// `/api/ws/completion`.
pub async fn completion(
    state: State<AppState>,
    caller: ProjectCaller,
    headers: HeaderMap,
    query: QueryFields,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    upgrade(state, caller, headers, query, ws, Endpoint::Completion)
}

/// `/api/ws/completion/multi-file-context`.
pub async fn multi_file_context(
    state: State<AppState>,
    caller: ProjectCaller,
    headers: HeaderMap,
    query: QueryFields,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    upgrade(state, caller, headers, query, ws, Endpoint::MultiFileContext)
}

/// `/api/ws/chat`.
pub async fn chat(
    state: State<AppState>,
    caller: ProjectCaller,
    headers: HeaderMap,
    query: QueryFields,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    upgrade(state, caller, headers, query, ws, Endpoint::Chat)
}

/// Checks the origin (the cookies were checked by [`ProjectCaller`]) and upgrades.
fn upgrade(
    State(state): State<AppState>,
    caller: ProjectCaller,
    headers: HeaderMap,
    QueryFields(query): QueryFields,
    ws: WebSocketUpgrade,
    endpoint: Endpoint,
) -> Result<Response, ApiError> {
    connection::check_origin(&headers, &state)?;
    let framing = if query.get("framing").and_then(|v| v.as_str()) == Some("upstream") { Framing::Upstream } else { Framing::Objects };
    let max = state.settings.max_body_bytes;
    Ok(ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| connection::serve(socket, state, caller, endpoint, framing)))
}
