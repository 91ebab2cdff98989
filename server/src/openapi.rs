//! The OpenAPI document (served at `/openapi.json`) and its offline docs UI (at `/docs`).
//!
//! The schema types below describe the contract's bodies for the docs and for the website's
//! generated client. Handlers parse requests field by field (to produce FastAPI's error lists), and
//! most build their responses as JSON, so these types are documentation only and never constructed.
//! The research endpoints (`/api/analytics/...`, `/api/config/...`) instead return typed bodies
//! declared next to their handlers, which `utoipa-axum` collects from each `body =`.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

/// Top-level API description; each route module adds its own paths through `utoipa-axum`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Code4me-RS",
        description = "Self-hostable code-completion research platform, wire-compatible with Code4me V2.\n\n\
Authentication: the `auth_token` cookie (set by `/api/user/authenticate`), or the same token as \
`Authorization: Bearer <token>` for non-browser clients. Sessions and projects use the `session_token` \
and `project_token` cookies. When a cookie name repeats, the last value wins.",
        license(name = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "ops", description = "Liveness, health and metrics"),
        (name = "user", description = "Accounts"),
        (name = "session", description = "The plugin's working session"),
        (name = "project", description = "IDE projects"),
        (name = "completion", description = "Inline completions, feedback and the multi-file context"),
        (name = "chat", description = "Chat and its history"),
        (name = "analytics", description = "What researchers study: calibration, usage, models; non-admins see only their own rows"),
        (name = "studies", description = "A/B studies over config rows; admin only"),
        (name = "config", description = "Config rows (HOCON), languages and models; admin only"),
    )
)]
pub struct ApiDoc;

/// `{"message": ...}`: the body of most Code4me outcomes.
#[derive(ToSchema)]
pub struct Message {
    /// Human-readable outcome (exact strings are part of the contract).
    message: String,
}

/// `{"detail": ...}`: the body of the research endpoints' outcomes and errors (FastAPI style).
#[derive(ToSchema)]
pub struct Detail {
    /// What went wrong (or, for a few outcomes, what happened).
    detail: Value,
}

/// Body of `POST /api/analytics/studies/create`.
#[derive(ToSchema)]
pub struct CreateStudyBody {
    /// Name.
    name: String,
    /// What the study tests.
    description: Option<String>,
    /// ISO 8601 in any form Python's `datetime.fromisoformat` reads (`2026-01-31T12:00:00Z`,
    /// `2026-01-31T12:00` as upstream's form sends it, `2026-01-31`...); no zone means UTC. A study
    /// whose start has come is activated at once.
    starts_at: String,
    /// ISO 8601 as `starts_at`, after it; open-ended when absent.
    ends_at: Option<String>,
    /// The arms' configs (the default config is always an arm: the baseline).
    config_ids: Vec<i64>,
    /// The baseline, and where users go when the study ends.
    default_config_id: i64,
}

/// Body of `POST /api/config` and `PUT /api/config/{config_id}`.
#[derive(ToSchema)]
pub struct ConfigBody {
    /// The config: a HOCON string, or a JSON object (stored as JSON, which is HOCON). Validated
    /// before it is stored: 400 with the parser's message when it is not valid.
    config_data: Value,
}

/// One pydantic-style validation issue.
#[derive(ToSchema)]
pub struct ValidationIssue {
    /// Kind, e.g. `missing`, `string_too_short`.
    #[schema(rename = "type")]
    kind: String,
    /// Location, e.g. `["body", "name"]`.
    loc: Vec<Value>,
    /// Message.
    msg: String,
    /// The offending input.
    input: Value,
    /// Constraint parameters.
    ctx: Option<Value>,
}

/// `422 {"detail": [...]}`.
#[derive(ToSchema)]
pub struct ValidationError {
    /// Every issue found.
    detail: Vec<ValidationIssue>,
}

