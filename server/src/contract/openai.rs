//! The OpenAI-compatible API's wire format (`/v1/models`, `/v1/completions`,
//! `/v1/chat/completions`, `/v1/embeddings`): request bodies read field by field into checked
//! values, the response and stream-chunk bodies, and errors in OpenAI's shape. Off-the-shelf
//! clients (the official SDKs, Continue, editors' OpenAI integrations) parse exactly these shapes,
//! and report a problem by its `param`, so a bad field is a 400 naming it — never pydantic's 422.

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// Largest `max_tokens` a request may ask for (the local models' context is 4,096 tokens).
pub const MAX_TOKENS_LIMIT: i64 = 4_096;
/// `max_tokens` of a legacy completion that names none, as OpenAI's.
pub const DEFAULT_COMPLETION_TOKENS: usize = 16;
/// Most choices per request (`n`): each is a full generation on a worker.
pub const MAX_CHOICES: i64 = 8;
/// Most stop sequences, as OpenAI's.
pub const MAX_STOPS: usize = 4;
/// Longest stop sequence, in characters.
pub const MAX_STOP_CHARS: usize = 256;
/// Most messages of a chat.
pub const MAX_MESSAGES: usize = 256;
/// Most texts embedded per request.
pub const MAX_EMBEDDING_INPUTS: usize = 64;
/// Longest text embedded, in characters.
pub const MAX_EMBEDDING_CHARS: usize = 8_192;
/// Most alternatives per token a request may ask for (`logprobs`/`top_logprobs`).
pub const MAX_TOP_LOGPROBS: i64 = 5;

/// An error as OpenAI answers it: `status {"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub message: String,
    /// OpenAI's `type` (`invalid_request_error`, `authentication_error`, `api_error`, …).
    pub kind: &'static str,
    /// The request field at fault.
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `context_length_exceeded`, …).
    pub code: Option<&'static str>,
}

impl OpenAiError {
    /// `400 invalid_request_error` about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), kind: "invalid_request_error", param: Some(param.to_owned()), code: None }
    }

    /// `400 invalid_request_error` about the request as a whole.
    pub fn bad_request(message: impl Into<String>, code: Option<&'static str>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), kind: "invalid_request_error", param: None, code }
    }

    /// `404 model_not_found`.
    pub fn model_not_found(model: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            kind: "invalid_request_error",
            param: Some("model".to_owned()),
            code: Some("model_not_found"),
        }
    }

    /// `503 api_error`: no provider could answer now; clients retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into(), kind: "api_error", param: None, code: Some("service_unavailable") }
    }

    /// With this code.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The JSON body (also the payload of an error event in a stream).
    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

/// OpenAI's error body, as documented.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    /// The error.
    pub error: OpenAiErrorDetail,
}

/// The inside of [`OpenAiErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    /// What went wrong.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`,
    /// `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault.
    pub param: Option<String>,
    /// A machine-readable code.
    pub code: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// Sampling and length fields shared by completions and chats, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// New-token budget.
    pub max_tokens: Option<usize>,
    /// 0..=2.
    pub temperature: Option<f32>,
    /// 0 (exclusive)..=1.
    pub top_p: Option<f32>,
    /// RNG seed (negative seeds are taken as their bits).
    pub seed: Option<u64>,
    /// Up to four stop sequences.
    pub stop: Vec<String>,
    /// Choices, 1..=8.
    pub n: u32,
}

/// `POST /v1/completions`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The model row's name.
    pub model: String,
    /// The text to continue (the code before the caret when `suffix` is given).
    pub prompt: String,
    /// The code after the caret: asks for fill-in-the-middle.
    pub suffix: Option<String>,
    /// Sampling and length.
    pub sampling: Sampling,
    /// Report the chosen tokens' log-probabilities (the value is the alternatives asked for).
    pub logprobs: Option<u8>,
    /// Server-sent events.
    pub stream: bool,
    /// A last chunk with the usage.
    pub include_usage: bool,
}

