//! The suggestion API's wire format (`POST /api/v1/completion`, the "AI code completion backend"
//! design document): the request as clients send it, parsed into a [`SuggestionQuery`] whose
//! bounds are already checked, and the answer with its metadata. Problems name the field path
//! (`context.position.line`) because the clients are editor plugins whose authors read them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Most lines of `previousLines` (and of `nextLines`): an editor sends a window around the caret,
/// never a whole large file, and the prompt is bounded anyway.
pub const MAX_CONTEXT_LINES: usize = 2_000;
/// Most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: u32 = 5;
/// Most new tokens per suggestion: completions are a few lines, not files.
pub const MAX_TOKENS: u32 = 256;
/// Tokens per suggestion when the request names none (a line or two of code).
pub const DEFAULT_MAX_TOKENS: u32 = 48;
/// Longest `language`, `filePath`, `model` or `user_id` accepted (names, not documents).
const MAX_NAME_CHARS: usize = 512;

/// The caret's place in the file (0-based, as editors count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct Position {
    /// Line of the caret in the file.
    pub line: u32,
    /// Column of the caret in `currentLine`, in characters.
    pub column: u32,
}

/// The code around the caret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditorContext {
    /// The file's language (`python`, `javascript`, ...), any case.
    pub language: String,
    /// Where the caret is.
    pub position: Position,
    /// The lines before the caret's line, at most 2,000.
    pub previous_lines: Vec<String>,
    /// The caret's line, whole.
    pub current_line: String,
    /// The lines after the caret's line.
    #[serde(default)]
    pub next_lines: Vec<String>,
    /// The file's path, for language detection and templates that name the file.
    #[serde(default)]
    pub file_path: Option<String>,
}

/// Body of `POST /api/v1/completion` as sent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
pub struct SuggestionRequest {
    /// The code around the caret.
    pub context: EditorContext,
    /// How many suggestions (1–5, default 3).
    #[serde(default)]
    pub max_suggestions: Option<u32>,
    /// Sampling temperature (0–2; default 0.6 when more than one suggestion is asked, else 0.2).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Accepted for the design document's clients and ignored: the caller is the API key's or
    /// the session's user, never a name in the body.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The model row's name; the default completion model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// New tokens per suggestion (1–256, default 48).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// A request that passed every bound, with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionQuery {
    /// The code around the caret (column clamped to the line).
    pub context: EditorContext,
    /// 1–5.
    pub max_suggestions: u32,
    /// 0–2.
    pub temperature: f64,
    /// The model asked for.
    pub model: Option<String>,
    /// 1–256.
    pub max_tokens: u32,
}

/// A field that is missing, of the wrong type or out of bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field's path (`context.position.line`), empty for the body itself.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl Invalid {
    fn new(field: &str, problem: impl Into<String>) -> Self {
        Self { field: field.to_owned(), problem: problem.into() }
    }

    /// The message clients see: the field, then the problem.
    pub fn message(&self) -> String {
        if self.field.is_empty() { self.problem.clone() } else { format!("{}: {}", self.field, self.problem) }
    }
}

impl SuggestionRequest {
    /// Reads a JSON body: types first (serde names the path of the first wrong field), then the
    /// bounds; returns the query with its defaults.
    pub fn parse(body: Value) -> Result<SuggestionQuery, Invalid> {
        if !body.is_object() {
            return Err(Invalid::new("", "the body must be a JSON object"));
        }
        let request: Self = serde_path_to_error::deserialize(body).map_err(|error| {
            let field =
                error.path().iter().filter(|s| !matches!(s, serde_path_to_error::Segment::Unknown)).map(ToString::to_string).collect::<Vec<_>>();
            Invalid::new(&field.join("."), error.inner().to_string())
        })?;
        request.bounded()
    }

    fn bounded(self) -> Result<SuggestionQuery, Invalid> {
        let max_suggestions = self.max_suggestions.unwrap_or(3);
        if !(1..=MAX_SUGGESTIONS).contains(&max_suggestions) {
            return Err(Invalid::new("max_suggestions", format!("must be between 1 and {MAX_SUGGESTIONS}")));
        }
        let temperature = self.temperature.unwrap_or(if max_suggestions > 1 { 0.6 } else { 0.2 });
        if !(0.0..=2.0).contains(&temperature) {
            return Err(Invalid::new("temperature", "must be between 0 and 2"));
        }
        let max_tokens = self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        if !(1..=MAX_TOKENS).contains(&max_tokens) {
            return Err(Invalid::new("max_tokens", format!("must be between 1 and {MAX_TOKENS}")));
        }
        let mut context = self.context;
        for (field, lines) in [("context.previousLines", &context.previous_lines), ("context.nextLines", &context.next_lines)] {
            if lines.len() > MAX_CONTEXT_LINES {
                return Err(Invalid::new(field, format!("at most {MAX_CONTEXT_LINES} lines")));
            }
            if let Some(index) = lines.iter().position(|line| line.contains('\0')) {
                return Err(Invalid::new(&format!("{field}.{index}"), "must not contain NUL (U+0000) characters"));
            }
        }
        if context.current_line.contains('\0') {
            return Err(Invalid::new("context.currentLine", "must not contain NUL (U+0000) characters"));
        }
        if context.current_line.contains('\n') {
            return Err(Invalid::new("context.currentLine", "must be one line"));
        }
        let names = [
            ("context.language", Some(&context.language)),
            ("context.filePath", context.file_path.as_ref()),
            ("model", self.model.as_ref()),
            ("user_id", self.user_id.as_ref()),
        ];
        for (field, value) in names {
            if let Some(value) = value {
                if value.contains('\0') {
                    return Err(Invalid::new(field, "must not contain NUL (U+0000) characters"));
                }
                if value.chars().count() > MAX_NAME_CHARS {
                    return Err(Invalid::new(field, format!("at most {MAX_NAME_CHARS} characters")));
                }
            }
        }
        if context.language.trim().is_empty() {
            return Err(Invalid::new("context.language", "must not be empty"));
        }
        // Editors report a caret past the end of a line whose trailing spaces they trimmed; the
        // caret is then at the end.
        let length = u32::try_from(context.current_line.chars().count()).unwrap_or(u32::MAX);
        context.position.column = context.position.column.min(length);
        Ok(SuggestionQuery { context, max_suggestions, temperature, model: self.model, max_tokens })
    }
}

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// The text to insert at the caret.
    pub text: String,
    /// The mean probability of its tokens, 0–1.
    pub confidence: f64,
    /// `single-line` or `multi-line`.
    #[serde(rename = "type")]
    pub kind: SuggestionKind,
    /// What it completes, from the analysis of the code around the caret.
    pub description: String,
    /// Where the caret ends, in characters from the start of the inserted text (its length).
    pub cursor_offset: u32,
}

