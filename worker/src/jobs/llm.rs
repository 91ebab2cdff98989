//! The `llm` queue's handler: runs one model for one request and publishes the answer (and, when
//! asked, every token) on the requesting server's reply channel.
//!
//! Idempotent: a job that runs twice (its first worker died after publishing) publishes a second
//! answer that the server ignores. A job nobody waits for any more — past its deadline, or
//! cancelled before it started — is dropped without running the model.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use apalis::prelude::{AbortError, BoxDynError, Data};
use code4me_shared::cancellation;
use code4me_shared::jobs::llm::{CompletionTask, LlmJob, LlmTask};
use code4me_shared::jobs::{Incoming, Job};
use code4me_shared::redaction::redact;
use code4me_shared::reply::{Answer, Failure, Reply, ReplyEvent};
use code4me_shared::retrieval::{PromptDebug, Snippet};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use crate::model::catalog::{Catalog, LoadedModel, Overrides};
use crate::model::generation::Generation;
use crate::model::prompt::ChatMessage;
use crate::retrieval::{RetrievalError, Retriever};
use crate::signals::Signals;

/// Longest a completion waits for its retrieved snippets (PostgreSQL away, a busy machine) before
/// answering without them.
const RETRIEVAL_TIMEOUT: Duration = Duration::from_secs(2);

/// What every `llm` job handler shares.
#[derive(Clone)]
pub struct LlmContext {
    /// The loaded models.
    pub catalog: Arc<Catalog>,
    /// For replies and cancellation checks.
    pub redis: ConnectionManager,
    /// Cancellation flags.
    pub signals: Signals,
    /// This worker's name, reported in answers.
    pub worker: String,
    /// Start sliding-window prefixes at a stable anchor (`PROMPT_ANCHOR`).
    pub prompt_anchor: bool,
    /// The retrieval index; `None` when the embedding model is not loaded.
    pub retriever: Option<Retriever>,
}

/// Handles one `llm` job. Only a payload this build cannot read is an error (aborted: the dead
/// set, never apalis' 25 retries); model failures are answers.
pub async fn handle(incoming: Incoming<LlmJob>, context: Data<LlmContext>) -> Result<(), BoxDynError> {
    let context = (*context).clone();
    let job = match incoming {
        Incoming::Job(job) => job,
        Incoming::Unreadable { payload, error } => {
            tracing::error!(%payload, %error, "unreadable llm job; moved to the dead set");
            return Err(AbortError::new(error).into());
        }
    };
    if job.version() != LlmJob::VERSION {
        let reason = format!("llm job version {} is not supported by this worker (expects {})", job.version, LlmJob::VERSION);
        publish(&context.redis, &job, ReplyEvent::Failed(Failure::UnsupportedJob(reason.clone()))).await;
        return Err(AbortError::new(reason).into());
    }
    if chrono::Utc::now().timestamp_millis() > job.deadline_ms {
        tracing::info!(request_id = %job.request_id, "dropping a job whose requester stopped waiting");
        return Ok(());
    }
    let mut redis = context.redis.clone();
    // Unknown (Redis away for a moment) counts as not cancelled: the job runs, as it would have.
    if cancellation::is_marked(&mut redis, job.request_id).await.unwrap_or(false) {
        tracing::info!(request_id = %job.request_id, "dropping a job cancelled before it started");
        return Ok(());
    }
    publish(&context.redis, &job, ReplyEvent::Started { worker: context.worker.clone() }).await;
    let event = match context.catalog.get(job.model_id) {
        Ok(model) => run(&context, &job, model).await,
        Err(error) => ReplyEvent::Failed(Failure::ModelUnavailable(error.to_string())),
    };
    publish(&context.redis, &job, event).await;
    Ok(())
}

