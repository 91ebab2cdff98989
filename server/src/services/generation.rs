//! One generation for any front door of the open APIs (OpenAI-compatible `/v1`, the suggestion
//! API, the task API): the prompt redacted, the model resolved, the prompt bounded by the caller's
//! tier, the provider chain run on a task of its own — streamed tokens handed out as they come —
//! and the answer stored as research telemetry (a query tagged with its client dialect and the
//! provider that answered) before the caller sees it, so an acknowledged answer is never lost.
//!
//! Dropping a [`Generation`] before its end (the client went away) cancels it: the task stops,
//! the worker's job is dropped from the queue or stopped at its next token, and nothing is stored
//! for tokens nobody saw.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use code4me_shared::jobs::llm::{EMBEDDING_MODEL, EMBEDDING_MODEL_ID, EmbedTask, LlmTask};
use code4me_shared::jobs::telemetry::{Client, ContextRow, DbWrite, GenerationRow, QueryKind, QueryRecord};
use code4me_shared::redaction::redact;
use code4me_shared::reply::Failure;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::services::model_directory::ModelEntry;
use crate::services::providers::{ChainFailure, GenerationOptions, Message, Prompt, ProviderAnswer, ProviderJob};
use crate::services::state::AppState;

/// Who asks, as the open APIs know callers: an API key (its owner, the key, the project it is
/// bound to) or a signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct OpenCaller {
    /// The user.
    pub user_id: Uuid,
    /// The key, when the request presented one.
    pub key_id: Option<Uuid>,
    /// The key's project.
    pub project_id: Option<Uuid>,
    /// The tier's prompt bound, for keyed requests.
    pub max_prompt_chars: Option<u64>,
    /// The auth token a signed-in caller presented (a stream that outlives its request checks it
    /// is still live); `None` for a key.
    pub auth_token: Option<Uuid>,
}

/// A generation request of any dialect.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// The front door, stored with the query.
    pub client: Client,
    /// Who asks.
    pub caller: OpenCaller,
    /// The model row's name; `None` takes the default model for the prompt's kind.
    pub model: Option<String>,
    /// What to generate from (not yet redacted).
    pub prompt: Prompt,
    /// Sampling and length.
    pub options: GenerationOptions,
    /// Hand out tokens as they are generated.
    pub stream: bool,
    /// Only this provider of the chain.
    pub provider: Option<String>,
}

/// Why a generation did not happen.
#[derive(Debug)]
pub enum GenerationError {
    /// No model row has this name.
    UnknownModel(String),
    /// The model cannot do this kind of job (a chat request to a completion-only model).
    WrongKind {
        /// The model.
        model: String,
        /// `chat` or `completion`.
        wanted: &'static str,
    },
    /// No model row can do this kind of job at all.
    NoDefaultModel(&'static str),
    /// The prompt is longer than the caller's tier allows.
    PromptTooLong {
        /// Characters sent.
        chars: usize,
        /// The tier's bound.
        limit: u64,
    },
    /// The chain did not answer.
    Chain(ChainFailure),
    /// PostgreSQL or Redis is unreachable.
    Unavailable(anyhow::Error),
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The stored query's id.
    pub query_id: Uuid,
    /// The chain's answer.
    pub answer: ProviderAnswer,
    /// Milliseconds from the request to the answer.
    pub latency_ms: u64,
}

/// What a running generation hands out.
#[derive(Debug)]
pub enum Event {
    /// Streamed text of one choice.
    Token {
        /// The choice.
        choice: u32,
        /// The text.
        text: String,
    },
    /// The answer, stored.
    Done(Box<Outcome>),
    /// It failed.
    Failed(GenerationError),
}

/// A running generation; dropping it before its end cancels it.
pub struct Generation {
    /// The query's id (also the request id on the queues).
    pub query_id: Uuid,
    /// The model's name.
    pub model: String,
    /// When the request arrived (for `created` fields).
    pub created: chrono::DateTime<Utc>,
    events: mpsc::UnboundedReceiver<Event>,
    guard: CancelOnDrop,
}

impl Generation {
    /// The next event; `None` after the last.
    pub async fn next(&mut self) -> Option<Event> {
        let event = self.events.recv().await;
        if matches!(event, Some(Event::Done(_) | Event::Failed(_)) | None) {
            self.guard.finished = true;
        }
        event
    }

