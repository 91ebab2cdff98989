//! Job payloads of the two queues and the messages that come back over pub/sub.
//!
//! `llm` carries model work ([`LlmJob`]), `db` carries telemetry writes ([`DbJob`]). Payloads are
//! JSON with a `version` field: a worker that meets a version it does not know aborts the job (dead
//! set, no retries) instead of guessing, so a rolling deploy never half-reads a payload. New optional
//! fields get `#[serde(default)]` and keep the version; anything else bumps it.
//!
//! Every handler is idempotent (delivery is at-least-once): model jobs are keyed by
//! `(request_id, model_id)` and the server ignores a second answer; telemetry rows are keyed by
//! their ids and written with `ON CONFLICT DO NOTHING`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::retrieval::{PromptDebug, RetrievalOptions};

/// A queue's job type.
pub trait Job: Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The apalis queue (an explicit name: apalis' default is the Rust type name, which moves
    /// the queue when a module is renamed).
    const QUEUE: &'static str;
    /// A name for logs and metrics.
    const NAME: &'static str;
    /// The payload version this build writes and reads.
    const VERSION: u32;
    /// The version a received payload carries.
    fn version(&self) -> u32;
}

/// Model work: one job per requested model, so several models run in parallel on different workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmJob {
    /// Payload version ([`Job::VERSION`]).
    pub version: u32,
    /// The request this answers (the query id for completions and chats).
    pub request_id: Uuid,
    /// The model to run.
    pub model_id: i64,
    /// Pub/sub channel of the server instance waiting for the answer ([`reply_channel`]).
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
    /// The project's other files selected for the prompt (name → lines).
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
    /// Report the prompt and the retrieved snippets in the answer ([`Answer::debug`]).
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

/// Telemetry writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbJob {
    /// Payload version ([`Job::VERSION`]).
    pub version: u32,
    /// What to write.
    pub write: DbWrite,
}

impl Job for DbJob {
    const QUEUE: &'static str = "db";
    const NAME: &'static str = "db";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.version
    }
}

impl DbJob {
    /// A job of the current version.
    pub fn new(write: DbWrite) -> Self {
        Self { version: Self::VERSION, write }
    }
}

/// One unit of telemetry; each is written in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum DbWrite {
    /// A completion or chat query with everything it produced.
    Query(Box<QueryRecord>),
    /// Acceptance (and ground truth) of one model's completion.
    Feedback(FeedbackRecord),
    /// New contents of project files for the retrieval index.
    IndexFiles(IndexFilesRecord),
}

/// Project files whose retrieval chunks must be brought up to date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexFilesRecord {
    /// The project.
    pub project_id: Uuid,
    /// File name → its contents now.
    pub files: BTreeMap<String, FileContents>,
}

/// One file's contents at a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileContents {
    /// How many change records produced these lines: jobs may run out of order, and an older
    /// version never replaces a newer one.
    pub version: i64,
    /// Redacted lines; empty when the file left the context (its chunks are dropped).
    pub lines: Vec<String>,
}

/// A query's rows: `meta_query` + `completion_query`/`chat_query`, its context and telemetry (as
/// the `store_*` flags allow) and one `had_generation` per model that answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// `meta_query_id`.
    pub query_id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// When the request arrived.
    pub timestamp: DateTime<Utc>,
    /// Milliseconds from arrival to answer.
    pub total_serving_time_ms: i32,
    /// `SERVER_VERSION_ID`.
    pub server_version_id: i64,
    /// The config that served the query (the user's when it arrived): a study's exposure log.
    #[serde(default)]
    pub config_id: Option<i64>,
    /// `{file: number of changes}` of the multi-file context used.
    pub multi_file_context_changes_indexes: BTreeMap<String, usize>,
    /// Redacted context, when `store_context`.
    pub context: Option<ContextRow>,
    /// Contextual telemetry, when `store_contextual_telemetry`.
    pub contextual: Option<ContextualRow>,
    /// Behavioral telemetry, when `store_behavioral_telemetry`.
    pub behavioral: Option<BehavioralRow>,
    /// Completion or chat specifics.
    pub kind: QueryKind,
    /// One per model that answered.
    pub generations: Vec<GenerationRow>,
}

/// Whether a query was a completion or a chat turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QueryKind {
    /// `completion_query`.
    Completion,
    /// `chat_query` (and the `chat` row: the server claims it when the turn starts, the worker
    /// creates it when that claim is missing and never attaches the turn to another owner's chat).
    Chat {
        /// The conversation.
        chat_id: Uuid,
        /// Title for a new conversation (replaces [`UNTITLED_CHAT`], never a real title).
        title: String,
        /// `web_enabled` as sent.
        web_enabled: bool,
        /// What the user asked (upstream keeps only the editor prefix and shows that instead).
        user_message: String,
    },
}

/// The title of a chat row the server claimed for a turn still on its way: the worker replaces it
/// with the turn's title; a real title is never empty.
pub const UNTITLED_CHAT: &str = "";

/// `context` row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContextRow {
    /// Redacted prefix.
    pub prefix: String,
    /// Redacted suffix.
    pub suffix: String,
    /// File name.
    pub file_name: Option<String>,
    /// Redacted selection.
    pub selected_text: Option<String>,
}

