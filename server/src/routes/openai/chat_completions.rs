//! `POST /v1/chat/completions`: OpenAI's chat API over the chat models.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::stream::{self, Chunks};
use super::{OpenAiJson, metered};
use crate::contract::openai::{ChatChunk, ChatChunkChoice, ChatCompletion, ChatDelta, ChatRequest, OpenAiError, OpenAiErrorBody};
use crate::services::generation::{self, OpenCaller, Outcome};
use crate::services::openai;
use crate::services::state::AppState;

/// Answers a conversation (`stream: true` → server-sent events of `chat.completion.chunk`s).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("bearer" = []), ("auth_token" = [])),
    request_body(content = crate::openapi::OpenAiChatBody),
    responses(
        (status = 200, description = "The answer; with `stream: true`, `text/event-stream` of `data: {chunk}` lines ending with `data: [DONE]`",
            content((ChatCompletion = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "A field is missing or invalid (`param` names it), the model does not chat, or the prompt is too long", body = OpenAiErrorBody),
        (status = 401, description = "No working API key or auth token", body = OpenAiErrorBody),
        (status = 404, description = "No such model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 503, description = "No provider could answer now", body = OpenAiErrorBody)
    ))]
pub async fn create(State(state): State<AppState>, caller: OpenCaller, OpenAiJson(body): OpenAiJson) -> Result<Response, OpenAiError> {
    let request = ChatRequest::parse(&body)?;
    let failed = |error| openai::from_generation(error, "messages");
    let mut generation = generation::start(&state, openai::chat_request(caller, &request)).await.map_err(failed)?;
    let created = generation.created.timestamp();
    if request.stream {
        let first = stream::first_event(&mut generation, "messages").await?;
        let chunks = ChatChunks { id: openai::chat_id(generation.query_id), created, model: generation.model.clone(), n: request.sampling.n };
        return Ok(stream::respond(generation, first, chunks, request.include_usage, "messages"));
    }
    let outcome = generation.finish().await.map_err(failed)?;
    let answer: ChatCompletion = openai::chat_completion(&outcome, created, request.logprobs);
    Ok(metered(answer, &outcome))
}

/// `chat.completion.chunk`s.
struct ChatChunks {
    id: String,
    created: i64,
    model: String,
    n: u32,
}

impl ChatChunks {
    fn chunk(&self, choices: Vec<ChatChunkChoice>) -> ChatChunk {
        ChatChunk { id: self.id.clone(), object: "chat.completion.chunk", created: self.created, model: self.model.clone(), choices, usage: None }
    }

    fn piece(index: u32, delta: ChatDelta, finish_reason: Option<&'static str>) -> ChatChunkChoice {
        ChatChunkChoice { index, delta, logprobs: None, finish_reason }
    }
}

impl Chunks for ChatChunks {
    fn opening(&self) -> Vec<Value> {
        (0..self.n)
            .map(|index| json!(self.chunk(vec![Self::piece(index, ChatDelta { role: Some("assistant"), content: Some(String::new()) }, None)])))
            .collect()
    }

    fn token(&self, choice: u32, text: String) -> Value {
        json!(self.chunk(vec![Self::piece(choice, ChatDelta { role: None, content: Some(text) }, None)]))
    }

    fn closing(&self, outcome: &Outcome) -> Vec<Value> {
        (0_u32..)
            .zip(&outcome.answer.choices)
            .map(|(index, choice)| json!(self.chunk(vec![Self::piece(index, ChatDelta::default(), Some(choice.finish_reason.as_str()))])))
            .collect()
    }

    fn usage(&self, outcome: &Outcome) -> Value {
        let mut chunk = self.chunk(Vec::new());
        chunk.usage = Some(openai::usage(outcome));
        json!(chunk)
    }
}
