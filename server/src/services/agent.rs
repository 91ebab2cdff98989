//! The repository agent's front door: a run is stored and queued on `agent` (a worker runs it and
//! writes its events), and any server streams its events from PostgreSQL — woken by the worker's
//! announcement on `agent_events` (one subscription per server: `pipeline::agent_events`), with a
//! poll as a safety net — so a stream can start
//! late, resume after `Last-Event-ID`, or move to another server without losing an event.
//!
//! Each open stream is a watcher (`agent_watchers:<run_id>`, heartbeated). When the last watcher
//! has been gone for `AGENT_DISCONNECT_GRACE_SECONDS`, the run is cancelled: closing the browser or
//! the curl stops the agent; reconnecting in time does not.

use std::time::Duration;

use axum::http::StatusCode;
use code4me_shared::agent::{AgentEvent, RunStatus};
use code4me_shared::cancellation;
use code4me_shared::jobs::Job;
use code4me_shared::jobs::agent::AgentJob;
use code4me_shared::redaction::redact;
use code4me_shared::redis_keys::agent_watchers;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

use crate::contract::agent::{AgentCodeRequest, AgentRun, MAX_PROMPT_CHARS};
use crate::contract::error::ApiError;
use crate::db;
use crate::db::agent_runs::{NewRun, RunRow};
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// Runs one user may have queued or running at once: a run holds a worker for minutes, so one user
/// cannot fill the `agent` queue for everyone.
pub const MAX_ACTIVE_RUNS: i64 = 3;
/// Runs listed at most.
pub const LIST_LIMIT: i64 = 100;
/// How often a stream looks at the table without an announcement.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often a stream renews its watcher entry.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A watcher entry older than this belongs to a server that died.
const WATCHER_STALE: Duration = Duration::from_secs(30);
/// Events read per query.
const PAGE: i64 = 200;

/// Stores and queues a run; returns its id.
pub async fn start(state: &AppState, user_id: Uuid, request: &AgentCodeRequest) -> Result<Uuid, ApiError> {
    let run_id = Uuid::new_v4();
    // Redaction may lengthen the text (`<hidden>` for a short secret); the column's bound holds.
    let prompt: String = redact(&request.prompt).chars().take(MAX_PROMPT_CHARS).collect();
    let run = NewRun {
        run_id,
        user_id,
        repo_url: &request.repo_url,
        prompt: &prompt,
        base_branch: request.base_branch.as_deref(),
        provider: request.provider.as_deref(),
    };
    if !db::agent_runs::insert_within(&state.db, &run, MAX_ACTIVE_RUNS).await.map_err(ApiError::database)? {
        return Err(ApiError::Detail(
            StatusCode::TOO_MANY_REQUESTS,
            format!("you have {MAX_ACTIVE_RUNS} agent runs queued or running; wait for one to end or cancel it"),
        ));
    }
    let job = AgentJob {
        version: AgentJob::VERSION,
        run_id,
        user_id,
        repo_url: request.repo_url.clone(),
        prompt,
        base_branch: request.base_branch.clone(),
        provider: request.provider.clone(),
        enqueued_ms: chrono::Utc::now().timestamp_millis(),
    };
    if let Err(error) = state.pipeline.agent(job).await {
        // The row stays, failed, so the caller's run list says what happened.
        let _ = db::agent_runs::fail_unqueued(&state.db, run_id, "the run could not be queued (Redis unavailable)").await;
        return Err(ApiError::Unavailable(error));
    }
    tracing::info!(request_id = %run_id, "agent run queued");
    Ok(run_id)
}

/// Asks a run of the user's to stop; `Ok(false)` when it is not theirs or has ended.
pub async fn cancel(state: &AppState, user_id: Uuid, run_id: Uuid) -> Result<bool, ApiError> {
    if !db::agent_runs::request_cancel(&state.db, user_id, run_id).await.map_err(ApiError::database)? {
        return Ok(false);
    }
    cancellation::mark(&mut state.redis.clone(), run_id).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    tracing::info!(request_id = %run_id, "agent run cancel requested");
    Ok(true)
}

