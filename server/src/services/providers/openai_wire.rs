//! OpenAI's wire format as a provider speaks it: the request body of `/completions` and
//! `/chat/completions`, and the answers read back — a whole JSON body, or streamed chunks folded
//! into the same choices. Every text the provider returns is redacted here, before anything uses it.

use std::collections::BTreeMap;

use code4me_shared::redaction::redact;
use code4me_shared::reply::FinishReason;
use serde_json::{Map, Value, json};

use super::job::{Choice, Prompt, ProviderJob};

/// The endpoint (relative to the base URL) and the body for `job`, naming the provider's model.
pub fn request(job: &ProviderJob, remote_model: &str) -> (&'static str, Value) {
    let mut body = Map::new();
    body.insert("model".into(), json!(remote_model));
    let path = match &job.prompt {
        Prompt::Completion { prefix, suffix, raw, .. } => {
            body.insert("prompt".into(), json!(prefix));
            if !raw && !suffix.is_empty() {
                body.insert("suffix".into(), json!(suffix));
            }
            "/completions"
        }
        Prompt::Chat { messages } => {
            let messages: Vec<Value> = messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect();
            body.insert("messages".into(), Value::Array(messages));
            "/chat/completions"
        }
    };
    let options = &job.options;
    if let Some(max_tokens) = options.max_tokens {
        body.insert("max_tokens".into(), json!(max_tokens));
    }
    if let Some(temperature) = options.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = options.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if let Some(seed) = options.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !options.stop.is_empty() {
        body.insert("stop".into(), json!(options.stop));
    }
    if options.n > 1 {
        body.insert("n".into(), json!(options.n));
    }
    if job.stream {
        body.insert("stream".into(), json!(true));
        // OpenAI's way to get the usage at the end of a stream (Ollama, vLLM and llama.cpp's
        // server follow it); without it the streamed pieces are counted.
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    (path, Value::Object(body))
}

/// Token counts the provider reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
}

/// Choices being assembled from a whole body or from streamed chunks.
#[derive(Debug, Default)]
pub struct Answer {
    choices: BTreeMap<u32, Partial>,
    /// The provider's counts, when it sent them.
    pub usage: Option<Usage>,
    /// Whether the stream said it was finished (`[DONE]` or a finish reason).
    pub finished: bool,
}

/// One choice so far.
#[derive(Debug, Default)]
struct Partial {
    text: String,
    tokens: Vec<String>,
    logprobs: Vec<f64>,
    finish_reason: Option<FinishReason>,
    /// Streamed pieces, the token count when the provider reports no usage.
    pieces: u32,
}

impl Answer {
    /// Reads a whole (non-streamed) response body.
    pub fn from_body(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("the provider's answer is not JSON: {e}"))?;
        let mut answer = Self::default();
        let choices = value.get("choices").and_then(Value::as_array).ok_or("the provider's answer has no choices")?;
        for (position, choice) in choices.iter().enumerate() {
            let index = index_of(choice, position);
            let text = choice
                .get("text")
                .or_else(|| choice.get("message").and_then(|m| m.get("content")))
                .and_then(Value::as_str)
                .ok_or("a choice of the provider's answer has no text")?;
            let partial = answer.choices.entry(index).or_default();
            partial.text.push_str(text);
            partial.pieces += 1;
            partial.absorb(choice);
        }
        answer.usage = usage_of(&value);
        answer.finished = true;
        Ok(answer)
    }

    /// Folds one streamed event's data in; returns the (choice, redacted text) pieces to hand on.
    /// `[DONE]` marks the end.
    pub fn push_event(&mut self, data: &str) -> Result<Vec<(u32, String)>, String> {
        let data = data.trim();
        if data == "[DONE]" {
            self.finished = true;
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| format!("a streamed event is not JSON: {e}"))?;
        if let Some(error) = value.get("error") {
            return Err(format!("the provider failed mid-stream: {}", error_text(error)));
        }
        if let Some(usage) = usage_of(&value) {
            self.usage = Some(usage);
        }
        let mut pieces = Vec::new();
        let Some(choices) = value.get("choices").and_then(Value::as_array) else {
            return Ok(pieces);
        };
        for (position, choice) in choices.iter().enumerate() {
            let index = index_of(choice, position);
            let text = choice.get("text").or_else(|| choice.get("delta").and_then(|d| d.get("content"))).and_then(Value::as_str).unwrap_or("");
            let partial = self.choices.entry(index).or_default();
            if !text.is_empty() {
                partial.text.push_str(text);
                partial.pieces += 1;
                pieces.push((index, redact(text).into_owned()));
            }
            partial.absorb(choice);
            if partial.finish_reason.is_some() {
                self.finished = true;
            }
        }
        Ok(pieces)
    }

    /// Whether any text or choice came.
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    /// The choices, redacted, in order, and the token counts (the provider's, else the streamed
    /// pieces counted).
    pub fn into_choices(self, n: u32) -> (Vec<Choice>, Usage) {
        let counted = self.choices.values().map(|p| p.pieces).sum();
        let usage = self.usage.unwrap_or(Usage { prompt_tokens: 0, completion_tokens: counted });
        let wanted = n.max(1).max(self.choices.keys().next_back().map_or(0, |last| last + 1));
        let mut choices = self.choices;
        let list = (0..wanted)
            .map(|index| {
                let partial = choices.remove(&index).unwrap_or_default();
                let confidence = if partial.logprobs.is_empty() {
                    0.0
                } else {
                    partial.logprobs.iter().map(|l| l.exp()).sum::<f64>() / partial.logprobs.len() as f64
                };
                Choice {
                    text: redact(&partial.text).into_owned(),
                    confidence,
                    logprobs: partial.logprobs,
                    tokens: partial.tokens.iter().map(|t| redact(t).into_owned()).collect(),
                    finish_reason: partial.finish_reason.unwrap_or_default(),
                }
            })
            .collect();
        (list, usage)
    }
}