/// `contextual_telemetry` row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContextualRow {
    /// `plugin_version` id.
    pub version_id: i64,
    /// `trigger_type` id.
    pub trigger_type_id: i64,
    /// `programming_language` id.
    pub language_id: i64,
    /// File path.
    pub file_path: Option<String>,
    /// Caret line.
    pub caret_line: Option<i32>,
    /// Document length in characters.
    pub document_char_length: Option<i32>,
    /// Caret position, 0..1.
    pub relative_document_position: Option<f64>,
}

/// `behavioral_telemetry` row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BehavioralRow {
    /// ms since a completion was last shown.
    pub time_since_last_shown: Option<i64>,
    /// ms since a completion was last accepted.
    pub time_since_last_accepted: Option<i64>,
    /// Characters per second.
    pub typing_speed: Option<f64>,
}

/// `had_generation` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRow {
    /// The model.
    pub model_id: i64,
    /// Redacted output.
    pub completion: String,
    /// Milliseconds the model took.
    pub generation_time_ms: i32,
    /// When it was shown (the answer's time).
    pub shown_at: DateTime<Utc>,
    /// Mean token probability.
    pub confidence: f64,
    /// Per-token log-probabilities.
    pub logprobs: Vec<f64>,
}

/// Feedback on one model's completion: `was_accepted`, and `ground_truth` when sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    /// The completion query.
    pub query_id: Uuid,
    /// The model.
    pub model_id: i64,
    /// Whether the user accepted it.
    pub was_accepted: bool,
    /// What the user finally typed (redacted).
    pub ground_truth: Option<String>,
    /// When the server received it (part of the ground truth's key, so a retry is a no-op).
    pub received_at: DateTime<Utc>,
}

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
    },
    /// The finished answer.
    Done(Box<Answer>),
    /// The model could not answer (unknown or unavailable model, prompt too long, cancelled).
    Failed {
        /// Why, for logs and clients.
        reason: String,
    },
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
}

/// What a consumer takes off a queue: the job, or a payload this build cannot decode.
///
/// apalis-redis treats a payload that fails to decode as a backend error and stops the consumer;
/// restarted, it meets the same payload first and stops again, so one bad job would block its queue
/// for good. Consumers therefore read this type, which always decodes, and abort the unreadable
/// payload (the dead set) with a log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<J> {
    /// A job of this build's shape.
    Job(J),
    /// Anything else, kept as JSON.
    Unreadable {
        /// The payload.
        payload: serde_json::Value,
        /// Why it is not a `J`.
        error: String,
    },
}

impl<'de, J: serde::de::DeserializeOwned> Deserialize<'de> for Incoming<J> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = serde_json::Value::deserialize(deserializer)?;
        Ok(match J::deserialize(&payload) {
            Ok(job) => Self::Job(job),
            Err(error) => Self::Unreadable { payload, error: error.to_string() },
        })
    }
}

impl<J: Serialize> Serialize for Incoming<J> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Job(job) => job.serialize(serializer),
            Self::Unreadable { payload, .. } => payload.serialize(serializer),
        }
    }
}

/// Channel a server instance receives its replies on.
pub fn reply_channel(instance_id: &str) -> String {
    format!("replies:{instance_id}")
}

/// Channel that wakes idle consumers of `queue` right after a push (apalis-redis otherwise
/// picks a pushed job up only on its next poll).
pub fn wake_channel(queue: &str) -> String {
    format!("wake:{queue}")
}

/// Channel carrying the ids of requests to cancel (superseded or abandoned).
pub const CANCEL_CHANNEL: &str = "cancel";

/// `cancelled:<request_id>` → `""`, so a cancelled job that has not started yet is dropped when a
/// worker takes it; lives [`CANCELLED_TTL_SECONDS`].
pub const CANCELLED_KEY: &str = "cancelled:";

/// Lifetime of a [`CANCELLED_KEY`]: longer than any request timeout.
pub const CANCELLED_TTL_SECONDS: u64 = 600;

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_payload_of_another_shape_arrives_as_unreadable_instead_of_failing_to_decode() {
        let raw = r#"{"version":1,"write":{"write":"vacuum"}}"#;
        assert!(serde_json::from_str::<DbJob>(raw).is_err());
        let incoming: Incoming<DbJob> = serde_json::from_str(raw).expect("always decodes");
        assert!(matches!(incoming, Incoming::Unreadable { ref error, .. } if error.contains("vacuum")), "{incoming:?}");
    }

    #[test]
    fn a_query_record_round_trips_through_its_db_job() {
        let record = QueryRecord {
            query_id: Uuid::nil(),
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            project_id: Uuid::nil(),
            timestamp: DateTime::<Utc>::UNIX_EPOCH,
            total_serving_time_ms: 1,
            server_version_id: 1,
            config_id: Some(1),
            multi_file_context_changes_indexes: BTreeMap::from([("a.py".to_owned(), 2)]),
            context: Some(ContextRow::default()),
            contextual: None,
            behavioral: None,
            kind: QueryKind::Chat { chat_id: Uuid::nil(), title: "t".into(), web_enabled: false, user_message: "hi".into() },
            generations: Vec::new(),
        };
        let job = DbJob::new(DbWrite::Query(Box::new(record)));
        let text = serde_json::to_string(&job).expect("json");
        assert_eq!(serde_json::from_str::<Incoming<DbJob>>(&text).expect("decodes"), Incoming::Job(job));
    }
}
