//! Bodies of the completion, feedback and chat requests (wire contract §2.1), shared by the REST
//! endpoints and their WebSocket twins, with upstream's field rules (`ge`, `le`, defaults); the
//! multi-file context update and the history's page number, read the same way by both.

use std::collections::BTreeMap;

use code4me_shared::jobs::telemetry::{BehavioralRow, ContextRow, ContextualRow};
use code4me_shared::multi_file::{FileContextChange, MAX_CONTEXT_FILES, MAX_FILE_NAME_BYTES};
use code4me_shared::redaction::redact;
use code4me_shared::validation::Issue;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::parse::field_issue;

/// Largest `max_new_tokens` a completion request may ask for.
pub const MAX_NEW_TOKENS: i64 = 256;

/// Most models one request may ask for (each is a job on the queue).
pub const MAX_MODELS_PER_REQUEST: usize = 8;

/// Most extra stop strings a completion may carry, and the longest one (bytes).
pub const MAX_STOP_SEQUENCES: usize = 16;
/// Longest stop string (bytes).
pub const MAX_STOP_SEQUENCE_BYTES: usize = 256;

/// `ContextData`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContextData {
    /// Text before the caret.
    pub prefix: String,
    /// Text after the caret.
    pub suffix: String,
    /// The edited file (upstream's default `unknown_file`).
    #[serde(default)]
    pub file_name: Option<String>,
    /// Selected text.
    #[serde(default)]
    pub selected_text: Option<String>,
    /// Project files to put in the prompt: names, or `["*"]` for all but the edited one.
    #[serde(default)]
    pub context_files: Option<Vec<String>>,
}

impl ContextData {
    /// The file name as upstream defaults it, redacted (`creds_AKIA….py`): every use stores,
    /// prompts or matches it against the project's (redacted) file names.
    pub fn file_name(&self) -> String {
        self.file_name.as_deref().map_or_else(|| "unknown_file".to_owned(), |name| redact(name).into_owned())
    }

    /// The row to store, secrets redacted.
    pub fn redacted_row(&self) -> ContextRow {
        ContextRow {
            prefix: redact(&self.prefix).into_owned(),
            suffix: redact(&self.suffix).into_owned(),
            file_name: Some(self.file_name()),
            selected_text: self.selected_text.as_deref().map(|s| redact(s).into_owned()),
        }
    }
}

/// `ContextualTelemetryData`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContextualTelemetryData {
    /// `plugin_version` id (≥ 1).
    pub version_id: i64,
    /// `trigger_type` id (≥ 1).
    pub trigger_type_id: i64,
    /// `programming_language` id (≥ 1).
    pub language_id: i64,
    /// File path.
    #[serde(default)]
    pub file_path: Option<String>,
    /// Caret line (≥ 0).
    #[serde(default)]
    pub caret_line: Option<i64>,
    /// Document length (≥ 0).
    #[serde(default)]
    pub document_char_length: Option<i64>,
    /// Caret position in 0..=1.
    #[serde(default)]
    pub relative_document_position: Option<f64>,
}

impl ContextualTelemetryData {
    /// The row to store.
    pub fn row(&self) -> ContextualRow {
        ContextualRow {
            version_id: self.version_id,
            trigger_type_id: self.trigger_type_id,
            language_id: self.language_id,
            file_path: self.file_path.as_deref().map(|path| redact(path).into_owned()),
            caret_line: self.caret_line.and_then(|v| i32::try_from(v).ok()),
            document_char_length: self.document_char_length.and_then(|v| i32::try_from(v).ok()),
            relative_document_position: self.relative_document_position,
        }
    }
}

/// `BehavioralTelemetryData` (`{}` is valid).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BehavioralTelemetryData {
    /// ms since a completion was last shown (≥ 0).
    #[serde(default)]
    pub time_since_last_shown: Option<i64>,
    /// ms since a completion was last accepted (≥ 0).
    #[serde(default)]
    pub time_since_last_accepted: Option<i64>,
    /// Typing speed (≥ 0).
    #[serde(default)]
    pub typing_speed: Option<f64>,
}