impl Partial {
    /// The finish reason and log-probabilities a choice (or a chunk of one) carries.
    fn absorb(&mut self, choice: &Value) {
        match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => self.finish_reason = Some(FinishReason::Length),
            Some(_) => self.finish_reason = Some(FinishReason::Stop),
            None => {}
        }
        let Some(logprobs) = choice.get("logprobs").filter(|l| !l.is_null()) else { return };
        // `/completions`: parallel `tokens` and `token_logprobs`.
        if let (Some(tokens), Some(values)) =
            (logprobs.get("tokens").and_then(Value::as_array), logprobs.get("token_logprobs").and_then(Value::as_array))
        {
            for (token, value) in tokens.iter().zip(values) {
                if let (Some(token), Some(value)) = (token.as_str(), value.as_f64()) {
                    self.tokens.push(token.to_owned());
                    self.logprobs.push(value);
                }
            }
        }
        // `/chat/completions`: `content: [{token, logprob}]`.
        if let Some(content) = logprobs.get("content").and_then(Value::as_array) {
            for entry in content {
                if let (Some(token), Some(value)) = (entry.get("token").and_then(Value::as_str), entry.get("logprob").and_then(Value::as_f64)) {
                    self.tokens.push(token.to_owned());
                    self.logprobs.push(value);
                }
            }
        }
    }
}

fn index_of(choice: &Value, position: usize) -> u32 {
    choice.get("index").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()).unwrap_or_else(|| u32::try_from(position).unwrap_or(0))
}

fn usage_of(value: &Value) -> Option<Usage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Some(Usage { prompt_tokens: count("prompt_tokens"), completion_tokens: count("completion_tokens") })
}

fn error_text(error: &Value) -> String {
    error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_owned)
}

