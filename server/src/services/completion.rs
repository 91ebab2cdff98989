//! Completions end to end, shared by `POST /api/completion/request` and the WebSocket: redact,
//! pick the multi-file context, run every requested model through the `llm` queue in parallel,
//! answer with one item per model (the contract's error item for a model that failed), and queue
//! the query's telemetry before answering, so an acknowledged completion is never lost; and the
//! lookup of a past completion (`GET /api/completion/{query_id}`).

use axum::http::StatusCode;
use code4me_shared::jobs::llm::{CompletionTask, LlmTask};
use code4me_shared::jobs::telemetry::QueryKind;
use code4me_shared::multi_file::select_context_files;
use code4me_shared::redaction::redact;
use code4me_shared::redis_keys::{self as keys, QueryRecordValue};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::requests::RequestCompletion;
use crate::contract::responses::{CompletionItem, CompletionsData, CompletionsResponse, ModelAnswer, to_body};
use crate::db;
use crate::services::callers::{ProjectCaller, SessionCaller};
use crate::services::query::{Query, TokenSink};
use crate::services::state::AppState;

/// Runs a completion request; returns the contract's response body (`message` and `data`).
pub async fn complete(
    state: &AppState,
    caller: ProjectCaller,
    request: RequestCompletion,
    query_id: Uuid,
    on_token: Option<TokenSink<'_>>,
) -> Result<CompletionsResponse, ApiError> {
    let query = Query::start(state, query_id, caller, &request.query).await?;
    let context = &request.query.context;
    let project = state.tokens.project(caller.project_id).await.map_err(ApiError::Unavailable)?.unwrap_or_default();
    let file_name = context.file_name();
    let selection = select_context_files(&project, context.context_files.as_deref().unwrap_or_default(), &file_name);
    let retrieval = query.config.and_then(|config| config.retrieval);
    let task = LlmTask::Completion(CompletionTask {
        prefix: redact(&context.prefix).into_owned(),
        suffix: redact(&context.suffix).into_owned(),
        file_name: Some(file_name),
        context_files: selection.files,
        stop_sequences: request.stop_sequences.clone(),
        max_new_tokens: request.max_new_tokens,
        project_id: Some(caller.project_id),
        retrieval,
        debug: request.debug,
        ..CompletionTask::default()
    });
    let answers = query.ask(state, &request.model_ids, &task, state.settings.completion_timeout, on_token).await?;
    let mut data = CompletionsData { meta_query_id: query_id, completions: answers.items(false) };
    query.finish(state, &request.query, QueryKind::Completion, selection.changes_indexes, &answers, &to_body(&data)).await?;
    if request.debug {
        // Only in this response: the stored record (`GET /api/completion/{id}`) keeps the contract's items.
        for (item, debug) in data.completions.iter_mut().zip(answers.debug_reports()) {
            item.set_debug(debug.cloned());
        }
    }
    Ok(CompletionsResponse { message: messages::COMPLETIONS_GENERATED.to_owned(), data })
}

/// A past completion query's items, from PostgreSQL, or from its Redis record while its rows are
/// still queued. Only the query's owner may read it; anyone else gets the 404 of an id that does
/// not exist (upstream's 403 would tell them it does).
pub async fn stored(state: &AppState, caller: SessionCaller, raw_id: &str) -> Result<CompletionsResponse, ApiError> {
    let not_found = || ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND);
    let Ok(query_id) = Uuid::parse_str(raw_id) else { return Err(not_found()) };
    let retrieved = |data| CompletionsResponse { message: messages::COMPLETIONS_RETRIEVED.to_owned(), data };
    let Some(owner) = db::queries::completion_owner(&state.db, query_id).await.or_fail(messages::COMPLETIONS_RETRIEVE_FAILED)? else {
        let record: Option<QueryRecordValue> =
            state.tokens.get_json(&keys::key(keys::QUERY_RECORD, query_id)).await.map_err(ApiError::Unavailable)?;
        return match record.filter(|r| r.query_type == "completion" && r.user_id == caller.user_id) {
            Some(r) => Ok(retrieved(serde_json::from_value(r.response).or_fail(messages::COMPLETIONS_RETRIEVE_FAILED)?)),
            None => Err(not_found()),
        };
    };
    if owner != Some(caller.user_id) {
        return Err(not_found());
    }
    let rows = db::queries::completions(&state.db, query_id).await.or_fail(messages::COMPLETIONS_RETRIEVE_FAILED)?;
    let completions = rows
        .into_iter()
        .map(|row| {
            CompletionItem::Answer(ModelAnswer {
                model_id: row.model_id,
                model_name: row.model_name,
                completion: row.completion,
                generation_time: row.generation_time,
                confidence: row.confidence,
                was_accepted: None,
                debug: None,
            })
        })
        .collect();
    Ok(retrieved(CompletionsData { meta_query_id: query_id, completions }))
}