impl BehavioralTelemetryData {
    /// The row to store.
    pub fn row(&self) -> BehavioralRow {
        BehavioralRow {
            time_since_last_shown: self.time_since_last_shown,
            time_since_last_accepted: self.time_since_last_accepted,
            typing_speed: self.typing_speed,
        }
    }
}

fn yes() -> bool {
    true
}

/// The editor context and telemetry that completion and chat requests both carry, with their store
/// flags. Read from the same body as the request's own fields (not through `#[serde(flatten)]`,
/// which would lose the field path of every error inside it).
#[derive(Debug, Clone, Deserialize)]
pub struct QueryFields {
    /// The editor context.
    pub context: ContextData,
    /// Store the (redacted) context.
    #[serde(default)]
    pub store_context: bool,
    /// Contextual telemetry.
    pub contextual_telemetry: ContextualTelemetryData,
    /// Store it.
    #[serde(default = "yes")]
    pub store_contextual_telemetry: bool,
    /// Behavioral telemetry.
    pub behavioral_telemetry: BehavioralTelemetryData,
    /// Store it.
    #[serde(default = "yes")]
    pub store_behavioral_telemetry: bool,
}

/// What a query stores of its context and telemetry, as its `store_*` flags allow.
pub struct StoredFields {
    /// The redacted context.
    pub context: Option<ContextRow>,
    /// Contextual telemetry.
    pub contextual: Option<ContextualRow>,
    /// Behavioral telemetry.
    pub behavioral: Option<BehavioralRow>,
}

impl QueryFields {
    /// The rows to store.
    pub fn stored(&self) -> StoredFields {
        StoredFields {
            context: self.store_context.then(|| self.context.redacted_row()),
            contextual: self.store_contextual_telemetry.then(|| self.contextual_telemetry.row()),
            behavioral: self.store_behavioral_telemetry.then(|| self.behavioral_telemetry.row()),
        }
    }

    /// Parses the shared fields of `body` and checks their rules, collecting issues in `rules`.
    fn parse(body: &Value, rules: &mut Rules) -> Result<Self, ApiError> {
        let fields: Self = crate::contract::parse::parse_body(body.clone())?;
        rules.telemetry(&fields.contextual_telemetry, &fields.behavioral_telemetry);
        rules.context(&fields.context);
        Ok(fields)
    }
}

/// `RequestCompletion`.
#[derive(Debug, Clone)]
pub struct RequestCompletion {
    /// Models to ask.
    pub model_ids: Vec<i64>,
    /// Extra stop strings.
    pub stop_sequences: Vec<String>,
    /// Ours: a new-token budget below the model's (1..=256), for short inline suggestions.
    pub max_new_tokens: Option<usize>,
    /// Ours: answer each completion item with the prompt the model saw and the retrieved snippets.
    pub debug: bool,
    /// Context and telemetry.
    pub query: QueryFields,
}

/// `RequestCompletion`'s own fields.
#[derive(Deserialize)]
struct CompletionFields {
    model_ids: Vec<i64>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    max_new_tokens: Option<i64>,
    #[serde(default)]
    debug: bool,
}

/// `RequestChatCompletion`.
#[derive(Debug, Clone)]
pub struct RequestChatCompletion {
    /// Models to ask.
    pub model_ids: Vec<i64>,
    /// The conversation (chosen by the client).
    pub chat_id: Uuid,
    /// `[role, content]` pairs.
    pub messages: Vec<(String, String)>,
    /// Web search (recorded; no model here searches).
    pub web_enabled: bool,
    /// Context and telemetry.
    pub query: QueryFields,
}

/// `RequestChatCompletion`'s own fields.
#[derive(Deserialize)]
struct ChatFields {
    model_ids: Vec<i64>,
    chat_id: Uuid,
    messages: Vec<(String, String)>,
    #[serde(default)]
    web_enabled: bool,
}

/// `FeedbackCompletion`.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedbackCompletion {
    /// The completion query.
    pub meta_query_id: Uuid,
    /// The model (≥ 0).
    pub model_id: i64,
    /// Accepted or not.
    pub was_accepted: bool,
    /// What the user finally typed.
    #[serde(default)]
    pub ground_truth: Option<String>,
}

