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
}

/// A chat request's conversation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatTask {
    /// `(role, content)` in order.
    pub messages: Vec<(String, String)>,
    /// Ask the model for a conversation title.
    pub want_title: bool,
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
            task: LlmTask::Chat(ChatTask { messages: vec![("user".into(), "hi".into())], want_title: true }),
        };
        let json = serde_json::to_value(&job).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(json["task"]["kind"], "chat");
        assert_eq!(serde_json::from_value::<LlmJob>(json).expect("parses"), job);
    }
}
