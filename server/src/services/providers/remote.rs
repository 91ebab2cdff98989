//! A configured OpenAI-compatible provider (Ollama, llama.cpp's server, a hosted service, another
//! Code4me-RS installation): completions go to `{base_url}/completions`, chats to
//! `{base_url}/chat/completions`, streamed as server-sent events when the client streams.
//!
//! The provider's `timeout` bounds the wait for the response headers and every gap between body
//! chunks, so a provider that hangs half-way is given up as surely as one that never answers.
//! Failures the next provider may not share (connection, timeout, 5xx, our key refused, their
//! rate limit, an unreadable body) are `Unavailable` — the chain falls through and the breaker
//! counts them; a request the provider refuses as invalid (400/404/413/422) is `Rejected`.

use std::time::Instant;

use code4me_shared::providers::RemoteProviderSettings;
use reqwest::StatusCode;
use secrecy::ExposeSecret;

use super::job::{ProviderAnswer, ProviderFailure, ProviderJob, TokenSink};
use super::openai_wire::{self, Answer};
use super::sse::SseBuffer;

/// Largest non-streamed body read (a few choices of text are far smaller).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One configured provider.
pub struct RemoteProvider {
    settings: RemoteProviderSettings,
    http: reqwest::Client,
}

impl RemoteProvider {
    /// A provider with these settings, over a shared HTTP client.
    pub fn new(settings: RemoteProviderSettings, http: reqwest::Client) -> Self {
        Self { settings, http }
    }

    /// Its configured name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The provider's name for our model `model`, when it serves it.
    pub fn remote_model(&self, model: &str) -> Option<&str> {
        self.settings.remote_model(model)
    }

    /// Our model names it maps (`*` = any).
    pub fn models(&self) -> Vec<String> {
        self.settings.models.keys().cloned().collect()
    }

    /// Runs `job` on the provider.
    pub async fn run(&self, job: &ProviderJob, on_token: TokenSink<'_>) -> Result<ProviderAnswer, ProviderFailure> {
        let started = Instant::now();
        let name = &self.settings.name;
        let unavailable = |why: String| ProviderFailure::Unavailable(why);
        let remote_model = self.remote_model(&job.model.name).ok_or_else(|| unavailable(format!("it does not serve {}", job.model.name)))?;
        let (path, body) = openai_wire::request(job, remote_model);
        let mut request = self.http.post(format!("{}{path}", self.settings.base_url)).json(&body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let timeout = self.settings.timeout;
        let mut response = tokio::time::timeout(timeout, request.send())
            .await
            .map_err(|_| unavailable(format!("no answer within {} ms", timeout.as_millis())))?
            .map_err(|error| unavailable(format!("cannot reach {}: {}", self.settings.base_url, without_url(&error))))?;
        let status = response.status();
        if !status.is_success() {
            let body = read_body(&mut response, timeout).await.unwrap_or_default();
            let message = openai_wire::error_message(&body);
            tracing::warn!(provider = %name, %status, %message, "provider refused the request");
            return Err(match status {
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => {
                    ProviderFailure::Rejected(format!("provider {name} refused the request: {message}"))
                }
                _ => unavailable(format!("answered {status}: {message}")),
            });
        }
        let answer = if job.stream {
            read_stream(&mut response, timeout, on_token).await?
        } else {
            let body = read_body(&mut response, timeout).await?;
            Answer::from_body(&body).map_err(unavailable)?
        };
        let (choices, usage) = answer.into_choices(job.options.n);
        Ok(ProviderAnswer {
            provider: name.clone(),
            model: job.model.name.clone(),
            choices,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            generation_time_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            stages: Default::default(),
        })
    }
}

/// The next body chunk, waiting at most `timeout` for it.
async fn next_chunk(response: &mut reqwest::Response, timeout: std::time::Duration) -> Result<Option<Vec<u8>>, ProviderFailure> {
    match tokio::time::timeout(timeout, response.chunk()).await {
        Err(_) => Err(ProviderFailure::Unavailable(format!("the answer stalled for {} ms", timeout.as_millis()))),
        Ok(Err(error)) => Err(ProviderFailure::Unavailable(format!("the answer broke off: {}", without_url(&error)))),
        Ok(Ok(chunk)) => Ok(chunk.map(|bytes| bytes.to_vec())),
    }
}

/// A whole body, bounded in size and in the gap between chunks.
async fn read_body(response: &mut reqwest::Response, timeout: std::time::Duration) -> Result<Vec<u8>, ProviderFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(response, timeout).await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProviderFailure::Unavailable("the answer is larger than 8 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A streamed answer, each piece of text handed to `on_token` as it comes.
async fn read_stream(response: &mut reqwest::Response, timeout: std::time::Duration, on_token: TokenSink<'_>) -> Result<Answer, ProviderFailure> {
    let mut sse = SseBuffer::default();
    let mut answer = Answer::default();
    let mut fold = |answer: &mut Answer, event: &str| -> Result<(), ProviderFailure> {
        for (choice, text) in answer.push_event(event).map_err(ProviderFailure::Unavailable)? {
            on_token(choice, &text);
        }
        Ok(())
    };
    while let Some(chunk) = next_chunk(response, timeout).await? {
        for event in sse.push(&chunk).map_err(ProviderFailure::Unavailable)? {
            fold(&mut answer, &event)?;
        }
    }
    if let Some(event) = sse.finish() {
        fold(&mut answer, &event)?;
    }
    if !answer.finished || answer.is_empty() {
        return Err(ProviderFailure::Unavailable("the stream ended before the answer did".into()));
    }
    Ok(answer)
}

/// A reqwest error without its URL (which may carry credentials an operator put in `base_url`).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<provider>");
    }
    let kind = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    format!("{kind} ({text})")
}
