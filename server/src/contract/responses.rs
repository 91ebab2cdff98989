//! The response bodies of the Code4me endpoints (the plugin's contract), as the handlers and the
//! WebSocket serialise them and as the OpenAPI document describes them — one type for both, so the
//! document cannot drift from the wire.
//!
//! Key order: these bodies were built as `serde_json::Value`s, whose objects keep their keys
//! sorted, and that order is what clients have seen. [`to_body`] keeps it: every body goes through
//! a `Value`, so the fields below can follow the documentation's order.
//!
//! Where the document describes a part loosely (`data`, `history`: any JSON), the field keeps that
//! description (`value_type`) so the website's generated client does not change; the Rust types
//! are exact either way.

use chrono::{DateTime, Utc};
use code4me_shared::retrieval::PromptDebug;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::contract::messages;

/// The JSON document of a response body, keys sorted at every level (see the module docs).
pub fn to_body<T: Serialize>(body: &T) -> Value {
    // Serialising plain data into a `Value` cannot fail: no map here has non-string keys.
    serde_json::to_value(body).expect("a response body serialises")
}

/// `{"message": ...}`: the body of most Code4me outcomes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Human-readable outcome (exact strings are part of the contract).
    pub message: String,
}

impl Message {
    /// A body with this message.
    pub fn new(message: &str) -> Self {
        Self { message: message.to_owned() }
    }
}

/// `{"detail": ...}`: the body of the research endpoints' outcomes and errors (FastAPI style).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Detail {
    /// What went wrong (or, for a few outcomes, what happened).
    pub detail: Value,
}

/// `201` of `POST /api/user/create`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserCreated {
    /// Outcome.
    pub message: String,
    /// The new user's id.
    pub user_id: Uuid,
}

/// The user as every endpoint returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseUser {
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Always `"**********"`.
    pub password: String,
    /// Config id.
    pub config_id: i64,
    /// User id.
    pub user_id: Uuid,
    /// Sign-up time (ISO 8601).
    pub joined_at: String,
    /// Address verified.
    pub verified: bool,
    /// Preferences; nested values set by the plugin come back as JSON strings.
    pub preference: Value,
    /// The token just issued (authenticate only).
    pub auth_token: Option<Uuid>,
    /// Admin.
    pub is_admin: bool,
}

/// `200` of `POST /api/user/authenticate`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Authenticated {
    /// Outcome.
    pub message: String,
    /// The user, with `auth_token`.
    pub user: ResponseUser,
    /// The HOCON config the plugin runs with.
    pub config: String,
}

/// `200` of `GET /api/user/get`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserWithConfig {
    /// Outcome.
    pub message: String,
    /// The user.
    pub user: ResponseUser,
    /// The HOCON config.
    pub config: String,
}

/// `201` of `PUT /api/user/update`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserUpdated {
    /// Outcome.
    pub message: String,
    /// The updated user.
    pub user: ResponseUser,
}

/// `200` of `GET /api/user/verify/check`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerificationStatus {
    /// Outcome.
    pub message: String,
    /// Whether the address is verified.
    pub user_is_verified: bool,
}

/// `200` of `GET /api/session/acquire`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionAcquired {
    /// Outcome.
    pub message: String,
    /// The session token (also set as a cookie).
    pub session_token: Uuid,
}

/// `201` of `POST /api/project/create`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectCreated {
    /// Outcome.
    pub message: String,
    /// The project's token (= its id; also set as a cookie).
    pub project_token: Uuid,
}

/// `{"message", "data": {"meta_query_id", "completions": [item]}}`; an item is
/// `{model_id, model_name, completion, generation_time, confidence}` (plus `debug` when asked) or,
/// for a model that failed, `{"message": "Completion for model failed", model_name}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletionsResponse {
    /// Outcome.
    pub message: String,
    /// The query id and its items.
    #[schema(value_type = Value)]
    pub data: CompletionsData,
}

/// A completion query's items (also kept, as JSON, in the query's Redis record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompletionsData {
    /// The query.
    pub meta_query_id: Uuid,
    /// One item per model, in request order (stored queries: by model id).
    pub completions: Vec<CompletionItem>,
}

/// One model's completion, or the contract's item for a model that failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CompletionItem {
    /// The model answered.
    Answer(ModelAnswer),
    /// It did not (`{"message": "Completion for model failed", model_name}`).
    Failed(FailedModel),
}

impl CompletionItem {
    /// Attaches the prompt report of a `debug` request (`null` when the model has none).
    pub fn set_debug(&mut self, report: Option<PromptDebug>) {
        match self {
            Self::Answer(answer) => answer.debug = Some(report),
            Self::Failed(failed) => failed.debug = Some(report),
        }
    }
}

