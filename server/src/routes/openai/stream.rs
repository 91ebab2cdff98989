//! Streamed answers of the `/v1` API as server-sent events, as OpenAI streams them: one
//! `data: {chunk}` per generated piece, each choice's closing chunk with its `finish_reason`, the
//! usage chunk when asked for, then `data: [DONE]`. A failure after the stream began is one
//! `data: {"error": …}` event, and the stream ends.
//!
//! The stream owns the [`Generation`]: a client that goes away drops the response body, which
//! drops the generation, which cancels the worker's job (and nothing is stored for it).

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use serde_json::Value;

use crate::contract::openai::OpenAiError;
use crate::http::metering::DeferredUsage;
use crate::services::generation::{Event, Generation, Outcome};
use crate::services::openai;

/// How one endpoint renders its chunks.
pub trait Chunks: Send + 'static {
    /// Chunks before the first token (the chat API's `role` deltas).
    fn opening(&self) -> Vec<Value>;
    /// A piece of choice `choice`'s text.
    fn token(&self, choice: u32, text: String) -> Value;
    /// Each choice's closing chunk.
    fn closing(&self, outcome: &Outcome) -> Vec<Value>;
    /// The usage chunk (`choices: []`).
    fn usage(&self, outcome: &Outcome) -> Value;
}

/// What the event stream holds between events.
struct Streaming<C> {
    generation: Generation,
    first: Option<Event>,
    pending: VecDeque<String>,
    chunks: C,
    include_usage: bool,
    usage: DeferredUsage,
    prompt_param: &'static str,
    done: bool,
}

/// The event stream of `generation`, whose first event (already awaited, so that a request that
/// fails at once gets a plain error response) is `first`. The usage is metered when it ends.
pub fn respond<C: Chunks>(generation: Generation, first: Event, chunks: C, include_usage: bool, prompt_param: &'static str) -> Response {
    let usage = DeferredUsage::default();
    let pending = chunks.opening().iter().map(Value::to_string).collect();
    let state = Streaming { generation, first: Some(first), pending, chunks, include_usage, usage: usage.clone(), prompt_param, done: false };
    let events = stream::unfold(state, next_event);
    let mut response = Sse::new(events).into_response();
    response.extensions_mut().insert(usage);
    response
}

async fn next_event<C: Chunks>(mut s: Streaming<C>) -> Option<(Result<SseEvent, Infallible>, Streaming<C>)> {
    loop {
        if let Some(data) = s.pending.pop_front() {
            return Some((Ok(SseEvent::default().data(data)), s));
        }
        if s.done {
            return None;
        }
        let event = match s.first.take() {
            Some(event) => Some(event),
            None => s.generation.next().await,
        };
        match event {
            Some(Event::Token { choice, text }) => s.pending.push_back(s.chunks.token(choice, text).to_string()),
            Some(Event::Done(outcome)) => {
                s.usage.set(super::usage_note(&outcome));
                s.pending.extend(s.chunks.closing(&outcome).iter().map(Value::to_string));
                if s.include_usage {
                    s.pending.push_back(s.chunks.usage(&outcome).to_string());
                }
                s.pending.push_back("[DONE]".to_owned());
                s.done = true;
            }
            Some(Event::Failed(error)) => {
                s.pending.push_back(openai::from_generation(error, s.prompt_param).body().to_string());
                s.done = true;
            }
            None => {
                s.pending.push_back(OpenAiError::unavailable("The generation ended without an answer.").body().to_string());
                s.done = true;
            }
        }
    }
}

/// Waits for a streamed generation's first event: a failure then is a plain error response
/// (clients handle those best); anything else starts the stream.
pub async fn first_event(generation: &mut Generation, prompt_param: &str) -> Result<Event, OpenAiError> {
    match generation.next().await {
        Some(Event::Failed(error)) => Err(openai::from_generation(error, prompt_param)),
        Some(event) => Ok(event),
        None => Err(OpenAiError::unavailable("The generation ended without an answer.")),
    }
}
