//! The `llm` queue: model work, one job per requested model, so several models run in parallel on
//! different workers. The worker answers on the job's `reply_to` channel ([`crate::reply`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Job;
use crate::retrieval::RetrievalOptions;

/// Model work: one job per requested model, so several models run in parallel on different workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmJob {
    /// Payload version ([`Job::VERSION`]).
    pub version: u32,
    /// The request this answers (the query id for completions and chats).
    pub request_id: Uuid,
    /// The model to run.
    pub model_id: i64,
    /// Pub/sub channel of the server instance waiting for the answer
    /// ([`crate::redis_keys::reply_channel`]).
    pub reply_to: String,
    /// Publish every token as it is generated (WebSocket streaming).
    #[serde(default)]
    pub stream: bool,
    /// Unix milliseconds after which nobody waits for the answer: a job started later is dropped.
    pub deadline_ms: i64,
    /// Unix milliseconds when the server queued it (0 from an older server): the worker reports
    /// how long it waited.
    #[serde(default)]
    pub enqueued_ms: i64,
    /// What to generate.
    pub task: LlmTask,
}

/// What an [`LlmJob`] asks of its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LlmTask {
    /// A code completion at the caret.
    Completion(CompletionTask),
    /// A chat answer.
    Chat(ChatTask),
    /// Sentence embeddings of texts (all-MiniLM-L6-v2); `model_id` is ignored: the worker's
    /// embedding model answers. A worker older than this variant reads the job as unreadable.
    Embed(EmbedTask),
}

/// Per-request sampling choices of the open APIs; each `None` keeps the model row's default.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SamplingOverrides {
    /// Softmax temperature (`0` = greedy).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus mass.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// RNG seed; choice `i` of several draws with `seed + i`.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Independent answers to generate (OpenAI's `n`); `0` and `1` both mean one.
    #[serde(default)]
    pub choices: u32,
}

impl SamplingOverrides {
    /// How many answers to generate (at least one).
    pub fn choice_count(&self) -> u32 {
        self.choices.max(1)
    }
}

/// The embedding model every worker with retrieval serves, by its Hugging Face name.
pub const EMBEDDING_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The `model_id` an embedding job carries: no `model_name` row has it (ids start at 1).
pub const EMBEDDING_MODEL_ID: i64 = 0;

/// The vectors' length.
pub const EMBEDDING_DIMENSIONS: usize = 384;

/// Texts to embed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbedTask {
    /// The texts, in order; one vector each.
    pub inputs: Vec<String>,
}

/// A completion's prompt material, already redacted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompletionTask {
    /// Text before the caret.
    pub prefix: String,
    /// Text after the caret.
    pub suffix: String,
    /// The edited file's name.
    pub file_name: Option<String>,
    /// The project's other files for the prompt (name → redacted lines), chosen once by the server
    /// ([`crate::multi_file::select_context_files`]); the worker pastes them as they are.
    #[serde(default)]
    pub context_files: BTreeMap<String, Vec<String>>,
    /// Extra stop strings from the request.
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// New-token budget overriding the model row's.
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    /// The project, whose retrieval index is searched.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Add retrieved snippets of the project's files, within these limits (the user's config).
    #[serde(default)]
    pub retrieval: Option<RetrievalOptions>,
    /// Report the prompt and the retrieved snippets in the answer ([`crate::reply::Answer::debug`]).
    #[serde(default)]
    pub debug: bool,
    /// `prefix` is the whole prompt, used as it is: the row's completion template is not applied
    /// (an OpenAI-style completion without a `suffix`).
    #[serde(default)]
    pub raw_prompt: bool,
    /// Sampling choices of the request.
    #[serde(default)]
    pub sampling: SamplingOverrides,
}

/// A chat request's conversation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatTask {
    /// `(role, content)` in order.
    pub messages: Vec<(String, String)>,
    /// Ask the model for a conversation title.
    pub want_title: bool,
    /// Extra stop strings from the request.
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// New-token budget overriding the model row's.
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
    /// Sampling choices of the request.
    #[serde(default)]
    pub sampling: SamplingOverrides,
}

impl Job for LlmJob {
    const QUEUE: &'static str = "llm";
    const NAME: &'static str = "llm";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_keys::reply_channel;

    #[test]
    fn llm_jobs_round_trip_with_their_version_and_kind() {
        let job = LlmJob {
            version: LlmJob::VERSION,
            request_id: Uuid::nil(),
            model_id: 5,
            reply_to: reply_channel("a"),
            stream: false,
            deadline_ms: 1,
            enqueued_ms: 0,
            task: LlmTask::Chat(ChatTask { messages: vec![("user".into(), "hi".into())], want_title: true, ..ChatTask::default() }),
        };
        let json = serde_json::to_value(&job).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(json["task"]["kind"], "chat");
        assert_eq!(serde_json::from_value::<LlmJob>(json).expect("parses"), job);
    }
}
