//! Chat end to end, shared by `POST /api/chat/request` and the WebSocket: the conversation goes
//! to every requested model through the `llm` queue; the turn is recorded through `db`; the
//! history endpoints read what was recorded.
//!
//! The `chat_id` is chosen by the client, so who owns a chat is decided when the turn starts, in
//! one statement ([`claim`]): the first caller's row wins, everyone else gets the not-found answer
//! (as for an id that does not exist, so ids cannot be probed). The worker fills in the title and
//! never attaches a turn to a chat someone else owns.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use code4me_shared::jobs::{ChatTask, LlmTask, QueryKind, UNTITLED_CHAT};
use code4me_shared::redaction::redact;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::requests::RequestChatCompletion;
use crate::http::auth::ProjectCaller;
use crate::services::query::{Query, TokenSink};
use crate::services::state::AppState;

/// Chats per history page.
pub const PAGE_SIZE: i64 = 10;

/// How long a chat answer waits for its turn to be stored, so the history asked for next shows
/// it; when the telemetry queue lags longer the answer goes out anyway (the turn is queued).
const WAIT_FOR_HISTORY: Duration = Duration::from_secs(3);

/// Runs a chat turn; returns the contract's `ChatHistoryResponse` for this turn.
pub async fn chat(
    state: &AppState,
    caller: ProjectCaller,
    request: RequestChatCompletion,
    query_id: Uuid,
    on_token: Option<TokenSink<'_>>,
) -> Result<Value, ApiError> {
    let query = Query::start(state, query_id, caller, &request.query).await?;
    let title = claim(&state.db, request.chat_id, &caller, query.timestamp).await?;
    let user_message = request.messages.iter().rev().find(|(role, _)| role == "user").map(|(_, c)| c.clone()).unwrap_or_default();
    let task = LlmTask::Chat(ChatTask { messages: with_editor_context(&request), want_title: title.is_none() });
    let answers = match query.ask(state, &request.model_ids, &task, state.settings.chat_timeout, on_token).await {
        Ok(answers) => answers,
        Err(error) => {
            if title.is_none() {
                release_claim(&state.db, request.chat_id).await;
            }
            return Err(error);
        }
    };
    let title = title.unwrap_or_else(|| {
        answers
            .outcomes
            .iter()
            .find_map(|o| o.result.as_ref().ok().and_then(|a| a.title.clone()))
            .filter(|t| !t.trim().is_empty())
            .map_or_else(|| "Untitled Chat".to_owned(), |title| redact(&title).into_owned())
    });
    let stored_message = redact(&user_message).into_owned();
    let data = json!({
        "chat_id": request.chat_id,
        "title": title,
        "history": [{
            "user_message": {"role": "user", "content": stored_message, "timestamp": query.timestamp, "meta_query_id": query_id},
            "assistant_responses": answers.items(true),
        }],
    });
    let kind = QueryKind::Chat { chat_id: request.chat_id, title, web_enabled: request.web_enabled, user_message: stored_message };
    query.finish(state, &request.query, kind, Default::default(), &answers, &data).await?;
    wait_until_stored(&state.db, query_id).await;
    Ok(data)
}

/// Makes the caller the owner of `chat_id` unless someone already is, in one statement: of two
/// racing first turns, the second waits for the first's row and sees its owner. Returns the chat's
/// title, `None` while it has none yet (a new chat, or one whose first turn is still on its way);
/// another user's chat, or the caller's own in another project, is the not-found answer.
async fn claim(db: &PgPool, chat_id: Uuid, caller: &ProjectCaller, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, ApiError> {
    // `DO UPDATE` with a no-op assignment (not `DO NOTHING`) so that the existing row is returned.
    let (owner, project, title): (Option<Uuid>, Uuid, String) = sqlx::query_as(
        "INSERT INTO chat (chat_id, project_id, user_id, title, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (chat_id) DO UPDATE SET chat_id = EXCLUDED.chat_id RETURNING user_id, project_id, title",
    )
    .bind(chat_id)
    .bind(caller.project_id)
    .bind(caller.user_id)
    .bind(UNTITLED_CHAT)
    .bind(now)
    .fetch_one(db)
    .await
    .or_fail(messages::CHAT_FAILED)?;
    if owner != Some(caller.user_id) || project != caller.project_id {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND));
    }
    // History pages list only chats with a stored turn, so the placeholder title never shows.
    Ok(Some(title).filter(|t| t != UNTITLED_CHAT))
}

/// Gives up the claim of a chat whose first turn failed before it could be recorded, so failed
/// requests with fresh ids leave no empty rows behind. Best effort: a row left here is never shown
/// (history pages list chats with a stored turn), and a turn already on its way keeps its chat.
async fn release_claim(db: &PgPool, chat_id: Uuid) {
    let released = sqlx::query("DELETE FROM chat WHERE chat_id = $1 AND title = $2 AND NOT EXISTS (SELECT 1 FROM chat_query WHERE chat_id = $1)")
        .bind(chat_id)
        .bind(UNTITLED_CHAT)
        .execute(db)
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, %chat_id, "could not release the claim of a failed chat turn");
    }
}

