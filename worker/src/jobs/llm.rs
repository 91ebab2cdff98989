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
use code4me_shared::jobs::llm::{CompletionTask, EmbedTask, LlmJob, LlmTask};
use code4me_shared::jobs::{Incoming, Job};
use code4me_shared::redaction::redact;
use code4me_shared::reply::{Answer, ChoiceAnswer, Failure, FinishReason, Reply, ReplyEvent, StageTimings};
use code4me_shared::retrieval::{PromptDebug, Snippet};
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use crate::model::catalog::{Catalog, LoadedModel, Overrides};
use crate::model::error::ModelError;
use crate::model::generation::{Generation, StopReason};
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
    let queue_wait_ms =
        (job.enqueued_ms > 0).then(|| chrono::Utc::now().timestamp_millis() - job.enqueued_ms).and_then(|waited| i32::try_from(waited.max(0)).ok());
    let mut event = match &job.task {
        LlmTask::Embed(task) => embed(&context, task).await,
        _ => match context.catalog.get(job.model_id) {
            Ok(model) => run(&context, &job, model).await,
            Err(error) => ReplyEvent::Failed(Failure::ModelUnavailable(error.to_string())),
        },
    };
    if let ReplyEvent::Done(answer) = &mut event {
        answer.stages.queue_wait_ms = queue_wait_ms;
    }
    publish(&context.redis, &job, event).await;
    Ok(())
}

/// One choice's generation, as the model thread hands it back.
struct Generated {
    generation: Generation,
    title: Option<String>,
    /// The text each token added.
    tokens: Vec<String>,
}

/// Runs the model on a blocking thread — once per requested choice — forwarding streamed tokens
/// as they come.
async fn run(context: &LlmContext, job: &LlmJob, model: Arc<LoadedModel>) -> ReplyEvent {
    let tracked = context.signals.track(job.request_id);
    let flag = tracked.flag.clone();
    let (tokens_tx, mut tokens_rx) = mpsc::unbounded_channel::<(u32, String)>();
    let stream = job.stream;
    let stable_anchor = context.prompt_anchor;
    let task = job.task.clone();
    let (retrieved, mut debug) = match &task {
        LlmTask::Completion(c) => retrieve(context, c, &model).await,
        _ => (Vec::new(), None),
    };
    let started = Instant::now();
    let model_name = model.name.clone();
    let generation = tokio::task::spawn_blocking(move || {
        let choices = match &task {
            LlmTask::Completion(c) => c.sampling.choice_count(),
            LlmTask::Chat(c) => c.sampling.choice_count(),
            LlmTask::Embed(_) => 0,
        };
        let mut generated = Vec::new();
        let mut first_token: Option<Duration> = None;
        for choice in 0..choices {
            let mut tokens = Vec::new();
            let mut on_token = |event: crate::model::generation::TokenEvent<'_>| {
                first_token.get_or_insert_with(|| started.elapsed());
                tokens.push(event.text.to_owned());
                if stream && !event.text.is_empty() {
                    let _ = tokens_tx.send((choice, event.text.to_owned()));
                }
            };
            let (generation, title) = match &task {
                LlmTask::Completion(c) => {
                    if choice == 0
                        && let Some(debug) = debug.as_mut()
                    {
                        debug.prompt = model.templates().completion_prompt(c, &retrieved, stable_anchor).unwrap_or_default();
                    }
                    (model.complete(c, &retrieved, stable_anchor, choice, &flag, &mut on_token)?, None)
                }
                LlmTask::Chat(c) => {
                    let messages: Vec<ChatMessage> =
                        c.messages.iter().map(|(role, content)| ChatMessage { role: role.clone(), content: content.clone() }).collect();
                    let overrides = Overrides::of_request(&c.stop_sequences, c.max_new_tokens, &c.sampling, choice);
                    let answer = model.chat(&messages, c.want_title && choice == 0, &overrides, &flag, &mut on_token)?;
                    (Generation { text: answer.text, ..answer.generation }, Some(answer.title))
                }
                LlmTask::Embed(_) => unreachable!("embedding jobs do not run a text model"),
            };
            generated.push(Generated { generation, title, tokens });
            if flag.load(Ordering::Relaxed) {
                break;
            }
        }
        Ok::<_, ModelError>((generated, debug, first_token))
    });
    let forward = async {
        while let Some((choice, text)) = tokens_rx.recv().await {
            publish(&context.redis, job, ReplyEvent::Token { text: redact(&text).into_owned(), choice }).await;
        }
    };
    let (result, ()) = tokio::join!(generation, forward);
    let cancelled = tracked.flag.load(Ordering::Relaxed);
    match result {
        _ if cancelled => ReplyEvent::Failed(Failure::Cancelled),
        Ok(Ok((generated, debug, first_token))) => {
            let mut answer = answer(context, model_name, generated, started.elapsed(), debug);
            answer.stages.first_token_ms = first_token.and_then(|t| i32::try_from(t.as_millis()).ok());
            ReplyEvent::Done(Box::new(answer))
        }
        Ok(Err(error)) => ReplyEvent::Failed(Failure::ModelError(error.to_string())),
        Err(panic) => ReplyEvent::Failed(Failure::WorkerError(format!("the model thread failed: {panic}"))),
    }
}