/// Whether a suggestion spans lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionKind {
    /// Ends within the caret's line.
    SingleLine,
    /// Continues onto following lines.
    MultiLine,
}

/// How the answer was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionMetadata {
    /// Milliseconds the server spent on the request.
    pub processing_time_ms: u64,
    /// The model's name.
    pub model_version: String,
    /// Whether the suggestions came from the cache (or from an identical request in flight)
    /// rather than a generation of this request's own.
    pub cache_hit: bool,
    /// SHA-256 (hex) of the normalised context: equal for requests that get the same suggestions.
    pub context_hash: String,
}

/// Always `success` on a 200 (errors carry `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuccessStatus {
    /// The request was served.
    Success,
}

/// Body of a 200 from `POST /api/v1/completion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionResponse {
    /// Ranked by confidence, at most `max_suggestions`, possibly none.
    pub suggestions: Vec<Suggestion>,
    /// How they were made.
    pub metadata: SuggestionMetadata,
    /// `success`.
    pub status: SuccessStatus,
}

/// The error of the suggestion API's dialect.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuggestionErrorDetail {
    /// Machine-readable (`invalid_request`, `invalid_api_key`, `rate_limit_exceeded`, ...).
    pub code: String,
    /// For people; names the field for invalid requests.
    pub message: String,
}

/// Every error under `/api/v1/`: `{"status": "error", "error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuggestionErrorBody {
    /// `error`.
    #[schema(example = "error")]
    pub status: String,
    /// What went wrong.
    pub error: SuggestionErrorDetail,
}

/// `ok` when everything answers, else `degraded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuggestionServiceStatus {
    /// A model is served and the cache answers.
    Ok,
    /// No model is served or the cache is unreachable.
    Degraded,
}

/// Whether the suggestion cache (Redis) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// Redis answered.
    Ok,
    /// Redis did not answer in time.
    Unavailable,
}

/// Body of `GET /health` (the design document's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceHealth {
    /// `ok` or `degraded`.
    pub status: SuggestionServiceStatus,
    /// The names of the models live workers serve now.
    pub models: Vec<String>,
    /// The suggestion cache.
    pub cache: CacheStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({"context": {"language": "Python", "position": {"line": 2, "column": 8}, "previousLines": ["a", "b"], "currentLine": "    x = 1"}})
    }

    #[test]
    fn defaults_follow_the_number_of_suggestions() {
        let parsed = SuggestionRequest::parse(body()).expect("valid");
        assert_eq!((parsed.max_suggestions, parsed.temperature, parsed.max_tokens), (3, 0.6, 48));
        let mut one = body();
        one["max_suggestions"] = json!(1);
        assert_eq!(SuggestionRequest::parse(one).expect("valid").temperature, 0.2);
    }

    #[test]
    fn problems_name_their_field() {
        let cases = [
            (json!({"max_suggestions": 0}), "max_suggestions"),
            (json!({"max_suggestions": 6}), "max_suggestions"),
            (json!({"max_suggestions": -1}), "max_suggestions"),
            (json!({"max_suggestions": 1e9}), "max_suggestions"),
            (json!({"temperature": 2.5}), "temperature"),
            (json!({"max_tokens": 0}), "max_tokens"),
        ];
        for (extra, field) in cases {
            let mut request = body();
            request.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
            assert_eq!(SuggestionRequest::parse(request).expect_err("invalid").field, field);
        }
        let mut negative = body();
        negative["context"]["position"]["line"] = json!(-1);
        assert_eq!(SuggestionRequest::parse(negative).expect_err("invalid").field, "context.position.line");
        let mut nul = body();
        nul["context"]["previousLines"][1] = json!("a\u{0}b");
        assert_eq!(SuggestionRequest::parse(nul).expect_err("invalid").field, "context.previousLines.1");
        assert_eq!(SuggestionRequest::parse(json!({})).expect_err("invalid").problem, "missing field `context`");
        assert!(SuggestionRequest::parse(json!([1])).is_err());
    }

    #[test]
    fn a_caret_past_the_end_of_its_line_is_at_the_end() {
        let mut far = body();
        far["context"]["position"]["column"] = json!(400);
        assert_eq!(SuggestionRequest::parse(far).expect("valid").context.position.column, 9);
    }
}
