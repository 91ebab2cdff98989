//! Completions end to end, shared by `POST /api/completion/request` and the WebSocket: redact,
//! pick the multi-file context, run every requested model through the `llm` queue in parallel,
//! answer with one item per model (the contract's error item for a model that failed), and queue
//! the query's telemetry before answering, so an acknowledged completion is never lost.

use std::collections::BTreeMap;

use code4me_shared::jobs::{CompletionTask, LlmTask, QueryKind};
use code4me_shared::redaction::{redact, redact_lines};
use code4me_shared::redis_keys::ProjectValue;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::requests::{ContextData, RequestCompletion};
use crate::http::auth::ProjectCaller;
use crate::services::query::{Query, TokenSink};
use crate::services::state::AppState;

/// Runs a completion request; returns the contract's response body (`message` and `data`).
pub async fn complete(
    state: &AppState,
    caller: ProjectCaller,
    request: RequestCompletion,
    query_id: Uuid,
    on_token: Option<TokenSink<'_>>,
) -> Result<Value, ApiError> {
    let query = Query::start(state, query_id, caller, &request.query).await?;
    let context = &request.query.context;
    let project = state.tokens.project(caller.project_id).await.map_err(ApiError::Unavailable)?.unwrap_or_default();
    let (context_files, changes_indexes) = select_context_files(&project, context);
    let retrieval = query.config.and_then(|config| config.retrieval);
    let task = LlmTask::Completion(CompletionTask {
        prefix: redact(&context.prefix).into_owned(),
        suffix: redact(&context.suffix).into_owned(),
        file_name: Some(context.file_name()),
        context_files,
        stop_sequences: request.stop_sequences.clone(),
        max_new_tokens: request.max_new_tokens,
        project_id: Some(caller.project_id),
        retrieval,
        debug: request.debug,
    });
    let answers = query.ask(state, &request.model_ids, &task, state.settings.completion_timeout, on_token).await?;
    let mut data = json!({"meta_query_id": query_id, "completions": answers.items(false)});
    query.finish(state, &request.query, QueryKind::Completion, changes_indexes, &answers, &data).await?;
    if request.debug {
        // Only in this response: the stored record (`GET /api/completion/{id}`) keeps the contract's items.
        for (item, debug) in data["completions"].as_array_mut().into_iter().flatten().zip(answers.debug_reports()) {
            item["debug"] = json!(debug);
        }
    }
    Ok(json!({"message": messages::COMPLETIONS_GENERATED, "data": data}))
}

/// The project files a request asks for (names, or `"*"` for all but the edited file), redacted,
/// and `{file: number of changes}` for the query's telemetry.
pub fn select_context_files(project: &ProjectValue, context: &ContextData) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, usize>) {
    let wanted = context.context_files.clone().unwrap_or_default();
    let current = context.file_name();
    let selected: Vec<&String> = if wanted.iter().any(|f| f == "*") {
        project.multi_file_contexts.keys().filter(|name| **name != current).collect()
    } else {
        project.multi_file_contexts.keys().filter(|name| wanted.contains(name)).collect()
    };
    let files = selected.iter().map(|name| ((*name).clone(), redact_lines(&project.multi_file_contexts[*name]))).collect();
    let indexes = selected.iter().map(|name| ((*name).clone(), project.change_count(name))).collect();
    (files, indexes)
}