/// The answer of every choice: choice 0 in the answer's own fields, the others after it.
fn answer(context: &LlmContext, model_name: String, generated: Vec<Generated>, took: Duration, debug: Option<PromptDebug>) -> Answer {
    let mut choices = generated.into_iter().map(|g| {
        let prompt_tokens = u32::try_from(g.generation.prompt_tokens).unwrap_or(u32::MAX);
        let choice = ChoiceAnswer {
            text: redact(&g.generation.text).into_owned(),
            confidence: f64::from(g.generation.confidence),
            logprobs: g.generation.logprobs.iter().map(|&l| f64::from(l)).collect(),
            tokens: g.tokens.iter().map(|t| redact(t).into_owned()).collect(),
            completion_tokens: u32::try_from(g.generation.tokens.len()).unwrap_or(u32::MAX),
            finish_reason: if g.generation.stop_reason == StopReason::Length { FinishReason::Length } else { FinishReason::Stop },
        };
        (choice, g.title, prompt_tokens)
    });
    let (first, title, prompt_tokens) = choices.next().unwrap_or_else(|| {
        (
            ChoiceAnswer {
                text: String::new(),
                confidence: 0.0,
                logprobs: Vec::new(),
                tokens: Vec::new(),
                completion_tokens: 0,
                finish_reason: FinishReason::Stop,
            },
            None,
            0,
        )
    });
    Answer {
        model_name,
        text: first.text,
        generation_time_ms: i32::try_from(took.as_millis()).unwrap_or(i32::MAX),
        confidence: first.confidence,
        logprobs: first.logprobs,
        title,
        worker: context.worker.clone(),
        debug,
        prompt_tokens,
        completion_tokens: first.completion_tokens,
        finish_reason: first.finish_reason,
        tokens: first.tokens,
        more_choices: choices.map(|(choice, _, _)| choice).collect(),
        embeddings: Vec::new(),
        stages: StageTimings::default(),
    }
}

/// An embedding job: the worker's embedding model, whatever the job's model id.
async fn embed(context: &LlmContext, task: &EmbedTask) -> ReplyEvent {
    let Some(retriever) = &context.retriever else {
        return ReplyEvent::Failed(Failure::ModelUnavailable("the embedding model (all-MiniLM-L6-v2) is not loaded on this worker".into()));
    };
    let started = Instant::now();
    match retriever.embed(task.inputs.clone()).await {
        Ok(embeddings) => ReplyEvent::Done(Box::new(Answer {
            model_name: code4me_shared::jobs::llm::EMBEDDING_MODEL.to_owned(),
            text: String::new(),
            generation_time_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            confidence: 0.0,
            logprobs: Vec::new(),
            title: None,
            worker: context.worker.clone(),
            debug: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            finish_reason: FinishReason::Stop,
            tokens: Vec::new(),
            more_choices: Vec::new(),
            embeddings,
            stages: StageTimings::default(),
        })),
        Err(error) => ReplyEvent::Failed(Failure::ModelError(error.to_string())),
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