/// A chat message's author, as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    /// `system` (or `developer`, OpenAI's newer name for it).
    System,
    /// `user`.
    User,
    /// `assistant`.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Its author.
    pub role: ChatRole,
    /// Its text (text parts joined).
    pub content: String,
}

/// `POST /v1/chat/completions`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model row's name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling and length.
    pub sampling: Sampling,
    /// Report the chosen tokens' log-probabilities.
    pub logprobs: bool,
    /// Alternatives per token asked for (0..=5; only the chosen token is reported).
    pub top_logprobs: Option<u8>,
    /// Server-sent events.
    pub stream: bool,
    /// A last chunk with the usage.
    pub include_usage: bool,
}

/// `POST /v1/embeddings`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingRequest {
    /// The model's name (must be the embedding model).
    pub model: String,
    /// The texts.
    pub inputs: Vec<String>,
    /// Vectors as base64 of little-endian `f32`s (what the Node SDK asks for) instead of numbers.
    pub base64: bool,
}

/// A JSON object read field by field; the first problem is the answer (as OpenAI reports one).
struct Body<'a>(&'a Map<String, Value>);

impl<'a> Body<'a> {
    fn of(body: &'a Value) -> Result<Self, OpenAiError> {
        body.as_object().map(Body).ok_or_else(|| OpenAiError::bad_request("The request body must be a JSON object.", None))
    }

    /// The field, `None` when absent or `null` (the SDKs send `null` for "not given").
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn model(&self) -> Result<String, OpenAiError> {
        match self.get("model") {
            None => Err(OpenAiError::invalid("model", "You must provide a model parameter.")),
            Some(Value::String(model)) if !model.trim().is_empty() && model.chars().count() <= 256 => Ok(model.clone()),
            Some(_) => Err(OpenAiError::invalid("model", "`model` must be a non-empty string of at most 256 characters.")),
        }
    }

    fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, OpenAiError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(OpenAiError::invalid(name, format!("`{name}` must be an integer from {min} to {max}; got {value}."))),
        }
    }

    fn number(&self, name: &str, min: f64, min_inclusive: bool, max: f64) -> Result<Option<f32>, OpenAiError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        let low = if min_inclusive { "from" } else { "above" };
        match value.as_f64() {
            Some(x) if (x > min || (min_inclusive && x >= min)) && x <= max => Ok(Some(x as f32)),
            _ => Err(OpenAiError::invalid(name, format!("`{name}` must be a number {low} {min} up to {max}; got {value}."))),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, OpenAiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(OpenAiError::invalid(name, format!("`{name}` must be a boolean."))),
        }
    }

    fn stop(&self) -> Result<Vec<String>, OpenAiError> {
        let stops = match self.get("stop") {
            None => return Ok(Vec::new()),
            Some(Value::String(stop)) => vec![stop.clone()],
            Some(Value::Array(items)) if items.len() <= MAX_STOPS => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| OpenAiError::invalid("stop", "`stop` must be a string or an array of strings."))?,
            Some(Value::Array(_)) => return Err(OpenAiError::invalid("stop", format!("`stop` takes at most {MAX_STOPS} sequences."))),
            Some(_) => return Err(OpenAiError::invalid("stop", "`stop` must be a string or an array of strings.")),
        };
        if stops.iter().any(|s| s.is_empty() || s.chars().count() > MAX_STOP_CHARS) {
            return Err(OpenAiError::invalid("stop", format!("Each stop sequence must have 1 to {MAX_STOP_CHARS} characters.")));
        }
        Ok(stops)
    }

    fn seed(&self) -> Result<Option<u64>, OpenAiError> {
        match self.get("seed") {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_i64().map(|n| n.cast_unsigned()))
                .map(Some)
                .ok_or_else(|| OpenAiError::invalid("seed", "`seed` must be an integer.")),
        }
    }

    /// Sampling fields; `max_tokens_names` in order of preference.
    fn sampling(&self, max_tokens_names: &[&str], default_max_tokens: Option<usize>) -> Result<Sampling, OpenAiError> {
        let mut max_tokens = None;
        for name in max_tokens_names {
            if let Some(n) = self.integer(name, 1, MAX_TOKENS_LIMIT)? {
                max_tokens = Some(n);
                break;
            }
        }
        Ok(Sampling {
            max_tokens: max_tokens.map_or(default_max_tokens, |n| usize::try_from(n).ok()),
            temperature: self.number("temperature", 0.0, true, 2.0)?,
            top_p: self.number("top_p", 0.0, false, 1.0)?,
            seed: self.seed()?,
            stop: self.stop()?,
            n: self.integer("n", 1, MAX_CHOICES)?.map_or(1, |n| u32::try_from(n).unwrap_or(1)),
        })
    }

    /// `stream` and `stream_options.include_usage`.
    fn streaming(&self) -> Result<(bool, bool), OpenAiError> {
        let stream = self.boolean("stream")?.unwrap_or(false);
        let include_usage = match self.get("stream_options") {
            None => false,
            Some(Value::Object(options)) => match options.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(OpenAiError::invalid("stream_options.include_usage", "`include_usage` must be a boolean.")),
            },
            Some(_) => return Err(OpenAiError::invalid("stream_options", "`stream_options` must be an object.")),
        };
        if include_usage && !stream {
            return Err(OpenAiError::invalid("stream_options", "`stream_options` is only allowed when `stream` is true."));
        }
        Ok((stream, include_usage))
    }
}