/// `UpdateMultiFileContext`.
#[derive(Debug, Clone, Deserialize)]
pub struct UpdateMultiFileContext {
    /// File name → its changes, applied from the highest line down.
    pub context_updates: BTreeMap<String, Vec<FileContextChange>>,
}

impl UpdateMultiFileContext {
    /// Parses a body.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        crate::contract::parse::parse_body(body)
    }
}

/// Where a page number was sent: the history's REST path or a WebSocket `chat_get` body.
#[derive(Debug, Clone, Copy)]
pub enum PageNumberIn {
    /// `GET /api/chat/get/{page_number}`.
    Path,
    /// `{"chat_get": {"page_number": ...}}`.
    Body,
}

/// A page number from 1 to a million, or the 422 pydantic would give at `[place, "page_number"]`.
pub fn parse_page(raw: &str, place: PageNumberIn) -> Result<i64, ApiError> {
    let place = match place {
        PageNumberIn::Path => "path",
        PageNumberIn::Body => "body",
    };
    let loc = vec![json!(place), json!("page_number")];
    let page: i64 = raw.trim().parse().map_err(|_| {
        ApiError::Validation(vec![Issue::new(
            "int_parsing",
            loc.clone(),
            "Input should be a valid integer, unable to parse string as an integer",
            json!(raw),
            None,
        )])
    })?;
    if !(1..=1_000_000).contains(&page) {
        let issue = if page < 1 {
            Issue::new("greater_than_equal", loc, "Input should be greater than or equal to 1", json!(page), Some(json!({"ge": 1})))
        } else {
            Issue::new("less_than_equal", loc, "Input should be less than or equal to 1000000", json!(page), Some(json!({"le": 1_000_000})))
        };
        return Err(ApiError::Validation(vec![issue]));
    }
    Ok(page)
}

/// Collects rule violations the types cannot express.
#[derive(Default)]
struct Rules(Vec<Issue>);

impl Rules {
    fn at_least(&mut self, loc: &[&str], value: Option<i64>, min: i64) {
        if let Some(v) = value.filter(|v| *v < min) {
            self.0.push(field_issue(loc, "greater_than_equal", format!("Input should be greater than or equal to {min}"), json!(v)));
        }
    }

    fn at_most(&mut self, loc: &[&str], value: Option<i64>, max: i64) {
        if let Some(v) = value.filter(|v| *v > max) {
            self.0.push(field_issue(loc, "less_than_equal", format!("Input should be less than or equal to {max}"), json!(v)));
        }
    }

    fn in_range(&mut self, loc: &[&str], value: Option<i64>, min: i64, max: i64) {
        self.at_least(loc, value, min);
        self.at_most(loc, value, max);
    }

    fn non_negative_float(&mut self, loc: &[&str], value: Option<f64>, max: f64) {
        if let Some(v) = value {
            if !v.is_finite() || v < 0.0 {
                self.0.push(field_issue(loc, "greater_than_equal", "Input should be greater than or equal to 0", json!(v)));
            } else if v > max {
                self.0.push(field_issue(loc, "less_than_equal", format!("Input should be less than or equal to {max}"), json!(v)));
            }
        }
    }

    fn at_most_items(&mut self, loc: &[&str], len: usize, max: usize) {
        if len > max {
            self.0.push(field_issue(loc, "too_long", format!("List should have at most {max} items after validation, not {len}"), json!(len)));
        }
    }

    fn strings_at_most(&mut self, loc: &[&str], items: &[String], max_bytes: usize) {
        if let Some((i, item)) = items.iter().enumerate().find(|(_, item)| item.len() > max_bytes) {
            let index = i.to_string();
            let mut path = loc.to_vec();
            path.push(&index);
            self.0.push(field_issue(&path, "string_too_long", format!("String should have at most {max_bytes} bytes"), json!(item.len())));
        }
    }

