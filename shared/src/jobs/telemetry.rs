//! The `db` queue: telemetry writes — a query's rows and feedback — committed by the worker in
//! batched transactions. Nothing here waits for a model or the embedding model.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Job;
use super::index::IndexFilesRecord;
use crate::reply::StageTimings;

/// Telemetry writes: the `db` queue (its name predates the other queues and never changes).
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
    /// A write takes milliseconds, and the batching writer commits what arrives together.
    const FETCH_BATCH: usize = 64;
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
    /// Metered requests (made with API keys), batched by the server. A worker older than this
    /// variant cannot read it and moves the job to the dead set; nothing else changes for it.
    Usage(UsageBatch),
    /// Legacy: project files for the retrieval index, as servers queued them here before indexing
    /// had its own queue. This build never writes it; a worker that meets one (queued before an
    /// upgrade) moves it to the `index` queue ([`super::index::IndexJob`]) instead of embedding on this queue.
    IndexFiles(IndexFilesRecord),
    /// Writes a server queued together ([`WriteBatch`]): under load, one job carries many, so the
    /// queue's per-job cost (a push, a fetch, an acknowledgement) is paid once for all of them.
    /// Each write is still its own unit; the worker hands them to its writer together. A worker
    /// older than this variant moves the job to the dead set: upgrade workers before servers.
    Batch(WriteBatch),
}

/// Writes queued in one job (a struct, not a bare list: the variant tag is a field of the same
/// JSON object). Never nested: a server puts only single writes in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteBatch {
    /// The writes, in the order they were recorded.
    pub writes: Vec<DbWrite>,
}

/// A query's rows: `meta_query` + `completion_query`/`chat_query`, its context and telemetry (as
/// the `store_*` flags allow) and one `had_generation` per model that answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// `meta_query_id`.
    pub query_id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// The plugin session (none for the open APIs, whose callers present an API key).
    pub session_id: Option<Uuid>,
    /// The project (none for an open-API request whose key is bound to no project).
    pub project_id: Option<Uuid>,
    /// Which client dialect sent it (`plugin` when absent: records of servers before the open APIs).
    #[serde(default)]
    pub client: Client,
    /// The API key it was made with.
    #[serde(default)]
    pub api_key_id: Option<Uuid>,
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

/// The front door a query came through: `meta_query.client`, so analytics and studies can tell
/// the dialects apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    /// The JetBrains plugin's REST and WebSocket contract.
    #[default]
    Plugin,
    /// The OpenAI-compatible `/v1`.
    Openai,
    /// The suggestion API (`/api/v1/completion`).
    Suggestion,
    /// The task API (`/api/ai/*`).
    Task,
}

impl Client {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plugin => "plugin",
            Self::Openai => "openai",
            Self::Suggestion => "suggestion",
            Self::Task => "task",
        }
    }
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
    /// Typing speed as the plugin reports it (at most `telemetry_bounds::MAX_TYPING_SPEED`).
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
    /// The provider of the chain that answered (`local` or a configured provider); absent for
    /// the plugin's queries, which only the local workers serve.
    #[serde(default)]
    pub provider: Option<String>,
    /// Where the time went (`had_generation.queue_wait_ms`, `first_token_ms`).
    #[serde(default)]
    pub stages: StageTimings,
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

/// Metered requests queued together (a struct, not a bare list: the variant tag is a field of the
/// same JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBatch {
    /// The records, oldest first.
    pub records: Vec<UsageRecord>,
}

/// One metered request, for `api_usage` and the key's `last_used_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// `usage_id` (the row's key: a job delivered twice stores one row).
    pub usage_id: Uuid,
    /// Who made the request.
    pub user_id: Uuid,
    /// The API key it was made with.
    pub key_id: Option<Uuid>,
    /// The route (`/api/usage`, `/v1/completions`, ...), never the raw path.
    pub endpoint: String,
    /// The model that served it, for generation endpoints.
    pub model: Option<String>,
    /// Prompt tokens read.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub generated_tokens: u32,
    /// Milliseconds from arrival to response.
    pub latency_ms: u32,
    /// HTTP status answered.
    pub status: u16,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Incoming;

    #[test]
    fn a_query_record_round_trips_through_its_db_job() {
        let record = QueryRecord {
            query_id: Uuid::nil(),
            user_id: Uuid::nil(),
            session_id: Some(Uuid::nil()),
            project_id: Some(Uuid::nil()),
            client: Client::Plugin,
            api_key_id: None,
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

    #[test]
    fn index_writes_queued_before_the_index_queue_still_decode() {
        let raw = r#"{"version":1,"write":{"write":"index_files","project_id":"00000000-0000-0000-0000-000000000000","files":{"a.py":{"version":3,"lines":["x = 1"]}}}}"#;
        let job: DbJob = serde_json::from_str(raw).expect("a v1 payload of the old shape");
        assert!(matches!(job.write, DbWrite::IndexFiles(ref record) if record.files["a.py"].version == 3), "{job:?}");
    }

    #[test]
    fn a_usage_batch_survives_the_queue_encoding() {
        let record = UsageRecord {
            usage_id: Uuid::nil(),
            user_id: Uuid::nil(),
            key_id: None,
            endpoint: "/api/usage".into(),
            model: None,
            prompt_tokens: 0,
            generated_tokens: 0,
            latency_ms: 3,
            status: 200,
            at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let job = DbJob::new(DbWrite::Usage(UsageBatch { records: vec![record.clone(), record] }));
        let json = serde_json::to_string(&job).expect("encodes");
        assert_eq!(serde_json::from_str::<DbJob>(&json).expect("decodes"), job);
    }
}