/// The message of a provider's error body (OpenAI's `error.message`, a `detail`, a `message`, or
/// the text itself), redacted and shortened.
pub fn error_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value
            .get("error")
            .map(error_text)
            .or_else(|| value.get("detail").or_else(|| value.get("message")).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .unwrap_or_else(|| value.to_string()),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let short: String = text.trim().chars().take(500).collect();
    redact(&short).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::sse::SseBuffer;
    use super::*;
    use crate::services::model_directory::ModelEntry;
    use crate::services::providers::job::{GenerationOptions, Message, Role};

    fn job(prompt: Prompt, stream: bool) -> ProviderJob {
        ProviderJob {
            request_id: uuid::Uuid::nil(),
            model: ModelEntry { id: 1, name: "ours".into(), chat: true, completion: true, templates: json!({}) },
            prompt,
            options: GenerationOptions {
                max_tokens: Some(16),
                temperature: Some(0.0),
                stop: vec!["\n".into()],
                n: 2,
                ..GenerationOptions::default()
            },
            stream,
        }
    }

    #[test]
    fn requests_name_the_providers_model_and_carry_the_sampling() {
        let completion = Prompt::Completion { prefix: "def f(".into(), suffix: "\n".into(), file_name: None, raw: false };
        let (path, body) = request(&job(completion, true), "theirs");
        assert_eq!(path, "/completions");
        assert_eq!(
            body,
            json!({"model": "theirs", "prompt": "def f(", "suffix": "\n", "max_tokens": 16, "temperature": 0.0, "stop": ["\n"], "n": 2, "stream": true, "stream_options": {"include_usage": true}})
        );
        let raw = Prompt::Completion { prefix: "x".into(), suffix: "y".into(), file_name: None, raw: true };
        assert!(request(&job(raw, false), "theirs").1.get("suffix").is_none());
        let chat = Prompt::Chat {
            messages: vec![Message { role: Role::System, content: "be brief".into() }, Message { role: Role::User, content: "hi".into() }],
        };
        let (path, body) = request(&job(chat, false), "theirs");
        assert_eq!(path, "/chat/completions");
        assert_eq!(body["messages"], json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]));
        assert!(body.get("stream").is_none());
    }

    #[test]
    fn a_chat_body_with_usage_and_logprobs_is_read_and_redacted() {
        let body = br#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"key = 'AKIAIOSFODNN7EXAMPLE'"},"finish_reason":"length",
            "logprobs":{"content":[{"token":"key","logprob":0.0},{"token":" =","logprob":-0.6931471805599453}]}}],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}"#;
        let (choices, usage) = Answer::from_body(body).expect("parses").into_choices(1);
        assert_eq!(usage, Usage { prompt_tokens: 12, completion_tokens: 2 });
        assert_eq!(choices.len(), 1);
        assert!(!choices[0].text.contains("AKIAIOSFODNN7EXAMPLE"), "redacted: {}", choices[0].text);
        assert_eq!(choices[0].finish_reason, FinishReason::Length);
        assert!((choices[0].confidence - 0.75).abs() < 1e-9);
        assert_eq!(choices[0].tokens, ["key", " ="]);
    }

    #[test]
    fn a_completion_body_with_two_choices_is_read() {
        let body = br#"{"choices":[{"index":1,"text":"b","finish_reason":"stop"},{"index":0,"text":"a","finish_reason":"stop","logprobs":{"tokens":["a"],"token_logprobs":[0.0]}}]}"#;
        let (choices, usage) = Answer::from_body(body).expect("parses").into_choices(2);
        assert_eq!(choices.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(choices[0].confidence, 1.0);
        assert_eq!(usage.completion_tokens, 2, "counted when the provider reports none");
    }

    #[test]
    fn garbage_bodies_are_errors_not_panics() {
        assert!(Answer::from_body(b"<html>bad gateway</html>").is_err());
        assert!(Answer::from_body(br#"{"choices": "no"}"#).is_err());
        assert!(Answer::from_body(br#"{"choices": [{"index": 0}]}"#).is_err());
    }

    /// A chat stream as OpenAI-compatible servers send it, fed through the SSE buffer in every
    /// chunk size (so events, lines and a multi-byte character are split at every position).
    #[test]
    fn a_streamed_chat_split_at_every_position_yields_the_same_tokens() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"déf\"},\"finish_reason\":null}]}\n\n",
            ": ping\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" f()\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
            "data: [DONE]\n\n",
        );
        for size in [1, 2, 3, 7, 64, stream.len()] {
            let mut sse = SseBuffer::default();
            let mut answer = Answer::default();
            let mut pieces = Vec::new();
            for chunk in stream.as_bytes().chunks(size) {
                for event in sse.push(chunk).expect("bounded") {
                    pieces.extend(answer.push_event(&event).expect("valid event"));
                }
            }
            assert!(answer.finished);
            assert_eq!(pieces, [(0, "déf".to_owned()), (0, " f()".to_owned())], "chunk size {size}");
            let (choices, usage) = answer.into_choices(1);
            assert_eq!(choices[0].text, "déf f()");
            assert_eq!(usage, Usage { prompt_tokens: 5, completion_tokens: 2 });
        }
    }

    #[test]
    fn a_streamed_completion_counts_its_pieces_and_an_error_event_fails() {
        let mut answer = Answer::default();
        assert_eq!(answer.push_event(r#"{"choices":[{"index":0,"text":"re","finish_reason":null}]}"#).expect("ok"), [(0, "re".to_owned())]);
        answer.push_event(r#"{"choices":[{"index":0,"text":"turn","finish_reason":"length"}]}"#).expect("ok");
        let (choices, usage) = answer.into_choices(1);
        assert_eq!((choices[0].text.as_str(), choices[0].finish_reason, usage.completion_tokens), ("return", FinishReason::Length, 2));
        assert!(Answer::default().push_event(r#"{"error":{"message":"overloaded"}}"#).unwrap_err().contains("overloaded"));
        assert!(Answer::default().push_event("not json").is_err());
    }

    #[test]
    fn error_messages_are_read_from_any_shape() {
        assert_eq!(error_message(br#"{"error":{"message":"model not found","type":"x"}}"#), "model not found");
        assert_eq!(error_message(br#"{"detail":"bad"}"#), "bad");
        assert_eq!(error_message(b"plain text"), "plain text");
    }
}
