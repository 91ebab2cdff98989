//! Chat end to end, shared by `POST /api/chat/request` and the WebSocket: the conversation goes
//! to every requested model through the `llm` queue; the turn is recorded through `db`; the
//! history endpoints read what was recorded, and its owner may delete it.
//!
//! The `chat_id` is chosen by the client, so who owns a chat is decided when the turn starts, in
//! one statement ([`claim`]): the first caller's row wins, everyone else gets the not-found answer
//! (as for an id that does not exist, so ids cannot be probed). The worker fills in the title and
//! never attaches a turn to a chat someone else owns.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use code4me_shared::jobs::llm::{ChatTask, LlmTask};
use code4me_shared::jobs::telemetry::{QueryKind, UNTITLED_CHAT};
use code4me_shared::redaction::redact;
use sqlx::PgPool;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::requests::RequestChatCompletion;
use crate::contract::responses::{ChatHistory, ChatPage, ChatTurn, CompletionItem, Message, ModelAnswer, UserMessage, to_body};
use crate::db;
use crate::services::callers::ProjectCaller;
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
) -> Result<ChatHistory, ApiError> {
    let query = Query::start(state, query_id, caller, &request.query).await?;
    let title = claim(&state.db, request.chat_id, &caller, query.timestamp).await?;
    let user_message = request.messages.iter().rev().find(|(role, _)| role == "user").map(|(_, c)| c.clone()).unwrap_or_default();
    let task = LlmTask::Chat(ChatTask { messages: with_editor_context(&request), want_title: title.is_none(), ..ChatTask::default() });
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
            .map_or_else(|| messages::FALLBACK_CHAT_TITLE.to_owned(), |title| redact(&title).into_owned())
    });
    let stored_message = redact(&user_message).into_owned();
    let turn =
        ChatTurn { user_message: UserMessage::new(stored_message.clone(), query.timestamp, query_id), assistant_responses: answers.items(true) };
    let data = ChatHistory { chat_id: request.chat_id, title: title.clone(), history: vec![turn] };
    let kind = QueryKind::Chat { chat_id: request.chat_id, title, web_enabled: request.web_enabled, user_message: stored_message };
    query.finish(state, &request.query, kind, Default::default(), &answers, &to_body(&data)).await?;
    wait_until_stored(&state.db, query_id).await;
    Ok(data)
}

/// Makes the caller the owner of `chat_id` unless someone already is, in one statement: of two
/// racing first turns, the second waits for the first's row and sees its owner. Returns the chat's
/// title, `None` while it has none yet (a new chat, or one whose first turn is still on its way);
/// another user's chat, or the caller's own in another project, is the not-found answer.
async fn claim(db: &PgPool, chat_id: Uuid, caller: &ProjectCaller, now: DateTime<Utc>) -> Result<Option<String>, ApiError> {
    let owner = db::chats::claim(db, chat_id, caller.project_id, caller.user_id, UNTITLED_CHAT, now).await.or_fail(messages::CHAT_FAILED)?;
    if owner.user_id != Some(caller.user_id) || owner.project_id != caller.project_id {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND));
    }
    // History pages list only chats with a stored turn, so the placeholder title never shows.
    Ok(Some(owner.title).filter(|t| t != UNTITLED_CHAT))
}

/// Gives up the claim of a chat whose first turn failed before it could be recorded, so failed
/// requests with fresh ids leave no empty rows behind. Best effort: a row left here is never shown
/// (history pages list chats with a stored turn), and a turn already on its way keeps its chat.
async fn release_claim(db: &PgPool, chat_id: Uuid) {
    if let Err(error) = db::chats::release_unused(db, chat_id, UNTITLED_CHAT).await {
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
        if db::chats::turn_is_stored(db, query_id).await.unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One page (1-based) of the caller's chats in the active project, newest first, each with its
/// turns in order. A chat claimed by a turn that never got stored (cancelled, failed) is not shown.
pub async fn history_page(db: &PgPool, caller: &ProjectCaller, page: i64) -> Result<ChatPage, ApiError> {
    let chats =
        db::chats::page_of(db, caller.user_id, caller.project_id, PAGE_SIZE, (page - 1) * PAGE_SIZE).await.or_fail(messages::CHAT_GET_FAILED)?;
    let mut items = Vec::with_capacity(chats.len());
    for chat in chats {
        let history = chat_turns(db, chat.chat_id).await.or_fail(messages::CHAT_GET_FAILED)?;
        items.push(ChatHistory { chat_id: chat.chat_id, title: chat.title, history });
    }
    Ok(ChatPage { page, per_page: PAGE_SIZE, items })
}

/// The stored turns of a chat, each with its models' answers.
async fn chat_turns(db: &PgPool, chat_id: Uuid) -> sqlx::Result<Vec<ChatTurn>> {
    let turns = db::chats::turns(db, chat_id).await?;
    let answers = db::chats::answers(db, chat_id).await?;
    Ok(turns
        .into_iter()
        .map(|turn| {
            let assistant_responses = answers
                .iter()
                .filter(|a| a.meta_query_id == turn.meta_query_id)
                .map(|a| {
                    CompletionItem::Answer(ModelAnswer {
                        model_id: a.model_id,
                        model_name: a.model_name.clone(),
                        completion: a.completion.clone(),
                        generation_time: a.generation_time,
                        confidence: a.confidence,
                        was_accepted: Some(a.was_accepted),
                        debug: None,
                    })
                })
                .collect();
            let content = turn.user_message.or(turn.prefix).unwrap_or_default();
            ChatTurn { user_message: UserMessage::new(content, turn.timestamp, turn.meta_query_id), assistant_responses }
        })
        .collect())
}

/// Deletes the chat named by `raw` (its turns cascade) if the caller owns it; anyone else gets the
/// 404 of an id that does not exist (upstream's 403 would tell them it does).
pub async fn delete(db: &PgPool, caller: &ProjectCaller, raw: &str) -> Result<Message, ApiError> {
    let not_found = ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND);
    let Ok(chat_id) = Uuid::parse_str(raw.trim()) else { return Err(not_found) };
    let owner = db::chats::owner(db, chat_id).await.or_fail(messages::CHAT_DELETE_FAILED)?;
    if owner != Some(Some(caller.user_id)) {
        return Err(not_found);
    }
    db::chats::delete(db, chat_id).await.or_fail(messages::CHAT_DELETE_FAILED)?;
    Ok(Message::new(messages::CHAT_DELETED))
}