impl CompletionRequest {
    /// Reads and checks a body.
    pub fn parse(body: &Value) -> Result<Self, OpenAiError> {
        let b = Body::of(body)?;
        let model = b.model()?;
        let prompt = match b.get("prompt") {
            Some(Value::String(prompt)) => prompt.clone(),
            Some(Value::Array(items)) => match items.as_slice() {
                [Value::String(prompt)] => prompt.clone(),
                [] => return Err(OpenAiError::invalid("prompt", "`prompt` must not be empty.")),
                [_] => return Err(OpenAiError::invalid("prompt", "`prompt` must be a string; token arrays are not supported.")),
                _ => return Err(OpenAiError::invalid("prompt", "Only one prompt per request is supported; send one string.")),
            },
            None => return Err(OpenAiError::invalid("prompt", "You must provide a prompt.")),
            Some(_) => return Err(OpenAiError::invalid("prompt", "`prompt` must be a string.")),
        };
        let suffix = match b.get("suffix") {
            None => None,
            Some(Value::String(suffix)) => Some(suffix.clone()),
            Some(_) => return Err(OpenAiError::invalid("suffix", "`suffix` must be a string.")),
        };
        if prompt.is_empty() && suffix.as_deref().is_none_or(str::is_empty) {
            return Err(OpenAiError::invalid("prompt", "`prompt` must not be empty."));
        }
        if b.boolean("echo")? == Some(true) {
            return Err(OpenAiError::invalid("echo", "`echo` is not supported."));
        }
        if b.integer("best_of", 1, MAX_CHOICES)?.is_some_and(|n| n > 1) {
            return Err(OpenAiError::invalid("best_of", "`best_of` above 1 is not supported; use `n`."));
        }
        let logprobs = b.integer("logprobs", 0, MAX_TOP_LOGPROBS)?.map(|n| u8::try_from(n).unwrap_or(0));
        let sampling = b.sampling(&["max_tokens"], Some(DEFAULT_COMPLETION_TOKENS))?;
        let (stream, include_usage) = b.streaming()?;
        Ok(Self { model, prompt, suffix, sampling, logprobs, stream, include_usage })
    }
}