/// The conversation as the model sees it, redacted (so neither the answer nor the title it writes
/// can repeat a secret): the editor's file, prefix and suffix (and selection) appended to the
/// first user message, as upstream does, when the plugin sent any.
fn with_editor_context(request: &RequestChatCompletion) -> Vec<(String, String)> {
    let context = &request.query.context;
    let mut messages: Vec<(String, String)> = request.messages.iter().map(|(role, content)| (role.clone(), redact(content).into_owned())).collect();
    if context.prefix.is_empty() && context.suffix.is_empty() {
        return messages;
    }
    let mut extra =
        format!("\n\nThe code I am editing, in {}:\nPREFIX: {}\n\nSUFFIX: {}", context.file_name(), redact(&context.prefix), redact(&context.suffix));
    if let Some(selected) = context.selected_text.as_deref().filter(|s| !s.is_empty()) {
        extra.push_str(&format!("\n\nSELECTED: {}", redact(selected)));
    }
    if let Some((_, content)) = messages.iter_mut().find(|(role, _)| role == "user") {
        content.push_str(&extra);
    }
    messages
}

/// Polls (briefly) until the turn's row is in PostgreSQL.
async fn wait_until_stored(db: &PgPool, query_id: Uuid) {
    let deadline = Instant::now() + WAIT_FOR_HISTORY;
    while Instant::now() < deadline {
        let stored: Result<bool, _> =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM chat_query WHERE meta_query_id = $1)").bind(query_id).fetch_one(db).await;
        if stored.unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One page (1-based) of the caller's chats in the active project, newest first, each with its
/// turns in order. A chat claimed by a turn that never got stored (cancelled, failed) is not shown.
pub async fn history_page(db: &PgPool, caller: &ProjectCaller, page: i64) -> anyhow::Result<Value> {
    let chats: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT chat_id, title FROM chat WHERE user_id = $1 AND project_id = $2 \
         AND EXISTS (SELECT 1 FROM chat_query cq WHERE cq.chat_id = chat.chat_id) \
         ORDER BY created_at DESC, chat_id LIMIT $3 OFFSET $4",
    )
    .bind(caller.user_id)
    .bind(caller.project_id)
    .bind(PAGE_SIZE)
    .bind((page - 1) * PAGE_SIZE)
    .fetch_all(db)
    .await?;
    let mut items = Vec::with_capacity(chats.len());
    for (chat_id, title) in chats {
        items.push(json!({"chat_id": chat_id, "title": title, "history": chat_turns(db, chat_id).await?}));
    }
    Ok(json!({"page": page, "per_page": PAGE_SIZE, "items": items}))
}

/// A stored turn: query id, time, the user's message, the editor prefix (older rows lack the message).
type Turn = (Uuid, chrono::DateTime<chrono::Utc>, Option<String>, Option<String>);

async fn chat_turns(db: &PgPool, chat_id: Uuid) -> anyhow::Result<Vec<Value>> {
    let turns: Vec<Turn> = sqlx::query_as(
        "SELECT mq.meta_query_id, mq.\"timestamp\", cq.user_message, c.prefix FROM chat_query cq \
         JOIN meta_query mq ON mq.meta_query_id = cq.meta_query_id LEFT JOIN context c ON c.context_id = mq.context_id \
         WHERE cq.chat_id = $1 ORDER BY mq.\"timestamp\"",
    )
    .bind(chat_id)
    .fetch_all(db)
    .await?;
    let generations: Vec<(Uuid, i64, String, String, i32, f64, bool)> = sqlx::query_as(
        "SELECT g.meta_query_id, g.model_id, m.model_name, g.completion, g.generation_time, g.confidence, g.was_accepted \
         FROM had_generation g JOIN model_name m ON m.model_id = g.model_id \
         JOIN chat_query cq ON cq.meta_query_id = g.meta_query_id WHERE cq.chat_id = $1 ORDER BY g.model_id",
    )
    .bind(chat_id)
    .fetch_all(db)
    .await?;
    Ok(turns
        .into_iter()
        .map(|(query_id, timestamp, user_message, prefix)| {
            let responses: Vec<Value> = generations
                .iter()
                .filter(|g| g.0 == query_id)
                .map(|(_, model_id, model_name, completion, generation_time, confidence, was_accepted)| {
                    json!({"model_id": model_id, "model_name": model_name, "completion": completion,
                           "generation_time": generation_time, "confidence": confidence, "was_accepted": was_accepted})
                })
                .collect();
            json!({
                "user_message": {"role": "user", "content": user_message.or(prefix).unwrap_or_default(), "timestamp": timestamp, "meta_query_id": query_id},
                "assistant_responses": responses,
            })
        })
        .collect())
}
