//! The task API's wire (`/api/ai/{generate,complete,analyze,refactor,document}`, `/api/ai/health`,
//! `/api/status`): the request body with its bounds, checked field by field with a message that
//! names the field (a client of this API reads `error`, not a list of problems), and the response
//! bodies the handlers serialise and the OpenAPI document shows.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Largest `content` accepted, in bytes, whatever the caller's tier allows.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Largest `instructions`, in bytes.
pub const MAX_INSTRUCTIONS_BYTES: usize = 4 * 1024;
/// Longest `language`, in characters.
pub const MAX_LANGUAGE_CHARS: usize = 64;
/// Largest `max_tokens`.
pub const MAX_TOKENS: u64 = 2048;

/// The five tasks; each has its prompt template on the model row under this name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Code from a description.
    Generate,
    /// The given code continued.
    Complete,
    /// Issues found, with line numbers.
    Analyze,
    /// The code rewritten, with an explanation.
    Refactor,
    /// The code with docstrings and comments.
    Document,
}

impl TaskKind {
    /// The template's key under `task_templates` (and the path's last word).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Complete => "complete",
            Self::Analyze => "analyze",
            Self::Refactor => "refactor",
            Self::Document => "document",
        }
    }
}

/// A task request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The code or description (`content`, or `code` as an alias).
    pub content: String,
    /// The programming language.
    pub language: String,
    /// Extra instructions.
    pub instructions: Option<String>,
    /// A model row's name (default: the default chat model).
    pub model: Option<String>,
    /// Only this provider of the chain.
    pub provider: Option<String>,
    /// New-token budget (1..=2048).
    pub max_tokens: Option<usize>,
    /// Temperature (0..=2).
    pub temperature: Option<f32>,
}

/// The request body as the OpenAPI document shows it.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TaskRequestBody {
    /// The code (or, for `generate`, the description); at most 64 KiB and the caller's
    /// `max_prompt_chars`. Either this or `code`.
    pub content: Option<String>,
    /// Alias of `content`.
    pub code: Option<String>,
    /// The programming language (at most 64 characters).
    pub language: String,
    /// Extra instructions (at most 4 KiB).
    pub instructions: Option<String>,
    /// A model's name (`GET /api/config/models`); default: the default chat model.
    pub model: Option<String>,
    /// Only this provider (`local` or a configured name).
    pub provider: Option<String>,
    /// New-token budget, 1 to 2048.
    #[schema(minimum = 1, maximum = 2048)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
}

impl TaskRequest {
    /// Reads a body; the error names the field and the rule it broke.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let object = body.as_object().ok_or("the body must be a JSON object")?;
        let text = |name: &str| -> Result<Option<String>, String> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!("`{name}` must be a string")),
            }
        };
        let content = match (text("content")?, text("code")?) {
            (Some(content), _) | (None, Some(content)) => content,
            (None, None) => return Err("`content` (or `code`) is required".into()),
        };
        if content.trim().is_empty() {
            return Err("`content` must not be empty".into());
        }
        if content.len() > MAX_CONTENT_BYTES {
            return Err(format!("`content` is {} bytes; at most {MAX_CONTENT_BYTES} are accepted", content.len()));
        }
        let language = text("language")?.ok_or("`language` is required")?;
        let language = language.trim().to_owned();
        if language.is_empty() || language.chars().count() > MAX_LANGUAGE_CHARS {
            return Err(format!("`language` must be 1 to {MAX_LANGUAGE_CHARS} characters"));
        }
        let instructions = text("instructions")?.filter(|i| !i.trim().is_empty());
        if instructions.as_ref().is_some_and(|i| i.len() > MAX_INSTRUCTIONS_BYTES) {
            return Err(format!("`instructions` may be at most {MAX_INSTRUCTIONS_BYTES} bytes"));
        }
        let max_tokens = match object.get("max_tokens") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64() {
                Some(n) if (1..=MAX_TOKENS).contains(&n) => Some(usize::try_from(n).unwrap_or(1)),
                _ => return Err(format!("`max_tokens` must be an integer from 1 to {MAX_TOKENS}")),
            },
        };
        let temperature = match object.get("temperature") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_f64() {
                #[allow(clippy::cast_possible_truncation)]
                Some(t) if (0.0..=2.0).contains(&t) => Some(t as f32),
                _ => return Err("`temperature` must be a number from 0 to 2".into()),
            },
        };
        Ok(Self {
            content,
            language,
            instructions,
            model: text("model")?.filter(|m| !m.is_empty()),
            provider: text("provider")?.filter(|p| !p.is_empty()),
            max_tokens,
            temperature,
        })
    }
}