impl ChatRequest {
    /// Reads and checks a body.
    pub fn parse(body: &Value) -> Result<Self, OpenAiError> {
        let b = Body::of(body)?;
        let model = b.model()?;
        let messages = match b.get("messages") {
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_MESSAGES => {
                items.iter().enumerate().map(|(i, item)| message(i, item)).collect::<Result<Vec<_>, _>>()?
            }
            Some(Value::Array(_)) => return Err(OpenAiError::invalid("messages", format!("`messages` must hold 1 to {MAX_MESSAGES} messages."))),
            None => return Err(OpenAiError::invalid("messages", "You must provide `messages`.")),
            Some(_) => return Err(OpenAiError::invalid("messages", "`messages` must be an array.")),
        };
        let logprobs = b.boolean("logprobs")?.unwrap_or(false);
        let top_logprobs = b.integer("top_logprobs", 0, MAX_TOP_LOGPROBS)?.map(|n| u8::try_from(n).unwrap_or(0));
        if top_logprobs.is_some() && !logprobs {
            return Err(OpenAiError::invalid("top_logprobs", "`top_logprobs` needs `logprobs` set to true."));
        }
        for unsupported in ["tools", "functions", "audio"] {
            if b.get(unsupported).is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty())) {
                return Err(OpenAiError::invalid(unsupported, format!("`{unsupported}` is not supported.")));
            }
        }
        let sampling = b.sampling(&["max_completion_tokens", "max_tokens"], None)?;
        let (stream, include_usage) = b.streaming()?;
        Ok(Self { model, messages, sampling, logprobs, top_logprobs, stream, include_usage })
    }
}

/// The `index`th message.
fn message(index: usize, item: &Value) -> Result<ChatMessage, OpenAiError> {
    let at = |field: &str| format!("messages[{index}].{field}");
    let Some(object) = item.as_object() else {
        return Err(OpenAiError::invalid(&format!("messages[{index}]"), "Each message must be an object."));
    };
    let role = match object.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => ChatRole::System,
        Some("user") => ChatRole::User,
        Some("assistant") => ChatRole::Assistant,
        Some(other) => {
            let shown: String = other.chars().take(40).collect();
            return Err(OpenAiError::invalid(&at("role"), format!("Unsupported role {shown:?}: use system, developer, user or assistant.")));
        }
        None => return Err(OpenAiError::invalid(&at("role"), "Each message needs a string `role`.")),
    };
    let content = match object.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (p, part) in parts.iter().enumerate() {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(piece)) => text.push_str(piece),
                    _ => {
                        return Err(OpenAiError::invalid(
                            &format!("messages[{index}].content[{p}]"),
                            "Only text parts (`{\"type\": \"text\", \"text\": …}`) are supported.",
                        ));
                    }
                }
            }
            text
        }
        None | Some(Value::Null) if role == ChatRole::Assistant => String::new(),
        _ => return Err(OpenAiError::invalid(&at("content"), "`content` must be a string or an array of text parts.")),
    };
    Ok(ChatMessage { role, content })
}

impl EmbeddingRequest {
    /// Reads and checks a body.
    pub fn parse(body: &Value) -> Result<Self, OpenAiError> {
        let b = Body::of(body)?;
        let model = b.model()?;
        let not_text = || OpenAiError::invalid("input", "`input` must be a string or an array of strings; token arrays are not supported.");
        let inputs = match b.get("input") {
            Some(Value::String(text)) => vec![text.clone()],
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_EMBEDDING_INPUTS => {
                items.iter().map(|item| item.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(not_text)?
            }
            Some(Value::Array(_)) => return Err(OpenAiError::invalid("input", format!("`input` must hold 1 to {MAX_EMBEDDING_INPUTS} texts."))),
            None => return Err(OpenAiError::invalid("input", "You must provide `input`.")),
            Some(_) => return Err(not_text()),
        };
        if let Some(i) = inputs.iter().position(|t| t.is_empty() || t.chars().count() > MAX_EMBEDDING_CHARS) {
            return Err(OpenAiError::invalid(&format!("input[{i}]"), format!("Each input must have 1 to {MAX_EMBEDDING_CHARS} characters.")));
        }
        let base64 = match b.get("encoding_format").map(|v| v.as_str()) {
            None | Some(Some("float")) => false,
            Some(Some("base64")) => true,
            Some(_) => return Err(OpenAiError::invalid("encoding_format", "`encoding_format` must be \"float\" or \"base64\".")),
        };
        if let Some(dimensions) = b.get("dimensions")
            && dimensions.as_u64() != Some(EMBEDDING_DIMENSIONS as u64)
        {
            return Err(OpenAiError::invalid("dimensions", format!("This model's vectors have {EMBEDDING_DIMENSIONS} dimensions.")));
        }
        Ok(Self { model, inputs, base64 })
    }
}

/// Dimensions of the embedding model's vectors.
pub const EMBEDDING_DIMENSIONS: usize = 384;

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// `GET /v1/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelCard>,
}

