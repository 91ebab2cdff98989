//! What completion and chat queries share: asking the models through the pipeline, turning their
//! outcomes into the contract's items and `had_generation` rows, and finishing the query — its
//! Redis record first, then its telemetry on the `db` queue, both before the client is answered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use code4me_shared::jobs::llm::LlmTask;
use code4me_shared::jobs::telemetry::{Client, DbWrite, GenerationRow, QueryKind, QueryRecord};
use code4me_shared::redis_keys::{self as keys, QueryRecordValue};
use code4me_shared::retrieval::PromptDebug;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::requests::QueryFields;
use crate::contract::responses::{CompletionItem, FailedModel, ModelAnswer};
use crate::db;
use crate::pipeline::ModelOutcome;
use crate::services::callers::ProjectCaller;
use crate::services::state::AppState;
use crate::services::user_config::UserConfig;

/// Streamed text of one model, for callers that forward tokens (the WebSocket).
pub type TokenSink<'a> = &'a mut (dyn FnMut(i64, &str) + Send);

/// A query in progress: its id, who asked and when.
pub struct Query {
    /// `meta_query_id`.
    pub id: Uuid,
    /// The caller.
    pub caller: ProjectCaller,
    /// When the request arrived (stored).
    pub timestamp: DateTime<Utc>,
    /// The caller's config when it arrived (stored as the query's exposure) and what it turns on.
    pub config: Option<UserConfig>,
    arrived: Instant,
}

/// The models' outcomes, in request order, with every model's name.
pub struct Answers {
    /// One per requested model.
    pub outcomes: Vec<ModelOutcome>,
    names: BTreeMap<i64, String>,
    shown_at: DateTime<Utc>,
}

impl Query {
    /// Starts the clock on a query, once its telemetry's reference ids are known to exist (422
    /// otherwise: its rows could never be stored).
    pub async fn start(state: &AppState, id: Uuid, caller: ProjectCaller, fields: &QueryFields) -> Result<Self, ApiError> {
        let (timestamp, arrived) = (Utc::now(), Instant::now());
        state.reference.check(&state.db, &fields.contextual_telemetry).await?;
        let config = state.user_configs.get(&state.db, caller.user_id).await;
        Ok(Self { id, caller, timestamp, config, arrived })
    }

    /// Runs `task` on each model (each once, in request order) and waits at most `timeout`; a
    /// Redis failure before anything ran is a 503.
    pub async fn ask(
        &self,
        state: &AppState,
        model_ids: &[i64],
        task: &LlmTask,
        timeout: Duration,
        on_token: Option<TokenSink<'_>>,
    ) -> Result<Answers, ApiError> {
        let model_ids = dedup(model_ids);
        let outcomes = if model_ids.is_empty() {
            Vec::new()
        } else {
            let stream = on_token.is_some();
            let mut replies = state.pipeline.submit(self.id, &model_ids, task, stream, timeout).await.map_err(ApiError::Unavailable)?;
            let mut sink = on_token;
            let forward = |id: i64, _choice: u32, text: &str| {
                if let Some(sink) = sink.as_mut() {
                    sink(id, text);
                }
            };
            state.pipeline.gather(self.id, &mut replies, &model_ids, timeout, forward).await
        };
        for outcome in &outcomes {
            if let Err(reason) = &outcome.result {
                tracing::warn!(query_id = %self.id, model_id = outcome.model_id, %reason, "a model did not answer");
            }
        }
        let names = model_names(state, &outcomes).await;
        Ok(Answers { outcomes, names, shown_at: Utc::now() })
    }