/// Runs the model on a blocking thread, forwarding streamed tokens as they come.
async fn run(context: &LlmContext, job: &LlmJob, model: Arc<LoadedModel>) -> ReplyEvent {
    let tracked = context.signals.track(job.request_id);
    let flag = tracked.flag.clone();
    let (tokens_tx, mut tokens_rx) = mpsc::unbounded_channel::<String>();
    let stream = job.stream;
    let stable_anchor = context.prompt_anchor;
    let task = job.task.clone();
    let (retrieved, mut debug) = match &task {
        LlmTask::Completion(c) => retrieve(context, c, &model).await,
        LlmTask::Chat(_) => (Vec::new(), None),
    };
    let started = Instant::now();
    let generation = tokio::task::spawn_blocking(move || {
        let mut on_token = |event: crate::model::generation::TokenEvent<'_>| {
            if stream && !event.text.is_empty() {
                let _ = tokens_tx.send(event.text.to_owned());
            }
        };
        match task {
            LlmTask::Completion(c) => {
                if let Some(debug) = debug.as_mut() {
                    debug.prompt = model.templates().completion_prompt(&c, &retrieved, stable_anchor).unwrap_or_default();
                }
                model.complete(&c, &retrieved, stable_anchor, &flag, &mut on_token).map(|g| (model.name.clone(), g, None, debug))
            }
            LlmTask::Chat(c) => {
                let messages: Vec<ChatMessage> = c.messages.into_iter().map(|(role, content)| ChatMessage { role, content }).collect();
                model
                    .chat(&messages, c.want_title, &Overrides::default(), &flag, &mut on_token)
                    .map(|answer| (model.name.clone(), Generation { text: answer.text, ..answer.generation }, Some(answer.title), None))
            }
        }
    });
    let forward = async {
        while let Some(text) = tokens_rx.recv().await {
            publish(&context.redis, job, ReplyEvent::Token { text: redact(&text).into_owned() }).await;
        }
    };
    let (result, ()) = tokio::join!(generation, forward);
    let cancelled = tracked.flag.load(Ordering::Relaxed);
    match result {
        _ if cancelled => ReplyEvent::Failed(Failure::Cancelled),
        Ok(Ok((model_name, generation, title, debug))) => ReplyEvent::Done(Box::new(Answer {
            model_name,
            text: redact(&generation.text).into_owned(),
            generation_time_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            confidence: f64::from(generation.confidence),
            logprobs: generation.logprobs.iter().map(|&l| f64::from(l)).collect(),
            title,
            worker: context.worker.clone(),
            debug,
        })),
        Ok(Err(error)) => ReplyEvent::Failed(Failure::ModelError(error.to_string())),
        Err(panic) => ReplyEvent::Failed(Failure::WorkerError(format!("the model thread failed: {panic}"))),
    }
}

/// The retrieved snippets for a completion (none unless its config enables retrieval), and the
/// debug report to fill in when the task asks for one. Retrieval never fails a completion: when
/// the index cannot be searched the model answers without snippets and the report says why.
async fn retrieve(context: &LlmContext, task: &CompletionTask, model: &LoadedModel) -> (Vec<Snippet>, Option<PromptDebug>) {
    let mut report = PromptDebug { retrieval_enabled: task.retrieval.is_some(), ..PromptDebug::default() };
    let (Some(options), Some(project_id)) = (task.retrieval, task.project_id) else {
        return (Vec::new(), task.debug.then_some(report));
    };
    let mut snippets = Vec::new();
    if !model.templates().has_context_slot() {
        report.note = Some(format!("{}'s prompt template has no place for other files' text", model.name));
    } else if let Some(retriever) = &context.retriever {
        let mut exclude: Vec<String> = task.context_files.keys().cloned().collect();
        exclude.extend(task.file_name.clone());
        let started = Instant::now();
        let found = tokio::time::timeout(RETRIEVAL_TIMEOUT, retriever.search(project_id, &task.prefix, &exclude, &options)).await;
        report.retrieval_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match found.unwrap_or_else(|_| Err(RetrievalError::TimedOut(RETRIEVAL_TIMEOUT))) {
            Ok(found) => {
                tracing::debug!(
                    %project_id,
                    snippets = ?found.snippets.iter().map(|s| (&s.file_name, s.start_line, s.score)).collect::<Vec<_>>(),
                    note = ?found.note,
                    "retrieval"
                );
                report.retrieval_query = found.query;
                report.retrieval_reused = found.reused;
                report.note = found.note;
                snippets = found.snippets;
            }
            Err(error) => {
                tracing::warn!(%error, %project_id, "retrieval failed; completing without snippets");
                report.note = Some(format!("retrieval failed: {error}"));
            }
        }
    } else {
        report.note = Some("the embedding model (all-MiniLM-L6-v2) is not loaded on this worker".into());
    }
    if task.debug {
        report.snippets = snippets.clone();
        (snippets, Some(report))
    } else {
        (snippets, None)
    }
}

/// Publishes one reply; retried briefly, because a reply lost to a Redis blip leaves the client
/// waiting for its timeout.
async fn publish(redis: &ConnectionManager, job: &LlmJob, event: ReplyEvent) {
    let reply = Reply { request_id: job.request_id, model_id: job.model_id, event };
    let payload = serde_json::to_string(&reply).expect("a Reply always serialises");
    let mut redis = redis.clone();
    for attempt in 0..3 {
        match redis::cmd("PUBLISH").arg(&job.reply_to).arg(&payload).query_async::<i64>(&mut redis).await {
            Ok(_) => return,
            Err(error) if attempt == 2 => tracing::warn!(%error, request_id = %job.request_id, "could not publish a reply"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}
