//! The reply protocol: what a worker publishes on the requesting server's channel
//! ([`reply_channel`]) while and after it runs an [`LlmJob`] — started, streamed tokens, the answer,
//! or a typed [`Failure`].
//!
//! Replies are pub/sub messages, never stored, but servers and workers of two releases talk to each
//! other during a rolling deploy: a failure keeps its `reason` text beside its typed
//! `failure` kind, so an older server still reads the text and this one reads an older worker's
//! text-only failure ([`Failure::from_legacy_reason`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(doc)]
use crate::jobs::llm::LlmJob;
#[cfg(doc)]
use crate::redis_keys::reply_channel;
use crate::retrieval::PromptDebug;

/// What a worker publishes on a [`reply_channel`] while and after running an [`LlmJob`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The job's `request_id`.
    pub request_id: Uuid,
    /// The job's `model_id`.
    pub model_id: i64,
    /// What happened.
    pub event: ReplyEvent,
}

/// One step of a job's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReplyEvent {
    /// A worker took the job.
    Started {
        /// The worker's name.
        worker: String,
    },
    /// Streamed text (only when the job asked for streaming).
    Token {
        /// Text the token added.
        text: String,
        /// Which of the request's choices it belongs to (`0` unless several were asked for).
        #[serde(default)]
        choice: u32,
    },
    /// The finished answer.
    Done(Box<Answer>),
    /// The model did not answer, and why.
    Failed(Failure),
}

/// A model's finished answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// `model_name` of the model.
    pub model_name: String,
    /// Generated text, redacted.
    pub text: String,
    /// Milliseconds the model took.
    pub generation_time_ms: i32,
    /// Mean token probability.
    pub confidence: f64,
    /// Per-token log-probabilities.
    pub logprobs: Vec<f64>,
    /// Chat title, when one was asked for.
    pub title: Option<String>,
    /// The worker that ran it.
    pub worker: String,
    /// The prompt and retrieved snippets, when the task asked for them.
    #[serde(default)]
    pub debug: Option<PromptDebug>,
    /// Tokens of the prompt the model read.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Tokens generated for this answer (choice 0).
    #[serde(default)]
    pub completion_tokens: u32,
    /// Why generation ended (choice 0).
    #[serde(default)]
    pub finish_reason: FinishReason,
    /// The text each generated token added, in order (choice 0), for per-token log-probabilities.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Choices 1.. when the task asked for several (choice 0 is the answer's own fields).
    #[serde(default)]
    pub more_choices: Vec<ChoiceAnswer>,
    /// One vector per input of an embedding task.
    #[serde(default)]
    pub embeddings: Vec<Vec<f32>>,
    /// Where the time went before and inside the model (absent from an older worker).
    #[serde(default)]
    pub stages: StageTimings,
}

/// A generation's latency by stage, in milliseconds; `None` where unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StageTimings {
    /// From the server queueing the job to a worker starting it (clocks of two machines: as good
    /// as their synchronisation).
    pub queue_wait_ms: Option<i32>,
    /// From the model starting to its first token: reading the prompt (prefill) and one step.
    pub first_token_ms: Option<i32>,
}

/// One further choice of a task that asked for several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceAnswer {
    /// Generated text, redacted.
    pub text: String,
    /// Mean token probability.
    pub confidence: f64,
    /// Per-token log-probabilities.
    pub logprobs: Vec<f64>,
    /// The text each token added.
    pub tokens: Vec<String>,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Why generation ended.
    pub finish_reason: FinishReason,
}

/// Why a generation ended, in OpenAI's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An end token or a stop sequence.
    #[default]
    Stop,
    /// The new-token budget ran out.
    Length,
}

impl FinishReason {
    /// The wire name (`stop`, `length`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// Why a model did not answer a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "FailureWire", from = "FailureWire")]
pub enum Failure {
    /// The request was cancelled (superseded or abandoned) while the model ran.
    #[error("cancelled")]
    Cancelled,
    /// The worker serves no model with this id (unknown id, weights missing, unsupported runtime).
    #[error("{0}")]
    ModelUnavailable(String),
    /// The model could not answer this request (prompt too long for its context, a runtime error).
    #[error("{0}")]
    ModelError(String),
    /// The model thread failed (a panic): a bug of the worker, not of the request.
    #[error("{0}")]
    WorkerError(String),
    /// The job's payload is of a version this worker does not read.
    #[error("{0}")]
    UnsupportedJob(String),
    /// No answer came in time (decided by the waiting server, which then cancels the job).
    #[error("{0}")]
    TimedOut(String),
}

impl Failure {
    /// A failure from a worker that published only text: `"cancelled"` is what such workers sent
    /// for a cancellation; any other text is a model error.
    pub fn from_legacy_reason(reason: String) -> Self {
        if reason == "cancelled" { Self::Cancelled } else { Self::ModelError(reason) }
    }

