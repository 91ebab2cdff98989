//! The task API's flow: the model row's prompt template for the task filled in with the caller's
//! code, language and instructions, one chat generation through the provider chain (metered,
//! stored as telemetry, served by whichever provider answers), and the model's text read as the
//! task's answer. The prompts live on the model rows (`task_templates` in `prompt_templates`), so
//! a model is given prompts written for it, and operators change them without a release.

use axum::http::StatusCode;
use code4me_shared::jobs::telemetry::Client;
use serde_json::Value;

use crate::contract::tasks::{TaskKind, TaskRequest, TaskResponse, TaskUsage};
use crate::services::generation::{self, GenerationError, GenerationRequest, OpenCaller};
use crate::services::model_directory::ModelEntry;
use crate::services::providers::{ChainFailure, GenerationOptions, Message, Prompt, Role};
use crate::services::state::AppState;
use crate::services::task_output;

/// Why a task was not answered: the status and a message for the client.
#[derive(Debug)]
pub struct TaskFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl TaskFailure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

/// Default new-token budget of a task (code answers need room; the caller may ask for less).
const DEFAULT_MAX_TOKENS: usize = 512;

/// Runs `kind` for `caller`.
pub async fn run(state: &AppState, kind: TaskKind, caller: OpenCaller, request: TaskRequest) -> Result<TaskResponse, TaskFailure> {
    if let Some(limit) = caller.max_prompt_chars {
        let chars = request.content.chars().count();
        if u64::try_from(chars).unwrap_or(u64::MAX) > limit {
            return Err(TaskFailure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("`content` is {chars} characters; your tier allows at most {limit}"),
            ));
        }
    }
    if let Some(provider) = &request.provider
        && !state.providers.knows(provider)
    {
        return Err(TaskFailure::new(StatusCode::BAD_REQUEST, format!("No provider is named {provider:?}.")));
    }
    let model = model_row(state, request.model.as_deref()).await?;
    let template = template_of(&model, kind)?;
    let instructions = request.instructions.as_deref().unwrap_or("none");
    // An analysis names issues by line: the model is shown the numbers instead of counting.
    let content = if kind == TaskKind::Analyze { numbered(&request.content) } else { request.content.clone() };
    let fill = |text: &str| fill_placeholders(text, &request.language, &content, instructions);
    let prompt = Prompt::Chat {
        messages: vec![Message { role: Role::System, content: fill(&template.system) }, Message { role: Role::User, content: fill(&template.user) }],
    };
    let options = GenerationOptions {
        max_tokens: Some(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        temperature: Some(request.temperature.unwrap_or(0.0)),
        n: 1,
        ..GenerationOptions::default()
    };
    // The caller's prompt bound was applied to what they sent, above; the template's own words
    // are ours and are not charged against it.
    let caller = OpenCaller { max_prompt_chars: None, ..caller };
    let generation = generation::start(
        state,
        GenerationRequest {
            client: Client::Task,
            caller,
            model: Some(model.name.clone()),
            prompt,
            options,
            stream: false,
            provider: request.provider,
        },
    )
    .await
    .map_err(failure)?;
    let outcome = generation.finish().await.map_err(failure)?;
    let answer = outcome.answer;
    let text = answer.choices.into_iter().next().map(|c| c.text).unwrap_or_default();
    let (content, issues, explanation) = match kind {
        TaskKind::Analyze => {
            let issues = task_output::issues(&text, request.content.lines().count());
            (text, Some(issues), None)
        }
        TaskKind::Refactor => {
            let split = task_output::code_answer(&text);
            (split.code, None, Some(split.explanation))
        }
        TaskKind::Generate | TaskKind::Complete | TaskKind::Document => (task_output::code_answer(&text).code, None, None),
    };
    Ok(TaskResponse {
        success: true,
        content,
        provider: answer.provider,
        model: answer.model,
        usage: TaskUsage {
            prompt_tokens: answer.prompt_tokens,
            completion_tokens: answer.completion_tokens,
            total_tokens: answer.prompt_tokens.saturating_add(answer.completion_tokens),
        },
        latency_ms: outcome.latency_ms,
        issues,
        explanation,
    })
}

