//! The OpenAPI document (served at `/openapi.json`) and its offline docs UI (at `/docs`).
//!
//! Response bodies are the structs the handlers serialise: the plugin contract's in
//! [`crate::contract::responses`], the research endpoints' (`/api/analytics/...`, `/api/config/...`)
//! next to their handlers; `utoipa-axum` collects each from its `body =`.
//!
//! The schema types below describe the *request* bodies and the 422 body. Handlers read requests
//! field by field (to report problems as FastAPI's error lists, with pydantic's messages) and the
//! 422 items are `code4me_shared::validation::Issue`s, so these types only document what the
//! parsers accept and are never constructed.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};
use uuid::Uuid;

use crate::contract::responses::{Detail, Message};

/// Top-level API description; each route module adds its own paths through `utoipa-axum`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Code4me-RS",
        description = "Self-hostable code-completion research platform, wire-compatible with Code4me V2.\n\n\
Authentication: the `auth_token` cookie (set by `/api/user/authenticate`), or the same token as \
`Authorization: Bearer <token>` for non-browser clients. Sessions and projects use the `session_token` \
and `project_token` cookies. When a cookie name repeats, the last value wins.\n\n\
API keys (`POST /api/keys`) authenticate as `Authorization: Bearer c4m_…` on the usage, research and \
generation APIs (never on the account endpoints); each request made with one counts against the \
owner's tier quota and answers with `X-RateLimit-Limit`, `X-RateLimit-Remaining` and \
`X-RateLimit-Reset` (Unix seconds); a spent quota is a 429 with `Retry-After`.",
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
        (name = "keys", description = "API keys, tiers, quotas and usage"),
        (name = "editor", description = "The web editor: the caller's projects, their members (who may join the collaboration rooms) and files"),
        (name = "suggestions", description = "The suggestion API (`/api/v1/`): ranked, cached code suggestions for editor plugins"),
        (name = "openai", description = "The OpenAI-compatible API (`/v1`): models, completions (FIM with `suffix`), chat, embeddings; \
errors in OpenAI's `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}` shape"),
        (name = "agent", description = "The repository agent: a prompt becomes a branch and a pull request, streamed as server-sent events; the runs and their event logs; the admins' health report made from the logs"),
    ),
    components(schemas(Message, Detail, ValidationError, crate::contract::openai::OpenAiErrorBody)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// Names of the security schemes operations list in `security(...)`: the auth token as a cookie or
/// a bearer token, and the plugin's session and project cookies. Admin-only operations ask for the
/// role `admin` on the auth token (OpenAPI 3.1 allows role names for non-OAuth schemes).
pub mod scheme {
    /// `auth_token` cookie.
    pub const AUTH_TOKEN: &str = "auth_token";
    /// `Authorization: Bearer <auth token>`.
    pub const BEARER: &str = "bearer";
    /// `session_token` cookie.
    pub const SESSION_TOKEN: &str = "session_token";
    /// `project_token` cookie.
    pub const PROJECT_TOKEN: &str = "project_token";
    /// `Authorization: Bearer <HEALTH_TOKEN>`.
    pub const HEALTH_TOKEN: &str = "health_token";
    /// The role an admin-only operation requires.
    pub const ADMIN: &str = "admin";
}

/// Declares the security schemes of [`scheme`].
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let cookie = |name: &str, what: &str| SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(name, what)));
        components.add_security_scheme(scheme::AUTH_TOKEN, cookie("auth_token", "Set by `POST /api/user/authenticate`"));
        components.add_security_scheme(
            scheme::BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("UUID")
                    .description(Some("The auth token, for non-browser clients"))
                    .build(),
            ),
        );
        components.add_security_scheme(scheme::SESSION_TOKEN, cookie("session_token", "Set by `GET /api/session/acquire`"));
        components
            .add_security_scheme(scheme::PROJECT_TOKEN, cookie("project_token", "Set by `POST /api/project/create` and `PUT /api/project/activate`"));
        components.add_security_scheme(
            scheme::HEALTH_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operators' `HEALTH_TOKEN`, for monitors (`/api/health/detailed` only)"))
                    .build(),
            ),
        );
    }
}