/// Body of `POST /api/user/create`.
#[derive(ToSchema)]
pub struct CreateUserBody {
    /// E-mail address (3..50 characters; stored lower-cased).
    email: String,
    /// Display name (3..50 characters).
    name: String,
    /// 8..50 characters with an upper-case letter, a lower-case letter and a digit, no spaces.
    password: String,
    /// Config the plugin will run with (the plugin sends 1).
    config_id: i64,
    /// `"google"` to sign up with a Google ID token; the plugin sends `"no_provider"`.
    provider: Option<String>,
    /// Google ID token when `provider` is `"google"`; the plugin sends `""`.
    token: Option<String>,
}

/// `201` of `POST /api/user/create`.
#[derive(ToSchema)]
pub struct UserCreated {
    /// Outcome.
    message: String,
    /// The new user's id.
    user_id: Uuid,
}

/// Body of `POST /api/user/authenticate`: e-mail and password, or `provider: "google"` with a token.
#[derive(ToSchema)]
pub struct AuthenticateBody {
    /// E-mail address.
    email: Option<String>,
    /// Password.
    password: Option<String>,
    /// `"google"` for Google sign-in.
    provider: Option<String>,
    /// Google ID token.
    token: Option<String>,
}

/// The user as every endpoint returns it.
#[derive(ToSchema)]
pub struct ResponseUser {
    /// Address.
    email: String,
    /// Display name.
    name: String,
    /// Always `"**********"`.
    password: String,
    /// Config id.
    config_id: i64,
    /// User id.
    user_id: Uuid,
    /// Sign-up time (ISO 8601).
    joined_at: String,
    /// Address verified.
    verified: bool,
    /// Preferences; nested values set by the plugin come back as JSON strings.
    preference: Value,
    /// The token just issued (authenticate only).
    auth_token: Option<Uuid>,
    /// Admin.
    is_admin: bool,
}

/// `200` of `POST /api/user/authenticate`.
#[derive(ToSchema)]
pub struct Authenticated {
    /// Outcome.
    message: String,
    /// The user, with `auth_token`.
    user: ResponseUser,
    /// The HOCON config the plugin runs with.
    config: String,
}

/// `200` of `GET /api/user/get`.
#[derive(ToSchema)]
pub struct UserWithConfig {
    /// Outcome.
    message: String,
    /// The user.
    user: ResponseUser,
    /// The HOCON config.
    config: String,
}

/// Body of `PUT /api/user/update` (every field optional).
#[derive(ToSchema)]
pub struct UpdateUserBody {
    /// New name.
    name: Option<String>,
    /// New address.
    email: Option<String>,
    /// Checked when given together with `password`.
    previous_password: Option<String>,
    /// New password.
    password: Option<String>,
    /// Preferences (merged over the defaults).
    preference: Option<Value>,
    /// Accepted, not applied (configs are assigned by admins and studies).
    config_id: Option<i64>,
    /// Accepted, not applied (only the mailed link verifies an address).
    verified: Option<bool>,
}

/// `201` of `PUT /api/user/update`.
#[derive(ToSchema)]
pub struct UserUpdated {
    /// Outcome.
    message: String,
    /// The updated user.
    user: ResponseUser,
}

/// `200` of `GET /api/user/verify/check`.
#[derive(ToSchema)]
pub struct VerificationStatus {
    /// Outcome.
    message: String,
    /// Whether the address is verified.
    user_is_verified: bool,
}

/// `200` of `GET /api/session/acquire`.
#[derive(ToSchema)]
pub struct SessionAcquired {
    /// Outcome.
    message: String,
    /// The session token (also set as a cookie).
    session_token: Uuid,
}

/// Body of `POST /api/project/create`.
#[derive(ToSchema)]
pub struct CreateProjectBody {
    /// 1..100 characters.
    project_name: String,
}

/// `201` of `POST /api/project/create`.
#[derive(ToSchema)]
pub struct ProjectCreated {
    /// Outcome.
    message: String,
    /// The project's token (= its id; also set as a cookie).
    project_token: Uuid,
}