    fn kind(&self) -> FailureKind {
        match self {
            Self::Cancelled => FailureKind::Cancelled,
            Self::ModelUnavailable(_) => FailureKind::ModelUnavailable,
            Self::ModelError(_) => FailureKind::ModelError,
            Self::WorkerError(_) => FailureKind::WorkerError,
            Self::UnsupportedJob(_) => FailureKind::UnsupportedJob,
            Self::TimedOut(_) => FailureKind::TimedOut,
        }
    }
}

/// A [`Failure`] on the wire: `{"failure": "<kind>", "reason": "<text>"}`, inside the reply's
/// `{"event": "failed"}` object.
#[derive(Serialize, Deserialize)]
struct FailureWire {
    /// The kind; absent in replies of workers that predate it.
    #[serde(default)]
    failure: Option<FailureKind>,
    /// Text for logs (and the whole failure for servers that predate `failure`).
    reason: String,
}

/// [`Failure`]'s variants without their text.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    Cancelled,
    ModelUnavailable,
    ModelError,
    WorkerError,
    UnsupportedJob,
    TimedOut,
    /// A kind from a newer worker: read as a model error rather than dropping the reply.
    #[serde(other)]
    Unknown,
}

impl From<Failure> for FailureWire {
    fn from(failure: Failure) -> Self {
        Self { failure: Some(failure.kind()), reason: failure.to_string() }
    }
}

impl From<FailureWire> for Failure {
    fn from(wire: FailureWire) -> Self {
        let reason = wire.reason;
        match wire.failure {
            None => Self::from_legacy_reason(reason),
            Some(FailureKind::Cancelled) => Self::Cancelled,
            Some(FailureKind::ModelUnavailable) => Self::ModelUnavailable(reason),
            Some(FailureKind::ModelError | FailureKind::Unknown) => Self::ModelError(reason),
            Some(FailureKind::WorkerError) => Self::WorkerError(reason),
            Some(FailureKind::UnsupportedJob) => Self::UnsupportedJob(reason),
            Some(FailureKind::TimedOut) => Self::TimedOut(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failed(failure: Failure) -> Reply {
        Reply { request_id: Uuid::nil(), model_id: 5, event: ReplyEvent::Failed(failure) }
    }

    #[test]
    fn failures_keep_their_text_beside_their_kind_and_round_trip() {
        let wire = serde_json::to_value(failed(Failure::ModelUnavailable("model 7 is not available".into()))).expect("json");
        assert_eq!(
            wire,
            json!({"request_id": Uuid::nil(), "model_id": 5, "event": {"event": "failed", "failure": "model_unavailable", "reason": "model 7 is not available"}})
        );
        for failure in [
            Failure::Cancelled,
            Failure::ModelUnavailable("a".into()),
            Failure::ModelError("b".into()),
            Failure::WorkerError("c".into()),
            Failure::UnsupportedJob("d".into()),
            Failure::TimedOut("e".into()),
        ] {
            let text = serde_json::to_string(&failed(failure.clone())).expect("json");
            assert_eq!(serde_json::from_str::<Reply>(&text).expect("parses"), failed(failure));
        }
    }

    #[test]
    fn text_only_failures_of_older_workers_are_still_read() {
        let old = |reason: &str| json!({"request_id": Uuid::nil(), "model_id": 5, "event": {"event": "failed", "reason": reason}});
        let read = |value| serde_json::from_value::<Reply>(value).expect("parses").event;
        assert_eq!(read(old("cancelled")), ReplyEvent::Failed(Failure::Cancelled));
        assert_eq!(read(old("prompt too long")), ReplyEvent::Failed(Failure::ModelError("prompt too long".into())));
        let newer = json!({"request_id": Uuid::nil(), "model_id": 5, "event": {"event": "failed", "failure": "out_of_memory", "reason": "oom"}});
        assert_eq!(read(newer), ReplyEvent::Failed(Failure::ModelError("oom".into())));
    }
}