/// Adds to every operation the responses that come from the layers around the handlers rather than
/// from the handler itself, so the document lists every status an operation really gives:
/// - `401` when the operation has a `security` requirement (the research endpoints answer
///   FastAPI's `{"detail"}`, the Code4me endpoints `{"message"}`), `403` when it asks for the
///   `admin` role;
/// - for any request body `413` over `MAX_REQUEST_BODY_BYTES`; for a JSON one also `415` without a
///   JSON content type and `422` when it is not JSON or a field is invalid;
/// - `400` for the analytics endpoints' parameters (window, user, model, grouping);
/// - `429` with `Retry-After` on rate-limited paths (every `/api/` path but health and ping);
/// - `503` where PostgreSQL or Redis is needed (every `/api/` path but ping and the provider list).
///
/// A response the handler documents itself is never replaced.
pub fn with_shared_responses(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in document.paths.paths.iter_mut() {
        for operation in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head].into_iter().flatten() {
            add_shared_responses(path, operation);
        }
    }
    document
}

fn add_shared_responses(path: &str, operation: &mut Operation) {
    let tags = operation.tags.clone().unwrap_or_default();
    let research = tags.iter().any(|t| matches!(t.as_str(), "analytics" | "studies" | "config"));
    let (roles, secured) = security_roles(operation);
    let json_body = operation.request_body.as_ref().is_some_and(|body| match body {
        RefOr::T(body) => body.content.contains_key("application/json"),
        RefOr::Ref(_) => true,
    });
    let mut add = |status: &str, response: Response| {
        operation.responses.responses.entry(status.to_owned()).or_insert(RefOr::T(response));
    };
    if path.starts_with("/v1/") {
        // The OpenAI dialect: every error in OpenAI's shape (`http::dialect_errors`), bad bodies as 400s.
        let error = |why: &str| json_response(why, "OpenAiErrorBody");
        if secured {
            add("401", error("No working API key or auth token"));
        }
        if json_body {
            add("400", error("The body is not JSON or a field is invalid"));
            add("413", error("The body is larger than `MAX_REQUEST_BODY_BYTES`"));
            add("415", error("The body is not sent as `application/json`"));
        }
        add("429", error("The API key's tier quota is spent (see `X-RateLimit-*` and `Retry-After`)"));
        add("503", error("PostgreSQL, Redis or every provider is unreachable; try again shortly"));
        return;
    }
    if secured {
        let why = "Not signed in: the token, session or project is missing, unknown or expired";
        add("401", json_response(why, if research { "Detail" } else { "Message" }));
    }
    if roles.iter().any(|r| r == scheme::ADMIN) {
        add("403", json_response("Not an admin", "Detail"));
    }
    if operation.request_body.is_some() {
        add("413", json_response("The body is larger than `MAX_REQUEST_BODY_BYTES`", "Detail"));
    }
    if json_body {
        add("415", json_response("The body is not sent as `application/json`", "Detail"));
        add("422", json_response("The body is not JSON, or a field is missing or invalid", "ValidationError"));
    }
    let api = path.starts_with("/api/");
    if api {
        // Every route refuses an encoded U+0000 in its URL (`request_bounds::refuse_nul_in_url`).
        add("422", json_response("A parameter is missing or invalid, or the URL holds an encoded U+0000", "ValidationError"));
    }
    if tags.iter().any(|t| t == "analytics") {
        add("400", json_response("Invalid parameter", "Detail"));
    }
    let mut rate_limited = None;
    if api && path != "/api/ping" && !crate::http::rate_limit::HEALTH_PATHS.contains(&path) {
        let mut retry = Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)));
        retry.description = Some("Seconds until the spent budget resets".to_owned());
        let why = "Too many requests from this address to this path in the current hour (`{\"message\"}`); with an API key, its \
                   tier's quota is spent (`{\"detail\"}` names the quota; see `X-RateLimit-*`)";
        let mut response = json_response(why, "Message");
        response.headers.insert("Retry-After".to_owned(), RefOr::T(retry.clone()));
        add("429", response);
        rate_limited = Some(retry);
    }
    if api && !matches!(path, "/api/ping" | "/api/user/oauth/providers" | "/api/health/live") {
        add("503", json_response("PostgreSQL or Redis is unreachable; try again shortly", "Detail"));
    }
    // A handler's own 429 (in its dialect's shape) still carries the layer's `Retry-After`.
    if let (Some(retry), Some(RefOr::T(documented))) = (rate_limited, operation.responses.responses.get_mut("429")) {
        documented.headers.entry("Retry-After".to_owned()).or_insert(RefOr::T(retry));
    }
}