/// The model row asked for, or the default chat model.
async fn model_row(state: &AppState, name: Option<&str>) -> Result<ModelEntry, TaskFailure> {
    let unavailable = |e: sqlx::Error| {
        tracing::error!(error = %e, "model rows unreadable");
        TaskFailure::new(StatusCode::SERVICE_UNAVAILABLE, "The model catalogue is unavailable; try again shortly.")
    };
    match name {
        Some(name) => state
            .models
            .find(name)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| TaskFailure::new(StatusCode::NOT_FOUND, format!("No model is named {name:?}; GET /api/config/models lists them."))),
        None => state
            .models
            .default_model(true)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| TaskFailure::new(StatusCode::SERVICE_UNAVAILABLE, "No chat model is configured.")),
    }
}

/// A task's prompt pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTemplate {
    /// The system message.
    pub system: String,
    /// The user message.
    pub user: String,
}

/// The row's template for `kind` (`prompt_templates.task_templates.<kind>`).
fn template_of(model: &ModelEntry, kind: TaskKind) -> Result<TaskTemplate, TaskFailure> {
    let missing = || {
        TaskFailure::new(
            StatusCode::BAD_REQUEST,
            format!("Model {:?} has no prompt template for the {} task; choose a chat model that has one.", model.name, kind.as_str()),
        )
    };
    let entry = model.templates.get("task_templates").and_then(|t| t.get(kind.as_str())).ok_or_else(missing)?;
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(TaskTemplate { system: text("system").unwrap_or_default(), user: text("user").ok_or_else(missing)? })
}

/// `template` with `{language}`, `{content}` and `{instructions}` replaced in one pass (so a
/// placeholder inside the caller's code stays as it is); other braces are kept.
pub fn fill_placeholders(template: &str, language: &str, content: &str, instructions: &str) -> String {
    let mut out = String::with_capacity(template.len() + content.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let value = [("{language}", language), ("{content}", content), ("{instructions}", instructions)]
            .into_iter()
            .find(|(placeholder, _)| after.starts_with(placeholder));
        match value {
            Some((placeholder, value)) => {
                out.push_str(value);
                rest = &after[placeholder.len()..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `code` with each line prefixed by its 1-based number (`3: x = 1`).
fn numbered(code: &str) -> String {
    code.lines().enumerate().map(|(i, line)| format!("{}: {line}", i + 1)).collect::<Vec<_>>().join("\n")
}

/// The status and message of a generation's failure.
fn failure(error: GenerationError) -> TaskFailure {
    match error {
        GenerationError::UnknownModel(name) => TaskFailure::new(StatusCode::NOT_FOUND, format!("No model is named {name:?}.")),
        GenerationError::WrongKind { model, wanted } => {
            TaskFailure::new(StatusCode::BAD_REQUEST, format!("Model {model:?} cannot do {wanted} jobs; choose a chat model."))
        }
        GenerationError::NoDefaultModel(kind) => TaskFailure::new(StatusCode::SERVICE_UNAVAILABLE, format!("No {kind} model is configured.")),
        GenerationError::PromptTooLong { chars, limit } => {
            TaskFailure::new(StatusCode::PAYLOAD_TOO_LARGE, format!("The prompt is {chars} characters; your tier allows at most {limit}."))
        }
        GenerationError::Chain(chain @ (ChainFailure::Rejected(_) | ChainFailure::UnknownProvider(_))) => {
            TaskFailure::new(StatusCode::BAD_REQUEST, chain.message())
        }
        GenerationError::Chain(chain) => TaskFailure::new(StatusCode::SERVICE_UNAVAILABLE, chain.message()),
        GenerationError::Unavailable(error) => {
            tracing::error!(error = %format!("{error:#}"), "task generation failed");
            TaskFailure::new(StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable; try again shortly.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_other_braces_stay() {
        let filled = fill_placeholders("{language}: {content} ({instructions}) {other} {", "rust", "fn f() { \"{language}\" }", "none");
        assert_eq!(filled, "rust: fn f() { \"{language}\" } (none) {other} {");
    }
}