    /// Waits for the end, ignoring streamed tokens.
    pub async fn finish(mut self) -> Result<Outcome, GenerationError> {
        while let Some(event) = self.next().await {
            match event {
                Event::Token { .. } => {}
                Event::Done(outcome) => return Ok(*outcome),
                Event::Failed(error) => return Err(error),
            }
        }
        Err(GenerationError::Unavailable(anyhow::anyhow!("the generation task ended without an answer")))
    }
}

/// Cancels the generation when dropped before its end.
struct CancelOnDrop {
    /// The task running the chain, when there is one.
    task: Option<JoinHandle<()>>,
    query_id: Uuid,
    state: AppState,
    finished: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(task) = &self.task {
            task.abort();
        }
        let (state, query_id) = (self.state.clone(), self.query_id);
        tracing::info!(%query_id, "client went away; cancelling its generation");
        metrics::counter!("open_api_cancelled_total").increment(1);
        tokio::spawn(async move { state.pipeline.cancel(query_id).await });
    }
}

/// Starts a generation: resolves the model and checks the prompt first (those errors come back
/// before anything runs), then runs the chain on a task of its own.
pub async fn start(state: &AppState, request: GenerationRequest) -> Result<Generation, GenerationError> {
    let arrived = Instant::now();
    let created = Utc::now();
    let chat = matches!(request.prompt, Prompt::Chat { .. });
    let model = resolve_model(state, request.model.as_deref(), chat).await?;
    let chars = request.prompt.chars();
    if let Some(limit) = request.caller.max_prompt_chars
        && u64::try_from(chars).unwrap_or(u64::MAX) > limit
    {
        return Err(GenerationError::PromptTooLong { chars, limit });
    }
    let query_id = Uuid::new_v4();
    let mut options = request.options;
    if let Some(cap) = state.settings.open_api.max_new_tokens {
        options.max_tokens = Some(options.max_tokens.map_or(cap, |asked| asked.min(cap)));
    }
    let job = ProviderJob { request_id: query_id, model: model.clone(), prompt: redacted(request.prompt), options, stream: request.stream };
    let (events_tx, events) = mpsc::unbounded_channel();
    let task_state = state.clone();
    let (client, caller, pinned) = (request.client, request.caller, request.provider);
    let task = tokio::spawn(async move {
        let tokens = events_tx.clone();
        let mut on_token = move |choice: u32, text: &str| {
            let _ = tokens.send(Event::Token { choice, text: text.to_owned() });
        };
        let event = match task_state.providers.run(&job, pinned.as_deref(), &mut on_token).await {
            Ok(answer) => {
                let outcome = Outcome { query_id, answer, latency_ms: u64::try_from(arrived.elapsed().as_millis()).unwrap_or(u64::MAX) };
                match record(&task_state, client, caller, &job, &outcome, created).await {
                    Ok(()) => Event::Done(Box::new(outcome)),
                    Err(error) => Event::Failed(GenerationError::Unavailable(error)),
                }
            }
            Err(failure) => Event::Failed(GenerationError::Chain(failure)),
        };
        let outcome_label = if matches!(event, Event::Done(_)) { "answered" } else { "failed" };
        metrics::counter!("open_api_requests_total", "client" => client.as_str(), "outcome" => outcome_label).increment(1);
        metrics::histogram!("open_api_request_duration_seconds", "client" => client.as_str()).record(arrived.elapsed().as_secs_f64());
        let _ = events_tx.send(event);
    });
    Ok(Generation {
        query_id,
        model: model.name,
        created,
        events,
        guard: CancelOnDrop { task: Some(task), query_id, state: state.clone(), finished: false },
    })
}

/// The model row asked for (or the default one), checked to do this kind of job.
async fn resolve_model(state: &AppState, name: Option<&str>, chat: bool) -> Result<ModelEntry, GenerationError> {
    let wanted = if chat { "chat" } else { "completion" };
    let database = |e: sqlx::Error| GenerationError::Unavailable(e.into());
    let Some(name) = name else {
        return state.models.default_model(chat).await.map_err(database)?.ok_or(GenerationError::NoDefaultModel(wanted));
    };
    let model = state.models.find(name).await.map_err(database)?.ok_or_else(|| GenerationError::UnknownModel(name.to_owned()))?;
    // A completion may use a chat model's raw continuation; a chat needs a chat model.
    if chat && !model.chat {
        return Err(GenerationError::WrongKind { model: model.name, wanted });
    }
    Ok(model)
}