/// Token counts of a task.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct TaskUsage {
    /// Prompt tokens read.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Both.
    pub total_tokens: u32,
}

/// How serious an issue `analyze` found is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A bug.
    Error,
    /// A likely problem.
    Warning,
    /// A remark.
    Info,
}

/// One issue `analyze` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CodeIssue {
    /// The line of the input it is about (1-based), when the model named one that exists.
    pub line: Option<u32>,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

/// A task's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskResponse {
    /// Always `true`.
    pub success: bool,
    /// The result: code (generate, complete, refactor, document) or the model's report (analyze).
    pub content: String,
    /// The provider that answered: `local` (this installation's workers) or a configured name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Token counts.
    pub usage: TaskUsage,
    /// Milliseconds from the request to the answer.
    pub latency_ms: u64,
    /// `analyze` only: the issues parsed from the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issues: Option<Vec<CodeIssue>>,
    /// `refactor` only: what was changed and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// The task API's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskError {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: String,
    /// A machine-readable code (`invalid_request`, `not_found`, `service_unavailable`, ...).
    pub code: String,
}

/// One provider of the chain, as health reports show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderHealth {
    /// `local` or the configured name.
    pub name: String,
    /// Lower is tried first.
    pub priority: i32,
    /// Whether it is being skipped after recent failures.
    pub circuit_open: bool,
    /// The models it serves (the live workers' for `local`; the mapping's names, `*` = any, for
    /// the others).
    pub models: Vec<String>,
}

/// `GET /api/ai/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AiHealth {
    /// Whether some provider can serve (`false` with the 503, which keeps this body through the
    /// task dialect's error translation).
    pub success: bool,
    /// `ok` (every provider can serve), `degraded` (some can) or `unavailable` (none can).
    pub status: String,
    /// The chain, in order.
    pub providers: Vec<ProviderHealth>,
    /// Live local workers.
    pub local_workers: usize,
}

/// The default chat model and whether some provider serves it now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefaultModelStatus {
    /// Its name (`null` when no chat model is configured).
    pub name: Option<String>,
    /// Whether a live worker or a provider with a closed circuit serves it.
    pub served: bool,
}

/// `GET /api/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceStatus {
    /// Always `true` (the service answered).
    pub success: bool,
    /// The server's version.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// The provider chain.
    pub providers: Vec<ProviderHealth>,
    /// The default chat model.
    pub default_model: DefaultModelStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_body_is_read_and_code_is_an_alias() {
        let request =
            TaskRequest::parse(&json!({"code": "x = 1", "language": "python", "instructions": "be brief", "max_tokens": 64, "temperature": 0.5}))
                .expect("valid");
        assert_eq!(request.content, "x = 1");
        assert_eq!((request.max_tokens, request.temperature), (Some(64), Some(0.5)));
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let error = |body: Value| TaskRequest::parse(&body).unwrap_err();
        assert!(error(json!([])).contains("object"));
        assert!(error(json!({"language": "python"})).contains("`content`"));
        assert!(error(json!({"content": 5, "language": "python"})).contains("`content` must be a string"));
        assert!(error(json!({"content": "x"})).contains("`language`"));
        assert!(error(json!({"content": "x", "language": "p".repeat(65)})).contains("`language`"));
        assert!(error(json!({"content": "x".repeat(MAX_CONTENT_BYTES + 1), "language": "c"})).contains("bytes"));
        assert!(error(json!({"content": "x", "language": "c", "instructions": "i".repeat(4097)})).contains("`instructions`"));
        for bad in [json!(0), json!(2049), json!(-1), json!(1.5), json!("10"), json!(1e300)] {
            assert!(error(json!({"content": "x", "language": "c", "max_tokens": bad})).contains("`max_tokens`"));
        }
        for bad in [json!(-0.1), json!(2.5), json!("hot")] {
            assert!(error(json!({"content": "x", "language": "c", "temperature": bad})).contains("`temperature`"));
        }
    }
}