/// The user's runs, newest first.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<AgentRun>, ApiError> {
    let rows = db::agent_runs::list(&state.db, user_id, LIST_LIMIT).await.map_err(ApiError::database)?;
    Ok(rows.into_iter().map(run_of).collect())
}

/// One run of the user's (404 for anyone else's).
pub async fn get(state: &AppState, user_id: Uuid, run_id: Uuid) -> Result<AgentRun, ApiError> {
    let row = db::agent_runs::get(&state.db, user_id, run_id).await.map_err(ApiError::database)?;
    row.map(run_of).ok_or(ApiError::NotFound)
}

/// Every stored event of a run.
pub async fn events(state: &AppState, run_id: Uuid) -> Result<Vec<AgentEvent>, ApiError> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &AgentEvent| e.seq);
        let page = db::agent_runs::events_after(&state.db, run_id, after, PAGE).await.map_err(ApiError::database)?;
        let done = (page.len() as i64) < PAGE;
        events.extend(page.into_iter().filter_map(|(_, value)| serde_json::from_value::<AgentEvent>(value).ok()));
        if done {
            return Ok(events);
        }
    }
}

fn run_of(row: RunRow) -> AgentRun {
    AgentRun {
        run_id: row.run_id,
        status: RunStatus::parse(&row.status).unwrap_or(RunStatus::Failed),
        repo_url: row.repo_url,
        prompt: row.prompt,
        base_branch: row.base_branch,
        provider: row.provider,
        branch: row.branch,
        commit: row.commit_sha,
        pr_url: row.pr_url,
        error: row.error,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
    }
}

/// Streams the run's events after `after` until its final event, as a channel the caller turns
/// into server-sent events, for as long as the caller stays signed in; 429 when the user already has [`MAX_STREAMS_PER_USER`] streams open on
/// this server. The stream counts as a watcher while it is open. It ends after
/// [`MAX_STREAM_LIFETIME`] (the client resumes with `Last-Event-ID`) and when its client stops
/// reading for [`SEND_TIMEOUT`].
pub fn follow(state: AppState, caller: OpenCaller, run_id: Uuid, after: i64) -> Result<mpsc::Receiver<AgentEvent>, ApiError> {
    let slot = StreamSlot::take(caller.user_id)?;
    let (tx, rx) = mpsc::channel(64);
    let span = tracing::info_span!("agent_stream", request_id = %run_id);
    let streaming = async move {
        let _slot = slot;
        let watcher = Uuid::new_v4().to_string();
        // Past its lifetime a stream ends as if finished (not a departure): the client reconnects
        // from its last event.
        let finished = tokio::time::timeout(MAX_STREAM_LIFETIME, pump(&state, &caller, run_id, after, &watcher, &tx)).await.unwrap_or(true);
        let mut redis = state.redis.clone();
        let _: Result<i64, _> = redis.zrem(agent_watchers(run_id), &watcher).await;
        if !finished {
            cancel_if_abandoned(&state, run_id).await;
        }
    };
    tokio::spawn(streaming.instrument(span));
    Ok(rx)
}

/// Streams one user may hold open on this server.
pub const MAX_STREAMS_PER_USER: usize = 16;
/// The longest one stream lasts.
const MAX_STREAM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How long an event may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// One of a user's open streams on this server, given back when dropped.
struct StreamSlot(Uuid);

fn open_streams() -> &'static std::sync::Mutex<std::collections::HashMap<Uuid, usize>> {
    static OPEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<Uuid, usize>>> = std::sync::OnceLock::new();
    OPEN.get_or_init(Default::default)
}

impl StreamSlot {
    fn take(user_id: Uuid) -> Result<Self, ApiError> {
        let mut open = open_streams().lock().expect("lock");
        let count = open.entry(user_id).or_default();
        if *count >= MAX_STREAMS_PER_USER {
            return Err(ApiError::Detail(
                StatusCode::TOO_MANY_REQUESTS,
                format!("you have {MAX_STREAMS_PER_USER} agent event streams open; close one first"),
            ));
        }
        *count += 1;
        Ok(Self(user_id))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = open_streams().lock().expect("lock");
        if let Some(count) = open.get_mut(&self.0) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.0);
            }
        }
    }
}