/// The prompt with secrets hidden, as everything stored or sent to a model must be.
fn redacted(prompt: Prompt) -> Prompt {
    match prompt {
        Prompt::Completion { prefix, suffix, file_name, raw } => Prompt::Completion {
            prefix: redact(&prefix).into_owned(),
            suffix: redact(&suffix).into_owned(),
            file_name: file_name.map(|name| redact(&name).into_owned()),
            raw,
        },
        Prompt::Chat { messages } => {
            Prompt::Chat { messages: messages.into_iter().map(|m| Message { role: m.role, content: redact(&m.content).into_owned() }).collect() }
        }
    }
}

/// Queues the query's telemetry: the prompt as its context, the first choice as its generation,
/// the dialect and the provider; returns once Redis holds it.
async fn record(
    state: &AppState,
    client: Client,
    caller: OpenCaller,
    job: &ProviderJob,
    outcome: &Outcome,
    created: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let context = match &job.prompt {
        Prompt::Completion { prefix, suffix, file_name, .. } => {
            ContextRow { prefix: prefix.clone(), suffix: suffix.clone(), file_name: file_name.clone(), selected_text: None }
        }
        Prompt::Chat { messages } => ContextRow {
            prefix: messages.iter().map(|m| format!("{}: {}", m.role.as_str(), m.content)).collect::<Vec<_>>().join("\n"),
            ..ContextRow::default()
        },
    };
    let answer = &outcome.answer;
    let generations = answer
        .choices
        .first()
        .map(|choice| GenerationRow {
            model_id: job.model.id,
            completion: choice.text.clone(),
            generation_time_ms: answer.generation_time_ms,
            shown_at: Utc::now(),
            confidence: choice.confidence,
            logprobs: choice.logprobs.clone(),
            provider: Some(answer.provider.clone()),
            stages: answer.stages,
        })
        .into_iter()
        .collect();
    let config = state.user_configs.get(&state.db, caller.user_id).await;
    let record = QueryRecord {
        query_id: outcome.query_id,
        user_id: caller.user_id,
        session_id: None,
        project_id: caller.project_id,
        client,
        api_key_id: caller.key_id,
        timestamp: created,
        total_serving_time_ms: i32::try_from(outcome.latency_ms).unwrap_or(i32::MAX),
        server_version_id: state.settings.version_id,
        config_id: config.map(|c| c.config_id),
        multi_file_context_changes_indexes: BTreeMap::new(),
        context: Some(context),
        contextual: None,
        behavioral: None,
        kind: QueryKind::Completion,
        generations,
    };
    state.pipeline.record(DbWrite::Query(Box::new(record))).await
}

/// Sentence embeddings of `inputs` (all-MiniLM-L6-v2, 384 dimensions) from a local worker.
pub async fn embed(state: &AppState, inputs: Vec<String>) -> Result<Vec<Vec<f32>>, GenerationError> {
    if !state.models.served().await.embeddings {
        return Err(GenerationError::Chain(ChainFailure::NoProvider(vec![(
            code4me_shared::providers::LOCAL_PROVIDER.to_owned(),
            format!("no live worker has the embedding model {EMBEDDING_MODEL} loaded"),
        )])));
    }
    let request_id = Uuid::new_v4();
    let task = LlmTask::Embed(EmbedTask { inputs: inputs.iter().map(|text| redact(text).into_owned()).collect() });
    let timeout = state.settings.open_api.timeout.min(Duration::from_secs(120));
    let ids = [EMBEDDING_MODEL_ID];
    let mut replies = state.pipeline.submit(request_id, &ids, &task, false, timeout).await.map_err(GenerationError::Unavailable)?;
    let mut guard = CancelOnDrop { task: None, query_id: request_id, state: state.clone(), finished: false };
    let outcome = state.pipeline.gather(request_id, &mut replies, &ids, timeout, |_, _, _| {}).await.into_iter().next();
    guard.finished = true;
    match outcome.map(|o| o.result) {
        Some(Ok(answer)) if answer.embeddings.len() == inputs.len() => Ok(answer.embeddings),
        Some(Ok(_)) => Err(GenerationError::Unavailable(anyhow::anyhow!("the worker answered a different number of vectors"))),
        Some(Err(Failure::ModelError(reason))) => Err(GenerationError::Chain(ChainFailure::Rejected(reason))),
        Some(Err(failure)) => {
            Err(GenerationError::Chain(ChainFailure::NoProvider(vec![(code4me_shared::providers::LOCAL_PROVIDER.to_owned(), failure.to_string())])))
        }
        None => Err(GenerationError::Unavailable(anyhow::anyhow!("no outcome"))),
    }
}