/// One model a request may name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCard {
    /// The name to send as `model`.
    pub id: String,
    /// `model`.
    pub object: &'static str,
    /// Unix seconds (when this server started serving it).
    pub created: i64,
    /// `code4me` for local models, else the provider's name.
    pub owned_by: String,
}

/// Token counts of a generation.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Usage {
    /// Tokens read.
    pub prompt_tokens: u32,
    /// Tokens generated over all choices.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
}

/// The legacy API's log-probabilities of one choice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletionLogprobs {
    /// The chosen tokens' texts.
    pub tokens: Vec<String>,
    /// Their log-probabilities.
    pub token_logprobs: Vec<f64>,
    /// Alternatives per token: not reported (`null`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub top_logprobs: Option<Vec<Value>>,
    /// Each token's character offset in prompt + completion.
    pub text_offset: Vec<usize>,
}

/// One choice of a completion (or a streamed piece of one).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletionChoice {
    /// The text (of this piece, when streamed).
    pub text: String,
    /// Which choice.
    pub index: u32,
    /// Log-probabilities, when asked for.
    pub logprobs: Option<CompletionLogprobs>,
    /// `stop` or `length`; `null` in streamed pieces.
    pub finish_reason: Option<&'static str>,
}

/// `POST /v1/completions`'s answer, and each streamed chunk of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Completion {
    /// `cmpl-<query id>`.
    pub id: String,
    /// `text_completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The model.
    pub model: String,
    /// The choices.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (the last chunk only, when streamed with `include_usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The provider that answered (`local` or a configured one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// An assistant message of a chat answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: &'static str,
    /// The answer.
    pub content: String,
}

/// One chosen token with its log-probability (chat API).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its log-probability.
    pub logprob: f64,
    /// Its UTF-8 bytes.
    pub bytes: Vec<u8>,
    /// Alternatives: not reported (empty).
    #[schema(value_type = Vec<Object>)]
    pub top_logprobs: Vec<Value>,
}

/// The chat API's log-probabilities of one choice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatLogprobs {
    /// The chosen tokens, in order.
    pub content: Vec<TokenLogprob>,
}

/// One choice of a chat answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatChoice {
    /// Which choice.
    pub index: u32,
    /// The answer.
    pub message: AssistantMessage,
    /// Log-probabilities, when asked for.
    pub logprobs: Option<ChatLogprobs>,
    /// `stop` or `length`.
    pub finish_reason: &'static str,
}

/// `POST /v1/chat/completions`'s answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-<query id>`.
    pub id: String,
    /// `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The model.
    pub model: String,
    /// The choices.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: Usage,
    /// The provider that answered.
    pub provider: String,
}

/// What a streamed chat chunk adds to a choice.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ChatDelta {
    /// `assistant`, in each choice's first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One choice of a streamed chat chunk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatChunkChoice {
    /// Which choice.
    pub index: u32,
    /// What it adds.
    pub delta: ChatDelta,
    /// Not reported while streaming (`null`).
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// `stop` or `length` in the choice's last chunk, else `null`.
    pub finish_reason: Option<&'static str>,
}

/// A streamed chat chunk (`data: {…}` of the event stream).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatChunk {
    /// `chatcmpl-<query id>`, the same in every chunk.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The model.
    pub model: String,
    /// The choices' pieces (empty in the usage chunk).
    pub choices: Vec<ChatChunkChoice>,
    /// Token counts (the usage chunk only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One vector: numbers, or base64 of little-endian `f32`s.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`.
    Base64(String),
}