/// The roles named by an operation's security requirements, and whether it has any.
fn security_roles(operation: &Operation) -> (Vec<String>, bool) {
    let Some(requirements) = &operation.security else { return (Vec::new(), false) };
    // `SecurityRequirement` keeps its map private; its JSON form is `{scheme: [role, ...]}`.
    let roles = requirements
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| serde_json::from_value::<BTreeMap<String, Vec<String>>>(v).ok())
        .flat_map(|m| m.into_values().flatten())
        .collect();
    (roles, !requirements.is_empty())
}

/// A JSON response whose body is the component schema `schema`.
fn json_response(description: &str, schema: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
}

/// Body of `POST /api/analytics/studies/create`.
#[derive(ToSchema)]
pub struct CreateStudyBody {
    /// Name (not blank).
    #[schema(pattern = "\\S")]
    name: String,
    /// What the study tests.
    description: Option<String>,
    /// ISO 8601 in any form Python's `datetime.fromisoformat` reads (`2026-01-31T12:00:00Z`,
    /// `2026-01-31T12:00` as upstream's form sends it, `2026-01-31`...); no zone means UTC. A study
    /// whose start has come is activated at once.
    starts_at: String,
    /// ISO 8601 as `starts_at`, after it; open-ended when absent.
    ends_at: Option<String>,
    /// The arms' configs (the default config is always an arm: the baseline); each must exist.
    #[schema(min_items = 1)]
    config_ids: Vec<i64>,
    /// The baseline, and where users go when the study ends.
    default_config_id: i64,
}