/// Body of `PUT /api/project/activate`.
#[derive(ToSchema)]
pub struct ActivateProjectBody {
    /// The project's id (its token).
    project_id: Uuid,
}

/// `RequestCompletion` (wire contract §2.1).
#[derive(ToSchema)]
pub struct RequestCompletionBody {
    /// Models to ask, each answered in parallel.
    model_ids: Vec<i64>,
    /// `{prefix, suffix, file_name?, selected_text?, context_files?}`.
    context: Value,
    /// Store the (redacted) context; default false.
    store_context: Option<bool>,
    /// `{version_id, trigger_type_id, language_id, file_path?, caret_line?, document_char_length?, relative_document_position?}`.
    contextual_telemetry: Value,
    /// Default true.
    store_contextual_telemetry: Option<bool>,
    /// `{time_since_last_shown?, time_since_last_accepted?, typing_speed?}`.
    behavioral_telemetry: Value,
    /// Default true.
    store_behavioral_telemetry: Option<bool>,
    /// Extra stop strings.
    stop_sequences: Option<Vec<String>>,
    /// Ours: a new-token budget below the model's, 1..=256.
    max_new_tokens: Option<i64>,
    /// Ours: add `debug` to each item — the prompt the model saw and the retrieved snippets
    /// (`{prompt, retrieval_enabled, retrieval_query, snippets: [{file_name, start_line, end_line,
    /// score, content}], retrieval_ms, retrieval_reused, note}`). Default false.
    debug: Option<bool>,
}

/// `{"message", "data": {"meta_query_id", "completions": [item]}}`; an item is
/// `{model_id, model_name, completion, generation_time, confidence}` (plus `debug` when asked) or,
/// for a model that failed, `{"message": "Completion for model failed", model_name}`.
#[derive(ToSchema)]
pub struct CompletionsResponse {
    /// Outcome.
    message: String,
    /// The query id and its items.
    data: Value,
}

/// `FeedbackCompletion`.
#[derive(ToSchema)]
pub struct FeedbackBody {
    /// The completion query.
    meta_query_id: Uuid,
    /// The model whose completion this is about.
    model_id: i64,
    /// Whether it was accepted.
    was_accepted: bool,
    /// What the user finally typed.
    ground_truth: Option<String>,
}

/// `UpdateMultiFileContext`: `{"context_updates": {"<file>": [{change_type, start_line, end_line, new_lines}]}}`.
#[derive(ToSchema)]
pub struct MultiFileUpdateBody {
    /// File name → its changes (`change_type`: `update`, `insert` or `remove`).
    context_updates: Value,
}

/// `RequestChatCompletion`.
#[derive(ToSchema)]
pub struct RequestChatBody {
    /// Models to ask.
    model_ids: Vec<i64>,
    /// The conversation, chosen by the client.
    chat_id: Uuid,
    /// `[[role, content], ...]` with role `user`, `assistant` or `system`.
    messages: Vec<Vec<String>>,
    /// Editor context, as for completions.
    context: Value,
    /// Contextual telemetry, as for completions.
    contextual_telemetry: Value,
    /// Behavioral telemetry, as for completions.
    behavioral_telemetry: Value,
    /// Recorded only.
    web_enabled: Option<bool>,
}

/// `ChatHistoryResponse`: `{chat_id, title, history: [{user_message: {role, content, timestamp,
/// meta_query_id}, assistant_responses: [{model_id, model_name, completion, generation_time,
/// confidence, was_accepted} | {message, model_name}]}]}`.
#[derive(ToSchema)]
pub struct ChatHistory {
    /// The chat.
    chat_id: Uuid,
    /// Its title.
    title: String,
    /// Turns, oldest first.
    history: Vec<Value>,
}

/// `{"page", "per_page": 10, "items": [ChatHistory]}`.
#[derive(ToSchema)]
pub struct ChatPage {
    /// This page (from 1).
    page: i64,
    /// Chats per page.
    per_page: i64,
    /// The chats, newest first.
    items: Vec<ChatHistory>,
}
