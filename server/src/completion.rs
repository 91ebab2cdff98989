//! Completions end to end, shared by `POST /api/completion/request` and the WebSocket: redact,
//! pick the multi-file context, run every requested model through the `llm` queue in parallel,
//! answer with one item per model (the contract's error item for a model that failed), and queue
//! the query's telemetry before answering, so an acknowledged completion is never lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use code4me_shared::jobs::{CompletionTask, DbWrite, GenerationRow, LlmTask, QueryKind, QueryRecord};
use code4me_shared::redaction::{redact, redact_lines};
use code4me_shared::redis_keys::{self as keys, ProjectValue, QueryRecordValue};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::extract::ProjectCaller;
use crate::error::{ApiError, OrFail};
use crate::messages;
use crate::pipeline::ModelOutcome;
use crate::requests::{ContextData, RequestCompletion};
use crate::state::AppState;

/// Streamed text of one model, for callers that forward tokens (the WebSocket).
pub type TokenSink<'a> = &'a mut (dyn FnMut(i64, &str) + Send);

/// Runs a completion request; returns the contract's `data` object.
pub async fn complete(
    state: &AppState,
    caller: ProjectCaller,
    request: RequestCompletion,
    query_id: Uuid,
    on_token: Option<TokenSink<'_>>,
) -> Result<Value, ApiError> {
    let arrived = Instant::now();
    let timestamp = chrono::Utc::now();
    let project = state.tokens.project(caller.project_id).await.map_err(ApiError::Unavailable)?.unwrap_or_default();
    let (context_files, changes_indexes) = select_context_files(&project, &request.context);
    let task = LlmTask::Completion(CompletionTask {
        prefix: redact(&request.context.prefix).into_owned(),
        suffix: redact(&request.context.suffix).into_owned(),
        file_name: Some(request.context.file_name()),
        context_files,
        stop_sequences: request.stop_sequences.clone(),
        max_new_tokens: None,
    });
    let model_ids = dedup(&request.model_ids);
    let outcomes = run_models(state, query_id, &model_ids, &task, state.settings.completion_timeout, on_token).await?;
    let names = model_names(state, &outcomes).await;

    let shown_at = chrono::Utc::now();
    let mut items = Vec::with_capacity(outcomes.len());
    let mut generations = Vec::new();
    for outcome in &outcomes {
        match &outcome.result {
            Ok(answer) => {
                items.push(json!({
                    "model_id": outcome.model_id,
                    "model_name": answer.model_name,
                    "completion": answer.text,
                    "generation_time": answer.generation_time_ms,
                    "confidence": answer.confidence,
                }));
                generations.push(GenerationRow {
                    model_id: outcome.model_id,
                    completion: answer.text.clone(),
                    generation_time_ms: answer.generation_time_ms,
                    shown_at,
                    confidence: answer.confidence,
                    logprobs: answer.logprobs.clone(),
                });
            }
            Err(reason) => {
                tracing::warn!(%query_id, model_id = outcome.model_id, %reason, "a model did not answer");
                items.push(json!({"message": messages::COMPLETION_ITEM_FAILED, "model_name": names[&outcome.model_id]}));
            }
        }
    }
    let data = json!({"meta_query_id": query_id, "completions": items});
    let answered: Vec<i64> = generations.iter().map(|g| g.model_id).collect();
    let record = QueryRecord {
        query_id,
        user_id: caller.user_id,
        session_id: caller.session_id,
        project_id: caller.project_id,
        timestamp,
        total_serving_time_ms: i32::try_from(arrived.elapsed().as_millis()).unwrap_or(i32::MAX),
        server_version_id: state.settings.version_id,
        multi_file_context_changes_indexes: changes_indexes,
        context: request.store_context.then(|| request.context.redacted_row()),
        contextual: request.store_contextual_telemetry.then(|| request.contextual_telemetry.row()),
        behavioral: request.store_behavioral_telemetry.then(|| request.behavioral_telemetry.row()),
        kind: QueryKind::Completion,
        generations,
    };
    remember(state, query_id, caller.user_id, "completion", answered, &data).await?;
    state.pipeline.record(DbWrite::Query(Box::new(record))).await.map_err(ApiError::Unavailable)?;
    Ok(data)
}

/// Pushes the jobs and waits for the answers; a Redis failure before anything ran is a 503.
pub async fn run_models(
    state: &AppState,
    request_id: Uuid,
    model_ids: &[i64],
    task: &LlmTask,
    timeout: Duration,
    on_token: Option<TokenSink<'_>>,
) -> Result<Vec<ModelOutcome>, ApiError> {
    if model_ids.is_empty() {
        return Ok(Vec::new());
    }
    let stream = on_token.is_some();
    let mut replies = state.pipeline.submit(request_id, model_ids, task, stream, timeout).await.map_err(ApiError::Unavailable)?;
    let mut ignore = |_: i64, _: &str| {};
    let sink: TokenSink<'_> = match on_token {
        Some(sink) => sink,
        None => &mut ignore,
    };
    Ok(state.pipeline.gather(request_id, &mut replies, model_ids, timeout, |id, text| sink(id, text)).await)
}

/// Keeps who owns the query and what it answered, for feedback and lookups that arrive before
/// its rows are written.
pub async fn remember(state: &AppState, query_id: Uuid, user_id: Uuid, query_type: &str, answered: Vec<i64>, data: &Value) -> Result<(), ApiError> {
    let value = QueryRecordValue { user_id, query_type: query_type.to_owned(), answered, response: data.clone() };
    state
        .tokens
        .set_json(&keys::key(keys::QUERY_RECORD, query_id), &value, Some(Duration::from_secs(keys::QUERY_RECORD_TTL_SECONDS)))
        .await
        .map_err(ApiError::Unavailable)
}

/// Names of the models in `outcomes`: from the answers, else from `model_name` rows, else
/// upstream's `Model ID: <id>` for ids that name no model.
pub async fn model_names(state: &AppState, outcomes: &[ModelOutcome]) -> BTreeMap<i64, String> {
    let mut names: BTreeMap<i64, String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok().map(|a| (o.model_id, a.model_name.clone())))
        .collect();
    let missing: Vec<i64> = outcomes.iter().map(|o| o.model_id).filter(|id| !names.contains_key(id)).collect();
    if !missing.is_empty() {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT model_id, model_name FROM model_name WHERE model_id = ANY($1)")
            .bind(&missing)
            .fetch_all(&state.db)
            .await
            .or_fail(messages::COMPLETIONS_FAILED)
            .unwrap_or_default();
        names.extend(rows);
    }
    for id in missing {
        names.entry(id).or_insert_with(|| format!("Model ID: {id}"));
    }
    names
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
    let indexes = selected
        .iter()
        .map(|name| ((*name).clone(), project.multi_file_context_changes.get(*name).map_or(0, Vec::len)))
        .collect();
    (files, indexes)
}

/// The ids in request order, each once.
pub fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut seen = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(id) {
            seen.push(*id);
        }
    }
    seen
}