/// Body of `POST /api/keys`.
#[derive(ToSchema)]
pub struct NewApiKeyBody {
    /// A label (1–100 characters, no control characters).
    name: String,
    /// Bind the key to one of the caller's projects.
    project_id: Option<Uuid>,
    /// Days until the key stops working (1–3650); absent: never.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

/// Body of `POST /api/editor/projects/{project_id}/members`.
#[derive(ToSchema)]
pub struct AddMemberBody {
    /// The e-mail address of the account to add.
    #[schema(format = "email")]
    email: String,
}

/// Body of `POST /api/editor/projects/{project_id}/files`.
#[derive(ToSchema)]
pub struct NewFileBody {
    /// The file's name: a relative path such as `src/main.py`, 1–512 characters, no control
    /// characters or backslash, no white space at either end, no leading `/`, no empty, `.` or
    /// `..` segment.
    #[schema(min_length = 1, max_length = 512, example = "src/main.py")]
    name: String,
}

/// Body of `POST /api/editor/projects/{project_id}/files/rename`.
#[derive(ToSchema)]
pub struct RenameFileBody {
    /// The file's current name.
    #[schema(min_length = 1, max_length = 512, example = "src/main.py")]
    from: String,
    /// Its new name (the same rule as a new file's).
    #[schema(min_length = 1, max_length = 512, example = "src/app.py")]
    to: String,
}

/// Body of `PUT /api/admin/users/{user_id}/tier`.
#[derive(ToSchema)]
pub struct TierBody {
    /// `free`, `pro` or `enterprise`.
    #[schema(example = "pro")]
    tier: String,
}

/// Body of `POST /api/config` and `PUT /api/config/{config_id}`.
#[derive(ToSchema)]
pub struct ConfigBody {
    /// The config: a HOCON string, or a JSON object (stored as JSON, which is HOCON). Validated
    /// before it is stored: 400 with the parser's message when it is not valid.
    config_data: ConfigData,
}

/// A config as HOCON text or as a JSON object.
#[derive(ToSchema, serde::Deserialize)]
#[serde(untagged)]
pub enum ConfigData {
    /// HOCON text.
    Text(String),
    /// A JSON object.
    Object(std::collections::HashMap<String, Value>),
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
    #[schema(format = Email, min_length = 3, max_length = 50)]
    email: String,
    /// Display name (3..50 characters).
    #[schema(min_length = 3, max_length = 50)]
    name: String,
    /// 8..50 characters with an upper-case letter, a lower-case letter and a digit, no spaces.
    #[schema(min_length = 8, max_length = 50, pattern = "^\\S+$")]
    password: String,
    /// Config the plugin will run with (the plugin sends 1); 404 when it does not exist.
    #[schema(minimum = 0)]
    config_id: i64,
    /// `"google"` to sign up with a Google ID token; the plugin sends `"no_provider"`.
    provider: Option<String>,
    /// Google ID token when `provider` is `"google"`; the plugin sends `""`.
    token: Option<String>,
}

/// Body of `POST /api/user/authenticate`: e-mail and password, or `provider: "google"` with a token.
#[derive(ToSchema)]
pub struct AuthenticateBody {
    /// E-mail address (required without `provider: "google"`).
    #[schema(min_length = 3, max_length = 50)]
    email: Option<String>,
    /// Password (required without `provider: "google"`).
    #[schema(min_length = 1)]
    password: Option<String>,
    /// `"google"` for Google sign-in.
    provider: Option<String>,
    /// Google ID token.
    token: Option<String>,
}

/// Body of `PUT /api/user/update` (every field optional).
#[derive(ToSchema)]
pub struct UpdateUserBody {
    /// New name (3..50 characters).
    #[schema(min_length = 3, max_length = 50)]
    name: Option<String>,
    /// New address (3..50 characters).
    #[schema(format = Email, min_length = 3, max_length = 50)]
    email: Option<String>,
    /// Checked when given together with `password`.
    previous_password: Option<String>,
    /// New password (the rules of `POST /api/user/create`).
    #[schema(min_length = 8, max_length = 50, pattern = "^\\S+$")]
    password: Option<String>,
    /// Preferences (merged over the defaults).
    preference: Option<std::collections::HashMap<String, Value>>,
    /// Accepted, not applied (configs are assigned by admins and studies).
    #[schema(minimum = 1)]
    config_id: Option<i64>,
    /// Accepted, not applied (only the mailed link verifies an address).
    verified: Option<bool>,
}

/// Body of `POST /api/project/create`.
#[derive(ToSchema)]
pub struct CreateProjectBody {
    /// 1..100 characters.
    #[schema(min_length = 1, max_length = 100)]
    project_name: String,
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
    #[schema(max_items = 8)]
    model_ids: Vec<i64>,
    /// The editor context.
    context: ContextBody,
    /// Store the (redacted) context; default false.
    #[schema(nullable = false)]
    store_context: Option<bool>,
    /// Contextual telemetry.
    contextual_telemetry: ContextualTelemetryBody,
    /// Default true.
    #[schema(nullable = false)]
    store_contextual_telemetry: Option<bool>,
    /// Behavioral telemetry (`{}` is valid).
    behavioral_telemetry: BehavioralTelemetryBody,
    /// Default true.
    #[schema(nullable = false)]
    store_behavioral_telemetry: Option<bool>,
    /// Extra stop strings.
    #[schema(nullable = false)]
    stop_sequences: Option<Vec<String>>,
    /// Ours: a new-token budget below the model's, 1..=256.
    #[schema(minimum = 1, maximum = 256)]
    max_new_tokens: Option<i64>,
    /// Ours: add `debug` to each item — the prompt the model saw and the retrieved snippets
    /// (`{prompt, retrieval_enabled, retrieval_query, snippets: [{file_name, start_line, end_line,
    /// score, content}], retrieval_ms, retrieval_reused, note}`). Default false.
    #[schema(nullable = false)]
    debug: Option<bool>,
}

/// `ContextData`: the editor around the caret.
#[derive(ToSchema)]
pub struct ContextBody {
    /// Text before the caret.
    prefix: String,
    /// Text after the caret.
    suffix: String,
    /// The edited file (default `unknown_file`).
    file_name: Option<String>,
    /// Selected text.
    selected_text: Option<String>,
    /// Project files to put in the prompt: names, or `["*"]` for all but the edited one.
    context_files: Option<Vec<String>>,
}

/// `ContextualTelemetryData`.
#[derive(ToSchema)]
pub struct ContextualTelemetryBody {
    /// `plugin_version` id.
    #[schema(minimum = 1)]
    version_id: i64,
    /// `trigger_type` id.
    #[schema(minimum = 1)]
    trigger_type_id: i64,
    /// `programming_language` id.
    #[schema(minimum = 1)]
    language_id: i64,
    /// File path.
    file_path: Option<String>,
    /// Caret line.
    #[schema(minimum = 0)]
    caret_line: Option<i64>,
    /// Document length in characters.
    #[schema(minimum = 0)]
    document_char_length: Option<i64>,
    /// Caret position in the document, 0..=1.
    #[schema(minimum = 0, maximum = 1)]
    relative_document_position: Option<f64>,
}

/// `BehavioralTelemetryData`.
#[derive(ToSchema)]
pub struct BehavioralTelemetryBody {
    /// ms since a completion was last shown.
    #[schema(minimum = 0)]
    time_since_last_shown: Option<i64>,
    /// ms since a completion was last accepted.
    #[schema(minimum = 0)]
    time_since_last_accepted: Option<i64>,
    /// Typing speed.
    #[schema(minimum = 0)]
    typing_speed: Option<f64>,
}

/// `FeedbackCompletion`.
#[derive(ToSchema)]
pub struct FeedbackBody {
    /// The completion query.
    meta_query_id: Uuid,
    /// The model whose completion this is about.
    #[schema(minimum = 0)]
    model_id: i64,
    /// Whether it was accepted.
    was_accepted: bool,
    /// What the user finally typed.
    ground_truth: Option<String>,
}

/// `UpdateMultiFileContext`: `{"context_updates": {"<file>": [{change_type, start_line, end_line, new_lines}]}}`.
#[derive(ToSchema)]
pub struct MultiFileUpdateBody {
    /// File name → its changes, applied from the highest line down.
    context_updates: std::collections::HashMap<String, Vec<FileChange>>,
}

/// One change to a file of the multi-file context (lines from 0, end exclusive, as Python slices).
#[derive(ToSchema)]
pub struct FileChange {
    /// What the change does.
    change_type: ChangeType,
    /// First line.
    #[schema(minimum = 0, maximum = 4294967295_i64)]
    start_line: i64,
    /// End line.
    #[schema(minimum = 0, maximum = 4294967295_i64)]
    end_line: i64,
    /// The new lines (`update` and `insert`).
    #[schema(nullable = false)]
    new_lines: Option<Vec<String>>,
}

/// `change_type` of a [`FileChange`].
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ChangeType {
    /// Replace the lines.
    Update,
    /// Insert before `start_line`.
    Insert,
    /// Remove the lines.
    Remove,
}

/// `RequestChatCompletion`.
#[derive(ToSchema)]
pub struct RequestChatBody {
    /// Models to ask.
    #[schema(max_items = 8)]
    model_ids: Vec<i64>,
    /// The conversation, chosen by the client.
    chat_id: Uuid,
    /// `[[role, content], ...]` with role `user`, `assistant` or `system`; at least one `user`.
    #[schema(min_items = 1)]
    messages: Vec<ChatMessage>,
    /// Editor context, as for completions.
    context: ContextBody,
    /// Store the (redacted) context; default false.
    #[schema(nullable = false)]
    store_context: Option<bool>,
    /// Contextual telemetry, as for completions.
    contextual_telemetry: ContextualTelemetryBody,
    /// Default true.
    #[schema(nullable = false)]
    store_contextual_telemetry: Option<bool>,
    /// Behavioral telemetry, as for completions.
    behavioral_telemetry: BehavioralTelemetryBody,
    /// Default true.
    #[schema(nullable = false)]
    store_behavioral_telemetry: Option<bool>,
    /// Recorded only.
    #[schema(nullable = false)]
    web_enabled: Option<bool>,
}

/// `[role, content]`: one message of a chat.
#[derive(ToSchema)]
#[schema(value_type = Vec<String>, min_items = 2, max_items = 2)]
pub struct ChatMessage(Vec<String>);

/// `POST /v1/completions` (OpenAI's legacy completions; other OpenAI fields are accepted and ignored).
#[derive(ToSchema)]
pub struct OpenAiCompletionBody {
    /// A model `GET /v1/models` lists.
    #[schema(min_length = 1, max_length = 256)]
    model: String,
    /// The text to continue (a string, or an array holding one string).
    prompt: String,
    /// The code after the caret: fill in between `prompt` and it.
    suffix: Option<String>,
    #[schema(minimum = 1, maximum = 4096)]
    max_tokens: Option<u32>,
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f32>,
    #[schema(exclusive_minimum = 0, maximum = 1)]
    top_p: Option<f32>,
    /// A string or up to four strings.
    stop: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 8)]
    n: Option<u32>,
    seed: Option<i64>,
    #[schema(minimum = 0, maximum = 5)]
    logprobs: Option<u32>,
    stream: Option<bool>,
    stream_options: Option<OpenAiStreamOptions>,
    /// Only `false`.
    echo: Option<bool>,
    user: Option<String>,
}

