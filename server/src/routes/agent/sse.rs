//! A run's events as server-sent events: `id:` is the event's `seq` (what a client sends back as
//! `Last-Event-ID`), `event:` its type, `data:` the event's JSON. Comments keep idle connections
//! alive through proxies while the model thinks.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::services::agent;
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// The header naming the run of a stream.
pub const RUN_ID_HEADER: &str = "x-agent-run-id";

/// The stream of `run_id`'s events after `after` (429 past the user's open streams).
pub fn stream(state: AppState, caller: OpenCaller, run_id: Uuid, after: i64) -> Result<Response, ApiError> {
    let events = agent::follow(state, caller, run_id, after)?;
    let sse = stream::unfold(events, |mut events| async move {
        let event = events.recv().await?;
        let data = serde_json::to_string(&event).expect("events serialise");
        let kind = serde_json::to_value(event.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        Some((Ok::<_, Infallible>(SseEvent::default().id(event.seq.to_string()).event(kind).data(data)), events))
    });
    let mut response = Sse::new(sse).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    response.headers_mut().insert(RUN_ID_HEADER, HeaderValue::from_str(&run_id.to_string()).expect("a UUID is a header value"));
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Whether the client asked for an event stream.
pub fn wants_stream(headers: &HeaderMap) -> bool {
    headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/event-stream"))
}

/// The `Last-Event-ID` a reconnecting client sent: the events it has; 0 when absent. `None` when
/// it is not a sequence number.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    match headers.get("last-event-id") {
        None => Some(0),
        Some(value) => value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).filter(|n| *n >= 0),
    }
}
