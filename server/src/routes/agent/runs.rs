//! `GET /api/agent/runs`, `GET /api/agent/runs/{run_id}` (JSON, or the event stream from
//! `Last-Event-ID` when asked for `text/event-stream`) and `DELETE /api/agent/runs/{run_id}`. Only
//! the owner sees or stops a run; anyone else's is a 404, as one that does not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use code4me_shared::domain::parse_uuid;
use code4me_shared::validation::Issue;
use serde_json::{Value, json};

use super::sse;
use crate::contract::agent::{AgentRunDetail, AgentRuns};
use crate::contract::error::ApiError;
use crate::services::agent;
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// The caller's runs, newest first (at most 100).
#[utoipa::path(get, path = "/api/agent/runs", tag = "agent", security(("bearer" = []), ("auth_token" = [])),
    responses(
        (status = 200, description = "The runs", body = AgentRuns),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail)
    ))]
pub async fn list(State(state): State<AppState>, caller: OpenCaller) -> Result<Json<AgentRuns>, ApiError> {
    Ok(Json(AgentRuns { runs: agent::list(&state, caller.user_id).await? }))
}

/// One run with its stored events; with `Accept: text/event-stream`, its events after
/// `Last-Event-ID` as a stream that follows the run to its end.
#[utoipa::path(get, path = "/api/agent/runs/{run_id}", tag = "agent", security(("bearer" = []), ("auth_token" = [])),
    params(("run_id" = String, Path, description = "The run"),
        ("Last-Event-ID" = Option<i64>, Header, description = "With `Accept: text/event-stream`: the last event the client has; only later ones are sent")),
    responses(
        (status = 200, description = "The run and its events (JSON), or the event stream (`text/event-stream`)",
            content((AgentRunDetail = "application/json"), (crate::contract::agent::AgentStreamEvent = "text/event-stream"))),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail),
        (status = 404, description = "No run of the caller's has that id", body = crate::contract::responses::Detail),
        (status = 422, description = "`run_id` is not a UUID, or `Last-Event-ID` not a sequence number", body = crate::openapi::ValidationError),
        (status = 429, description = "The caller has 16 event streams open on this server", body = crate::contract::responses::Detail)
    ))]
pub async fn get(State(state): State<AppState>, caller: OpenCaller, Path(run_id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let run_id = run_id_of(&run_id)?;
    let run = agent::get(&state, caller.user_id, run_id).await?;
    if sse::wants_stream(&headers) {
        let Some(after) = sse::last_event_id(&headers) else {
            let input = Value::String(headers.get("last-event-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned());
            return Err(ApiError::Validation(vec![Issue::new(
                "int_parsing",
                vec![json!("header"), json!("last-event-id")],
                "Input should be a non-negative integer",
                input,
                None,
            )]));
        };
        return sse::stream(state, caller, run_id, after);
    }
    let events = agent::events(&state, run_id).await?;
    Ok(Json(AgentRunDetail { run, events }).into_response())
}

/// Stops a run: its worker kills the running command, removes the sandbox and ends the run with
/// an `error` event ("cancelled").
#[utoipa::path(delete, path = "/api/agent/runs/{run_id}", tag = "agent", security(("bearer" = []), ("auth_token" = [])),
    params(("run_id" = String, Path, description = "The run")),
    responses(
        (status = 202, description = "The run is being stopped", body = crate::contract::responses::Detail),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail),
        (status = 404, description = "No run of the caller's has that id", body = crate::contract::responses::Detail),
        (status = 409, description = "The run has ended already", body = crate::contract::responses::Detail),
        (status = 422, description = "`run_id` is not a UUID", body = crate::openapi::ValidationError)
    ))]
pub async fn cancel(State(state): State<AppState>, caller: OpenCaller, Path(run_id): Path<String>) -> Result<Response, ApiError> {
    let run_id = run_id_of(&run_id)?;
    agent::get(&state, caller.user_id, run_id).await?;
    if agent::cancel(&state, caller.user_id, run_id).await? {
        Ok((StatusCode::ACCEPTED, Json(json!({"detail": "cancelling"}))).into_response())
    } else {
        Err(ApiError::Detail(StatusCode::CONFLICT, "the run has ended already".into()))
    }
}

fn run_id_of(text: &str) -> Result<uuid::Uuid, ApiError> {
    parse_uuid(text).map_err(|_| {
        ApiError::Validation(vec![Issue::new(
            "uuid_parsing",
            vec![json!("path"), json!("run_id")],
            "Input should be a valid UUID",
            Value::String(text.to_owned()),
            None,
        )])
    })
}