/// `stream_options`.
#[derive(ToSchema)]
pub struct OpenAiStreamOptions {
    /// End the stream with a chunk holding the usage.
    include_usage: Option<bool>,
}

/// A chat message.
#[derive(ToSchema)]
pub struct OpenAiChatMessage {
    /// `system`, `developer`, `user` or `assistant`.
    role: String,
    /// Text, or an array of `{"type": "text", "text": …}` parts.
    content: String,
}

/// `POST /v1/chat/completions` (other OpenAI fields are accepted and ignored).
#[derive(ToSchema)]
pub struct OpenAiChatBody {
    #[schema(min_length = 1, max_length = 256)]
    model: String,
    #[schema(min_items = 1, max_items = 256)]
    messages: Vec<OpenAiChatMessage>,
    #[schema(minimum = 1, maximum = 4096)]
    max_tokens: Option<u32>,
    #[schema(minimum = 1, maximum = 4096)]
    max_completion_tokens: Option<u32>,
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f32>,
    #[schema(exclusive_minimum = 0, maximum = 1)]
    top_p: Option<f32>,
    stop: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 8)]
    n: Option<u32>,
    seed: Option<i64>,
    logprobs: Option<bool>,
    #[schema(minimum = 0, maximum = 5)]
    top_logprobs: Option<u32>,
    stream: Option<bool>,
    stream_options: Option<OpenAiStreamOptions>,
}

/// `POST /v1/embeddings`.
#[derive(ToSchema)]
pub struct OpenAiEmbeddingBody {
    /// `sentence-transformers/all-MiniLM-L6-v2`.
    model: String,
    /// A text or 1–64 texts of 1–8,192 characters.
    input: Vec<String>,
    /// `float` (default) or `base64`.
    encoding_format: Option<String>,
}
