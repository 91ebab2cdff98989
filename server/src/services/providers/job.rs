//! What the provider chain passes to each provider and gets back: the job (model, redacted
//! prompt, sampling), the answer with its choices, and why a provider failed.

use code4me_shared::reply::FinishReason;
use uuid::Uuid;

use crate::services::model_directory::ModelEntry;

/// Streamed text: the choice it belongs to and the text.
pub type TokenSink<'a> = &'a mut (dyn FnMut(u32, &str) + Send);

/// A chat message's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person asking.
    User,
    /// The model's earlier answers.
    Assistant,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// What to generate from, already redacted.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Code at a caret: FIM with the model row's template, or the prefix continued as it is.
    Completion {
        /// Text before the caret (the whole prompt when `raw`).
        prefix: String,
        /// Text after the caret.
        suffix: String,
        /// The edited file's name, for templates that name it.
        file_name: Option<String>,
        /// Use `prefix` as the prompt, without the row's template.
        raw: bool,
    },
    /// A conversation.
    Chat {
        /// The messages, in order.
        messages: Vec<Message>,
    },
}

impl Prompt {
    /// Characters the caller sent (what `max_prompt_chars` bounds).
    pub fn chars(&self) -> usize {
        match self {
            Self::Completion { prefix, suffix, .. } => prefix.chars().count() + suffix.chars().count(),
            Self::Chat { messages } => messages.iter().map(|m| m.content.chars().count()).sum(),
        }
    }
}

/// Sampling and length choices of a request; `None` keeps the model's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationOptions {
    /// New-token budget.
    pub max_tokens: Option<usize>,
    /// Temperature (`0` = greedy).
    pub temperature: Option<f32>,
    /// Nucleus mass.
    pub top_p: Option<f32>,
    /// RNG seed.
    pub seed: Option<u64>,
    /// Strings that end the generation.
    pub stop: Vec<String>,
    /// Independent answers (at least one).
    pub n: u32,
}

/// One request for a provider.
#[derive(Debug, Clone)]
pub struct ProviderJob {
    /// The request (the query id of its telemetry; the local workers' cancellation key).
    pub request_id: Uuid,
    /// The model row asked for.
    pub model: ModelEntry,
    /// What to generate from.
    pub prompt: Prompt,
    /// Sampling and length.
    pub options: GenerationOptions,
    /// Stream tokens as they come.
    pub stream: bool,
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The text (redacted).
    pub text: String,
    /// Mean token probability (0 when the provider reports none).
    pub confidence: f64,
    /// Per-token log-probabilities (empty when the provider reports none).
    pub logprobs: Vec<f64>,
    /// The text each token added, beside `logprobs`.
    pub tokens: Vec<String>,
    /// Why it ended.
    pub finish_reason: FinishReason,
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub struct ProviderAnswer {
    /// Which provider answered (`local` or a configured name).
    pub provider: String,
    /// The model's name as the client asked for it.
    pub model: String,
    /// The answers, in order (`n` of them).
    pub choices: Vec<Choice>,
    /// Prompt tokens read.
    pub prompt_tokens: u32,
    /// Tokens generated over all choices.
    pub completion_tokens: u32,
    /// Milliseconds the provider took.
    pub generation_time_ms: i32,
    /// Queue wait and time to the first token, where the provider reports them (the local
    /// workers do; a remote provider's are unknown).
    pub stages: code4me_shared::reply::StageTimings,
}

/// Why one provider did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// Timeout, 5xx, connection error: the next provider may answer, and the provider's circuit
    /// counts it.
    Unavailable(String),
    /// The provider does not serve this model now (no live worker has it loaded): the next
    /// provider is asked, and nothing counts against this one's circuit.
    NotServed(String),
    /// The request itself was refused (e.g. too long for the model's context): no other provider
    /// is tried.
    Rejected(String),
    /// The client went away.
    Cancelled,
}