/// Sends events until the final one (`true`) or until the receiver is gone or the caller signed
/// out (`false`).
async fn pump(state: &AppState, caller: &OpenCaller, run_id: Uuid, mut after: i64, watcher: &str, tx: &mpsc::Sender<AgentEvent>) -> bool {
    let announced = state.pipeline.agent_events().follow(run_id);
    let mut redis = state.redis.clone();
    let mut last_heartbeat: Option<tokio::time::Instant> = None;
    loop {
        if last_heartbeat.is_none_or(|at| at.elapsed() >= HEARTBEAT_EVERY) {
            let now = chrono::Utc::now().timestamp_millis();
            let _: Result<i64, _> = redis.zadd(agent_watchers(run_id), watcher, now).await;
            let _: Result<bool, _> = redis.expire(agent_watchers(run_id), 3600).await;
            last_heartbeat = Some(tokio::time::Instant::now());
            // A stream outlives the request that opened it: it ends when its credential does.
            if !still_signed_in(state, caller).await {
                return false;
            }
        }
        match db::agent_runs::events_after(&state.db, run_id, after, PAGE).await {
            // Nothing newer: a run that has ended (a client asking after its last event, or after
            // more than it has) or that is gone gets an empty stream rather than one that never ends.
            Ok(page) if page.is_empty() => {
                let status = match db::agent_runs::status(&state.db, run_id).await {
                    Ok(None) => return true,
                    Ok(Some(status)) => RunStatus::parse(&status),
                    Err(_) => None,
                };
                if status.is_some_and(RunStatus::is_finished)
                    && db::agent_runs::events_after(&state.db, run_id, after, 1).await.is_ok_and(|p| p.is_empty())
                {
                    return true;
                }
            }
            Ok(page) => {
                for (seq, value) in page {
                    // An event this build cannot read is passed over, never waited for.
                    after = seq;
                    let Ok(event) = serde_json::from_value::<AgentEvent>(value) else { continue };
                    let last = event.kind.is_final();
                    match tokio::time::timeout(SEND_TIMEOUT, tx.send(event)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) | Err(_) => return false,
                    }
                    if last {
                        return true;
                    }
                }
            }
            Err(error) => tracing::warn!(request_id = %run_id, %error, "reading agent events failed; retrying"),
        }
        tokio::select! {
            () = announced.changed() => {}
            () = tokio::time::sleep(POLL_EVERY) => {}
            () = tx.closed() => return false,
        }
    }
}

/// Whether the stream's caller may still read: its API key live, or its auth token (signing out
/// revokes it). An unreachable store keeps the stream (the next heartbeat asks again).
async fn still_signed_in(state: &AppState, caller: &OpenCaller) -> bool {
    match (caller.key_id, caller.auth_token) {
        (Some(key_id), _) => db::api_keys::is_live(&state.db, key_id).await.unwrap_or(true),
        (None, Some(token)) => state.tokens.user_of_auth_token(token).await.map_or(true, |user| user == Some(caller.user_id)),
        (None, None) => true,
    }
}

/// After the grace period, cancels the run if no watcher came back and it has not ended.
async fn cancel_if_abandoned(state: &AppState, run_id: Uuid) {
    tokio::time::sleep(state.settings.agent_disconnect_grace).await;
    let mut redis = state.redis.clone();
    let stale_before = chrono::Utc::now().timestamp_millis() - WATCHER_STALE.as_millis() as i64;
    let _: Result<i64, _> = redis.zrembyscore(agent_watchers(run_id), "-inf", stale_before).await;
    let watchers: i64 = redis.zcard(agent_watchers(run_id)).await.unwrap_or(1);
    if watchers > 0 {
        return;
    }
    let Ok(Some(status)) = db::agent_runs::status(&state.db, run_id).await else { return };
    if RunStatus::parse(&status).is_some_and(RunStatus::is_finished) {
        return;
    }
    let owner: Option<Uuid> = db::agent_runs::owner(&state.db, run_id).await.ok().flatten();
    if let Some(owner) = owner {
        tracing::info!(request_id = %run_id, "every stream of the agent run closed; cancelling it");
        let _ = cancel(state, owner, run_id).await;
    }
}
