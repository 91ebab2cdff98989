//! The OpenAI-compatible API over the generation service: its checked requests become generation
//! requests, the service's outcomes become OpenAI's bodies, and its failures OpenAI's errors (with
//! the statuses the SDKs turn into `NotFoundError`, `BadRequestError`, retries on 503).

use code4me_shared::jobs::llm::EMBEDDING_MODEL;
use code4me_shared::jobs::telemetry::Client;

use crate::contract::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatLogprobs, ChatMessage, ChatRequest, ChatRole, Completion, CompletionChoice, CompletionLogprobs,
    CompletionRequest, ModelCard, ModelList, OpenAiError, Sampling, TokenLogprob, Usage,
};
use crate::services::generation::{GenerationError, GenerationRequest, OpenCaller, Outcome};
use crate::services::providers::{ChainFailure, Choice, GenerationOptions, Message, Prompt, Role};
use crate::services::state::AppState;

/// Who owns the models served by the local workers, in `/v1/models`.
pub const LOCAL_OWNER: &str = "code4me";

/// The models a request may name now: those a live worker serves, the embedding model when a
/// worker has it, and those the configured providers map by name.
pub async fn models(state: &AppState) -> Result<ModelList, OpenAiError> {
    let created = state.health.started_at.timestamp();
    let rows = state.models.entries().await.map_err(|e| from_generation(GenerationError::Unavailable(e.into()), "model"))?;
    let served = state.models.served().await;
    let mut data: Vec<ModelCard> = rows
        .iter()
        .filter(|row| served.models.contains(&row.id))
        .map(|row| ModelCard { id: row.name.clone(), object: "model", created, owned_by: LOCAL_OWNER.to_owned() })
        .collect();
    if served.embeddings {
        data.push(ModelCard { id: EMBEDDING_MODEL.to_owned(), object: "model", created, owned_by: LOCAL_OWNER.to_owned() });
    }
    for provider in &state.settings.open_api.providers {
        for name in provider.models.keys().filter(|name| name.as_str() != "*") {
            if !data.iter().any(|card| &card.id == name) {
                data.push(ModelCard { id: name.clone(), object: "model", created, owned_by: provider.name.clone() });
            }
        }
    }
    Ok(ModelList { object: "list", data })
}

/// The generation a completion request asks for: FIM with the model's template when it has a
/// `suffix`, else the prompt continued as it is.
pub fn completion_request(caller: OpenCaller, request: &CompletionRequest) -> GenerationRequest {
    let prompt = Prompt::Completion {
        prefix: request.prompt.clone(),
        suffix: request.suffix.clone().unwrap_or_default(),
        file_name: None,
        raw: request.suffix.is_none(),
    };
    GenerationRequest {
        client: Client::Openai,
        caller,
        model: Some(request.model.clone()),
        prompt,
        options: options(&request.sampling),
        stream: request.stream,
        provider: None,
    }
}

/// The generation a chat request asks for.
pub fn chat_request(caller: OpenCaller, request: &ChatRequest) -> GenerationRequest {
    let messages = request
        .messages
        .iter()
        .map(|ChatMessage { role, content }| Message {
            role: match role {
                ChatRole::System => Role::System,
                ChatRole::User => Role::User,
                ChatRole::Assistant => Role::Assistant,
            },
            content: content.clone(),
        })
        .collect();
    GenerationRequest {
        client: Client::Openai,
        caller,
        model: Some(request.model.clone()),
        prompt: Prompt::Chat { messages },
        options: options(&request.sampling),
        stream: request.stream,
        provider: None,
    }
}

fn options(sampling: &Sampling) -> GenerationOptions {
    GenerationOptions {
        max_tokens: sampling.max_tokens,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        seed: sampling.seed,
        stop: sampling.stop.clone(),
        n: sampling.n,
    }
}

/// The token counts of an outcome.
pub fn usage(outcome: &Outcome) -> Usage {
    let answer = &outcome.answer;
    Usage {
        prompt_tokens: answer.prompt_tokens,
        completion_tokens: answer.completion_tokens,
        total_tokens: answer.prompt_tokens.saturating_add(answer.completion_tokens),
    }
}

/// `cmpl-<query id>`.
pub fn completion_id(query_id: uuid::Uuid) -> String {
    format!("cmpl-{}", query_id.simple())
}

/// `chatcmpl-<query id>`.
pub fn chat_id(query_id: uuid::Uuid) -> String {
    format!("chatcmpl-{}", query_id.simple())
}