/// One input's vector.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Embedding {
    /// `embedding`.
    pub object: &'static str,
    /// The input's position.
    pub index: usize,
    /// The vector (384 dimensions, unit length).
    pub embedding: EmbeddingVector,
}

/// Token counts of an embedding request.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    /// Tokens read (estimated as characters / 4, rounded up).
    pub prompt_tokens: u32,
    /// The same.
    pub total_tokens: u32,
}

/// `POST /v1/embeddings`'s answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmbeddingList {
    /// `list`.
    pub object: &'static str,
    /// One vector per input, in order.
    pub data: Vec<Embedding>,
    /// The model.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_takes_openais_fields_and_defaults() {
        let parsed =
            CompletionRequest::parse(&json!({"model": "m", "prompt": ["def f("], "stop": "\n", "n": 2, "seed": -1, "user": "x"})).expect("valid");
        assert_eq!(parsed.prompt, "def f(");
        assert_eq!(parsed.sampling.max_tokens, Some(DEFAULT_COMPLETION_TOKENS));
        assert_eq!(parsed.sampling.stop, vec!["\n".to_owned()]);
        assert_eq!((parsed.sampling.n, parsed.sampling.seed), (2, Some(u64::MAX)));
        assert!(parsed.suffix.is_none() && !parsed.stream);
    }

    #[test]
    fn bad_fields_are_400s_naming_the_field() {
        let param = |body: Value| CompletionRequest::parse(&body).expect_err("invalid").param;
        assert_eq!(param(json!({"prompt": "x"})).as_deref(), Some("model"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "max_tokens": -1})).as_deref(), Some("max_tokens"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "max_tokens": 1e12})).as_deref(), Some("max_tokens"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "n": 1000})).as_deref(), Some("n"));
        assert_eq!(param(json!({"model": "m", "prompt": ["a", "b"]})).as_deref(), Some("prompt"));
        assert_eq!(param(json!({"model": "m", "prompt": [1, 2]})).as_deref(), Some("prompt"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "echo": true})).as_deref(), Some("echo"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]})).as_deref(), Some("stop"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "top_p": 0})).as_deref(), Some("top_p"));
        assert_eq!(param(json!({"model": "m", "prompt": "x", "stream_options": {"include_usage": true}})).as_deref(), Some("stream_options"));
        let error = CompletionRequest::parse(&json!([])).expect_err("not an object");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn chat_messages_take_text_parts_and_refuse_other_roles() {
        let body = json!({"model": "m", "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
        ], "max_completion_tokens": 5});
        let parsed = ChatRequest::parse(&body).expect("valid");
        assert_eq!(parsed.messages[0].role, ChatRole::System);
        assert_eq!(parsed.messages[1].content, "ab");
        assert_eq!(parsed.sampling.max_tokens, Some(5));
        let tool = json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]});
        assert_eq!(ChatRequest::parse(&tool).expect_err("role").param.as_deref(), Some("messages[0].role"));
        let image = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]});
        assert_eq!(ChatRequest::parse(&image).expect_err("part").param.as_deref(), Some("messages[0].content[0]"));
        assert!(ChatRequest::parse(&json!({"model": "m", "messages": []})).is_err());
    }

    #[test]
    fn embeddings_take_texts_only() {
        let parsed = EmbeddingRequest::parse(&json!({"model": "e", "input": ["a", "b"], "encoding_format": "base64"})).expect("valid");
        assert_eq!((parsed.inputs.len(), parsed.base64), (2, true));
        assert!(EmbeddingRequest::parse(&json!({"model": "e", "input": [[1, 2]]})).is_err());
        assert!(EmbeddingRequest::parse(&json!({"model": "e", "input": "x".repeat(MAX_EMBEDDING_CHARS + 1)})).is_err());
        assert!(EmbeddingRequest::parse(&json!({"model": "e", "input": vec!["a"; MAX_EMBEDDING_INPUTS + 1]})).is_err());
    }
}