/// A model's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelAnswer {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// The text.
    pub completion: String,
    /// How long it took (ms).
    pub generation_time: i32,
    /// Its confidence (`null` when not a number).
    #[serde(deserialize_with = "nan_when_null")]
    pub confidence: f64,
    /// In chat turns: whether the user accepted it (always `false` in a fresh turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was_accepted: Option<bool>,
    /// Only when the request asked for `debug`: the prompt report, or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub debug: Option<Option<PromptDebug>>,
}

/// The item of a model that failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedModel {
    /// `"Completion for model failed"`.
    pub message: String,
    /// The model's name (`Model ID: <id>` for an id that names no model).
    pub model_name: String,
    /// Only when the request asked for `debug`: always `null`.
    #[serde(default, skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub debug: Option<Option<PromptDebug>>,
}

impl FailedModel {
    /// The item for `model_name`.
    pub fn new(model_name: String) -> Self {
        Self { message: messages::COMPLETION_ITEM_FAILED.to_owned(), model_name, debug: None }
    }
}

/// `serde_json` writes a non-finite float as `null`; reading it back gives NaN, which writes
/// `null` again.
fn nan_when_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// `{"message", "data": {"meta_query_id", "model_id"}}` of `POST /api/completion/feedback`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackRecorded {
    /// Outcome.
    pub message: String,
    /// What the feedback was about.
    pub data: FeedbackTarget,
}

/// The query and model a feedback was recorded for.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackTarget {
    /// The completion query.
    pub meta_query_id: Uuid,
    /// The model.
    pub model_id: i64,
}

/// `{"message", "data": {file: [line, ...]}}` of the multi-file context update: the whole context.
#[derive(Debug, Clone, Serialize)]
pub struct ContextUpdated {
    /// Outcome.
    pub message: String,
    /// The project's files, each as its lines.
    pub data: std::collections::BTreeMap<String, Vec<String>>,
}

/// `ChatHistoryResponse`: `{chat_id, title, history: [{user_message: {role, content, timestamp,
/// meta_query_id}, assistant_responses: [{model_id, model_name, completion, generation_time,
/// confidence, was_accepted} | {message, model_name}]}]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatHistory {
    /// The chat.
    pub chat_id: Uuid,
    /// Its title.
    pub title: String,
    /// Turns, oldest first.
    #[schema(value_type = Vec<Value>)]
    pub history: Vec<ChatTurn>,
}

/// One turn of a chat: what the user asked, and each model's answer.
#[derive(Debug, Clone, Serialize)]
pub struct ChatTurn {
    /// The user's message.
    pub user_message: UserMessage,
    /// One item per model.
    pub assistant_responses: Vec<CompletionItem>,
}

/// The user's side of a turn.
#[derive(Debug, Clone, Serialize)]
pub struct UserMessage {
    /// Always `"user"`.
    pub role: &'static str,
    /// What they wrote (redacted).
    pub content: String,
    /// When they asked.
    pub timestamp: DateTime<Utc>,
    /// The turn's query.
    pub meta_query_id: Uuid,
}

impl UserMessage {
    /// The user's message of a turn.
    pub fn new(content: String, timestamp: DateTime<Utc>, meta_query_id: Uuid) -> Self {
        Self { role: "user", content, timestamp, meta_query_id }
    }
}

/// `{"page", "per_page": 10, "items": [ChatHistory]}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatPage {
    /// This page (from 1).
    pub page: i64,
    /// Chats per page.
    pub per_page: i64,
    /// The chats, newest first.
    pub items: Vec<ChatHistory>,
}

/// A frame the WebSocket endpoints send (protocol in [`crate::routes::ws::connection`]).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WsFrame<'a> {
    /// A completion or chat request was taken.
    Accepted {
        /// Its action.
        action: &'a str,
        /// Its id (the query id).
        request_id: Uuid,
    },
    /// Streamed text of one model.
    Token {
        /// The request.
        request_id: Uuid,
        /// The model.
        model_id: i64,
        /// The next piece of text.
        text: &'a str,
    },
    /// A request's outcome: `status_code` and `content` as the REST endpoint answers.
    Result {
        /// Its action.
        action: &'a str,
        /// Its id; `null` for the actions that answer at once.
        request_id: Option<Uuid>,
        /// The REST status.
        status_code: u16,
        /// The REST body.
        content: Value,
    },
    /// A request was cancelled or superseded.
    Cancelled {
        /// The request.
        request_id: Uuid,
    },
}

/// `{"error": ...}`: a WebSocket frame that is not a request (the connection stays open).
#[derive(Debug, Clone, Serialize)]
pub struct WsError<'a> {
    /// Why.
    pub error: &'a str,
}

/// `{"Status": "Ok"}` of `HEAD /api/ping` (computed, as upstream, though HEAD never sends it).
#[derive(Debug, Clone, Serialize)]
pub struct Pong {
    /// Always `"Ok"`.
    #[serde(rename = "Status")]
    pub status: &'static str,
}