    fn models(&mut self, ids: &[i64]) {
        if ids.len() > MAX_MODELS_PER_REQUEST {
            self.0.push(field_issue(&["model_ids"], "too_long", format!("List should have at most {MAX_MODELS_PER_REQUEST} items"), json!(ids)));
        }
    }

    fn telemetry(&mut self, c: &ContextualTelemetryData, b: &BehavioralTelemetryData) {
        use code4me_shared::telemetry_bounds::*;
        self.at_least(&["contextual_telemetry", "version_id"], Some(c.version_id), 1);
        self.at_least(&["contextual_telemetry", "trigger_type_id"], Some(c.trigger_type_id), 1);
        self.at_least(&["contextual_telemetry", "language_id"], Some(c.language_id), 1);
        self.in_range(&["contextual_telemetry", "caret_line"], c.caret_line, 0, MAX_CARET_LINE);
        self.in_range(&["contextual_telemetry", "document_char_length"], c.document_char_length, 0, MAX_DOCUMENT_CHARS);
        self.non_negative_float(&["contextual_telemetry", "relative_document_position"], c.relative_document_position, MAX_RELATIVE_POSITION);
        self.in_range(&["behavioral_telemetry", "time_since_last_shown"], b.time_since_last_shown, 0, MAX_DURATION_MS);
        self.in_range(&["behavioral_telemetry", "time_since_last_accepted"], b.time_since_last_accepted, 0, MAX_DURATION_MS);
        self.non_negative_float(&["behavioral_telemetry", "typing_speed"], b.typing_speed, MAX_TYPING_SPEED);
    }

    fn context(&mut self, context: &ContextData) {
        if let Some(files) = &context.context_files {
            self.at_most_items(&["context", "context_files"], files.len(), MAX_CONTEXT_FILES);
            self.strings_at_most(&["context", "context_files"], files, MAX_FILE_NAME_BYTES);
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.0)) }
    }
}

impl RequestCompletion {
    /// Parses and checks a body.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut rules = Rules::default();
        let query = QueryFields::parse(&body, &mut rules)?;
        let own: CompletionFields = crate::contract::parse::parse_body(body)?;
        rules.models(&own.model_ids);
        rules.in_range(&["max_new_tokens"], own.max_new_tokens, 1, MAX_NEW_TOKENS);
        rules.at_most_items(&["stop_sequences"], own.stop_sequences.len(), MAX_STOP_SEQUENCES);
        rules.strings_at_most(&["stop_sequences"], &own.stop_sequences, MAX_STOP_SEQUENCE_BYTES);
        rules.finish()?;
        let max_new_tokens = own.max_new_tokens.and_then(|n| usize::try_from(n).ok());
        Ok(Self { model_ids: own.model_ids, stop_sequences: own.stop_sequences, max_new_tokens, debug: own.debug, query })
    }
}

impl RequestChatCompletion {
    /// Parses and checks a body.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let mut rules = Rules::default();
        let query = QueryFields::parse(&body, &mut rules)?;
        let own: ChatFields = crate::contract::parse::parse_body(body)?;
        rules.models(&own.model_ids);
        for (i, (role, _)) in own.messages.iter().enumerate() {
            if !matches!(role.as_str(), "user" | "assistant" | "system") {
                let index = i.to_string();
                rules.0.push(field_issue(
                    &["messages", &index, "0"],
                    "literal_error",
                    "Input should be 'user', 'assistant' or 'system'",
                    json!(role),
                ));
            }
        }
        if !own.messages.iter().any(|(role, _)| role == "user") {
            rules.0.push(field_issue(&["messages"], "value_error", "Value error, the conversation needs a user message", json!(own.messages)));
        }
        rules.finish()?;
        Ok(Self { model_ids: own.model_ids, chat_id: own.chat_id, messages: own.messages, web_enabled: own.web_enabled, query })
    }
}

impl FeedbackCompletion {
    /// Parses and checks a body.
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        let request: Self = crate::contract::parse::parse_body(body)?;
        let mut rules = Rules::default();
        rules.at_least(&["model_id"], Some(request.model_id), 0);
        rules.finish()?;
        Ok(request)
    }
}
