//! `POST /v1/completions`: OpenAI's legacy completions — a prompt continued as it is, or, with a
//! `suffix`, filled in between (FIM with the model's template): what editor plugins use for
//! inline completion.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::stream::{self, Chunks};
use super::{OpenAiJson, metered};
use crate::contract::openai::{Completion, CompletionChoice, CompletionRequest, OpenAiError, OpenAiErrorBody};
use crate::services::generation::{self, OpenCaller, Outcome};
use crate::services::openai;
use crate::services::state::AppState;

/// Completes a prompt (`stream: true` → server-sent events of `text_completion` chunks).
#[utoipa::path(post, path = "/v1/completions", tag = "openai", security(("bearer" = []), ("auth_token" = [])),
    request_body(content = crate::openapi::OpenAiCompletionBody),
    responses(
        (status = 200, description = "The completion; with `stream: true`, `text/event-stream` of `data: {chunk}` lines ending with `data: [DONE]`",
            content((Completion = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "A field is missing or invalid (`param` names it), or the prompt is too long", body = OpenAiErrorBody),
        (status = 401, description = "No working API key or auth token", body = OpenAiErrorBody),
        (status = 404, description = "No such model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 503, description = "No provider could answer now", body = OpenAiErrorBody)
    ))]
pub async fn create(State(state): State<AppState>, caller: OpenCaller, OpenAiJson(body): OpenAiJson) -> Result<Response, OpenAiError> {
    let request = CompletionRequest::parse(&body)?;
    let failed = |error| openai::from_generation(error, "prompt");
    let mut generation = generation::start(&state, openai::completion_request(caller, &request)).await.map_err(failed)?;
    let created = generation.created.timestamp();
    if request.stream {
        let first = stream::first_event(&mut generation, "prompt").await?;
        let chunks = CompletionChunks { id: openai::completion_id(generation.query_id), created, model: generation.model.clone() };
        return Ok(stream::respond(generation, first, chunks, request.include_usage, "prompt"));
    }
    let outcome = generation.finish().await.map_err(failed)?;
    let completion = openai::completion(&outcome, created, request.logprobs.is_some(), request.prompt.chars().count());
    Ok(metered(completion, &outcome))
}

/// `text_completion` chunks.
struct CompletionChunks {
    id: String,
    created: i64,
    model: String,
}

impl CompletionChunks {
    fn chunk(&self, choices: Vec<CompletionChoice>) -> Completion {
        Completion {
            id: self.id.clone(),
            object: "text_completion",
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: None,
            provider: None,
        }
    }
}

impl Chunks for CompletionChunks {
    fn opening(&self) -> Vec<Value> {
        Vec::new()
    }

    fn token(&self, choice: u32, text: String) -> Value {
        json!(self.chunk(vec![CompletionChoice { text, index: choice, logprobs: None, finish_reason: None }]))
    }

    fn closing(&self, outcome: &Outcome) -> Vec<Value> {
        (0_u32..)
            .zip(&outcome.answer.choices)
            .map(|(index, choice)| {
                let mut chunk = self.chunk(vec![CompletionChoice {
                    text: String::new(),
                    index,
                    logprobs: None,
                    finish_reason: Some(choice.finish_reason.as_str()),
                }]);
                chunk.provider = Some(outcome.answer.provider.clone());
                json!(chunk)
            })
            .collect()
    }

    fn usage(&self, outcome: &Outcome) -> Value {
        let mut chunk = self.chunk(Vec::new());
        chunk.usage = Some(openai::usage(outcome));
        json!(chunk)
    }
}