    /// Remembers the query in Redis (owner, answered models, the response `data`) for feedback and
    /// lookups that arrive before its rows are written, then queues its rows; returns once Redis
    /// holds both.
    pub async fn finish(
        &self,
        state: &AppState,
        fields: &QueryFields,
        kind: QueryKind,
        changes_indexes: BTreeMap<String, usize>,
        answers: &Answers,
        data: &Value,
    ) -> Result<(), ApiError> {
        let generations = answers.generations();
        let query_type = match kind {
            QueryKind::Completion => "completion",
            QueryKind::Chat { .. } => "chat",
        };
        let remembered = QueryRecordValue {
            user_id: self.caller.user_id,
            query_type: query_type.to_owned(),
            answered: generations.iter().map(|g| g.model_id).collect(),
            response: data.clone(),
        };
        let key = keys::key(keys::QUERY_RECORD, self.id);
        let ttl = Duration::from_secs(keys::QUERY_RECORD_TTL_SECONDS);
        state.tokens.set_json(&key, &remembered, Some(ttl)).await.map_err(ApiError::Unavailable)?;
        let stored = fields.stored();
        let record = QueryRecord {
            query_id: self.id,
            user_id: self.caller.user_id,
            session_id: Some(self.caller.session_id),
            project_id: Some(self.caller.project_id),
            client: Client::Plugin,
            api_key_id: None,
            timestamp: self.timestamp,
            total_serving_time_ms: i32::try_from(self.arrived.elapsed().as_millis()).unwrap_or(i32::MAX),
            server_version_id: state.settings.version_id,
            config_id: self.config.map(|c| c.config_id),
            multi_file_context_changes_indexes: changes_indexes,
            context: stored.context,
            contextual: stored.contextual,
            behavioral: stored.behavioral,
            kind,
            generations,
        };
        state.pipeline.record(DbWrite::Query(Box::new(record))).await.map_err(ApiError::Unavailable)
    }
}

impl Answers {
    /// The contract's items: the answer (with `was_accepted: false` for chat, as upstream's
    /// history shape has it), or `{"message": "Completion for model failed", model_name}`.
    pub fn items(&self, with_acceptance: bool) -> Vec<CompletionItem> {
        self.outcomes
            .iter()
            .map(|outcome| match &outcome.result {
                Ok(answer) => CompletionItem::Answer(ModelAnswer {
                    model_id: outcome.model_id,
                    model_name: answer.model_name.clone(),
                    completion: answer.text.clone(),
                    generation_time: answer.generation_time_ms,
                    confidence: answer.confidence,
                    was_accepted: with_acceptance.then_some(false),
                    debug: None,
                }),
                Err(_) => CompletionItem::Failed(FailedModel::new(self.names[&outcome.model_id].clone())),
            })
            .collect()
    }

    /// Each model's prompt report, in request order (`None` for a model that failed or was not
    /// asked for one).
    pub fn debug_reports(&self) -> Vec<Option<&PromptDebug>> {
        self.outcomes.iter().map(|outcome| outcome.result.as_ref().ok().and_then(|answer| answer.debug.as_ref())).collect()
    }

    /// A `had_generation` row per model that answered.
    pub fn generations(&self) -> Vec<GenerationRow> {
        self.outcomes
            .iter()
            .filter_map(|outcome| {
                let answer = outcome.result.as_ref().ok()?;
                Some(GenerationRow {
                    model_id: outcome.model_id,
                    completion: answer.text.clone(),
                    generation_time_ms: answer.generation_time_ms,
                    shown_at: self.shown_at,
                    confidence: answer.confidence,
                    logprobs: answer.logprobs.clone(),
                    provider: None,
                    stages: answer.stages,
                })
            })
            .collect()
    }
}

/// Names of the models in `outcomes`: from the answers, else from `model_name` rows, else
/// upstream's `Model ID: <id>` for ids that name no model (or when PostgreSQL cannot say).
async fn model_names(state: &AppState, outcomes: &[ModelOutcome]) -> BTreeMap<i64, String> {
    let mut names: BTreeMap<i64, String> =
        outcomes.iter().filter_map(|o| o.result.as_ref().ok().map(|a| (o.model_id, a.model_name.clone()))).collect();
    let missing: Vec<i64> = outcomes.iter().map(|o| o.model_id).filter(|id| !names.contains_key(id)).collect();
    if !missing.is_empty() {
        let rows = db::models::names(&state.db, &missing).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "could not read model names for error items");
            Vec::new()
        });
        names.extend(rows.into_iter().map(|row| (row.model_id, row.model_name)));
    }
    for id in missing {
        names.entry(id).or_insert_with(|| format!("Model ID: {id}"));
    }
    names
}

/// The ids in request order, each once.
fn dedup(ids: &[i64]) -> Vec<i64> {
    let mut seen = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(id) {
            seen.push(*id);
        }
    }
    seen
}