/// A finished completion's body; `logprobs` when the request asked for them, with offsets after a
/// prompt of `prompt_chars` characters.
pub fn completion(outcome: &Outcome, created: i64, logprobs: bool, prompt_chars: usize) -> Completion {
    let choices = (0_u32..)
        .zip(&outcome.answer.choices)
        .map(|(index, choice)| CompletionChoice {
            text: choice.text.clone(),
            index,
            logprobs: logprobs.then(|| completion_logprobs(choice, prompt_chars)),
            finish_reason: Some(choice.finish_reason.as_str()),
        })
        .collect();
    Completion {
        id: completion_id(outcome.query_id),
        object: "text_completion",
        created,
        model: outcome.answer.model.clone(),
        choices,
        usage: Some(usage(outcome)),
        provider: Some(outcome.answer.provider.clone()),
    }
}

fn completion_logprobs(choice: &Choice, prompt_chars: usize) -> CompletionLogprobs {
    let mut offset = prompt_chars;
    let text_offset = choice
        .tokens
        .iter()
        .map(|token| {
            let at = offset;
            offset += token.chars().count();
            at
        })
        .collect();
    CompletionLogprobs { tokens: choice.tokens.clone(), token_logprobs: choice.logprobs.clone(), top_logprobs: None, text_offset }
}

/// A finished chat's body.
pub fn chat_completion(outcome: &Outcome, created: i64, logprobs: bool) -> ChatCompletion {
    let choices = (0_u32..)
        .zip(&outcome.answer.choices)
        .map(|(index, choice)| ChatChoice {
            index,
            message: AssistantMessage { role: "assistant", content: choice.text.clone() },
            logprobs: logprobs.then(|| ChatLogprobs {
                content: choice
                    .tokens
                    .iter()
                    .zip(&choice.logprobs)
                    .map(|(token, logprob)| TokenLogprob {
                        token: token.clone(),
                        logprob: *logprob,
                        bytes: token.as_bytes().to_vec(),
                        top_logprobs: Vec::new(),
                    })
                    .collect(),
            }),
            finish_reason: choice.finish_reason.as_str(),
        })
        .collect();
    ChatCompletion {
        id: chat_id(outcome.query_id),
        object: "chat.completion",
        created,
        model: outcome.answer.model.clone(),
        choices,
        usage: usage(outcome),
        provider: outcome.answer.provider.clone(),
    }
}

/// Embeds `inputs` with the embedding model, which `model` must name.
pub async fn embed(state: &AppState, model: &str, inputs: Vec<String>) -> Result<Vec<Vec<f32>>, OpenAiError> {
    if model != EMBEDDING_MODEL {
        return Err(OpenAiError::model_not_found(model));
    }
    crate::services::generation::embed(state, inputs).await.map_err(|e| from_generation(e, "input"))
}

/// The OpenAI error for a failed generation; `prompt_param` names the prompt's field.
pub fn from_generation(error: GenerationError, prompt_param: &str) -> OpenAiError {
    match error {
        GenerationError::UnknownModel(model) => OpenAiError::model_not_found(&model),
        GenerationError::WrongKind { model, wanted } => {
            OpenAiError::invalid("model", format!("The model `{model}` does not do {wanted} requests.")).with_code("model_not_supported")
        }
        GenerationError::NoDefaultModel(kind) => OpenAiError::unavailable(format!("No model is configured for {kind} requests.")),
        GenerationError::PromptTooLong { chars, limit } => {
            OpenAiError::invalid(prompt_param, format!("The prompt has {chars} characters; your tier allows at most {limit}."))
                .with_code("context_length_exceeded")
        }
        GenerationError::Chain(failure) => match failure {
            ChainFailure::Rejected(reason) => OpenAiError::bad_request(reason, None),
            ChainFailure::UnknownProvider(_) => OpenAiError::invalid("provider", failure.message()),
            ChainFailure::NoProvider(_) | ChainFailure::Interrupted(_) | ChainFailure::Cancelled => OpenAiError::unavailable(failure.message()),
        },
        GenerationError::Unavailable(error) => {
            tracing::error!(error = format!("{error:#}"), "open API generation failed");
            OpenAiError::unavailable("The service is temporarily unavailable; try again shortly.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_get_openais_statuses() {
        assert_eq!(from_generation(GenerationError::UnknownModel("x".into()), "prompt").status.as_u16(), 404);
        let long = from_generation(GenerationError::PromptTooLong { chars: 9, limit: 1 }, "prompt");
        assert_eq!((long.status.as_u16(), long.code), (400, Some("context_length_exceeded")));
        let none = from_generation(GenerationError::Chain(ChainFailure::NoProvider(vec![("local".into(), "down".into())])), "prompt");
        assert_eq!(none.status.as_u16(), 503);
        assert!(none.message.contains("local: down"));
        assert_eq!(from_generation(GenerationError::Chain(ChainFailure::Rejected("too long".into())), "prompt").status.as_u16(), 400);
    }
}
