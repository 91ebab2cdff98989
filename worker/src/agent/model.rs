//! The `ai_processing` stage: the edits asked of a model, through the provider chain's order — this
//! worker's local model first, then the `PROVIDERS` entries by priority — or only the provider a
//! run names (`local` or a `PROVIDERS` name). A provider that fails (unreachable, an error status,
//! a timeout) hands over to the next; the answer's *content* is never a reason to try another.
//!
//! A capable remote model gets the instructions and writes its edits in the strict format
//! [`super::edits`] reads. The local model is small: it is given the same instructions, and its
//! answer is started for it inside a whole-file block for the file the analysis ranked first, so
//! what it writes is that file's new content — a small edit, but always in the format.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use code4me_shared::providers::{LOCAL_PROVIDER, OpenApiSettings, RemoteProviderSettings};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::model::catalog::{Catalog, LoadedModel, Overrides};
use crate::model::prompt::ChatMessage;

/// Characters of file text shown to the local model (its context is short).
pub const LOCAL_BUDGET: usize = 6_000;
/// Characters of file text shown to a remote model.
pub const REMOTE_BUDGET: usize = 60_000;

/// The instructions every model gets.
pub const INSTRUCTIONS: &str = "You are a coding agent. You change a repository as the user asks. \
Answer with the complete new content of every file you change or create, each in this exact form and nothing else:\n\
=== FILE: <path relative to the repository root>\n<the complete new file content>\n=== END FILE\n\
Keep the change small and focused. Never write inside .git.";

/// Who answered, and how.
#[derive(Debug, Clone)]
pub struct ModelAnswer {
    /// The provider's name (`local` or a `PROVIDERS` name).
    pub provider: String,
    /// The model's name at that provider.
    pub model: String,
    /// The answer, in the edit format when the model kept to it (the local model's includes the
    /// block opening it was given).
    pub text: String,
    /// How long the provider took.
    pub latency: Duration,
}

/// One provider's failure, for the thinking log and the next provider.
#[derive(Debug, Clone)]
pub struct ProviderFailure {
    /// The provider.
    pub provider: String,
    /// Why.
    pub reason: String,
}

/// The chain as this worker sees it.
#[derive(Clone)]
pub struct ModelChain {
    catalog: Arc<Catalog>,
    remotes: Vec<RemoteProviderSettings>,
    http: reqwest::Client,
    max_new_tokens: usize,
}

/// What to ask.
pub struct Question<'a> {
    /// The user's request.
    pub prompt: &'a str,
    /// The repository as the analysis described it (for the given budget).
    pub repository: &'a str,
    /// The file a local model writes.
    pub local_target: &'a str,
}

impl ModelChain {
    /// The chain over this worker's models and the configured remote providers.
    pub fn new(catalog: Arc<Catalog>, providers: &OpenApiSettings, max_new_tokens: usize) -> Self {
        let mut remotes = providers.providers.clone();
        remotes.sort_by_key(|p| p.priority);
        Self { catalog, remotes, http: reqwest::Client::new(), max_new_tokens }
    }

    /// Whether `name` is a provider of the chain.
    pub fn knows(&self, name: &str) -> bool {
        name == LOCAL_PROVIDER || self.remotes.iter().any(|p| p.name == name)
    }

    /// The providers a run tries, in order.
    pub fn order(&self, pinned: Option<&str>) -> Vec<String> {
        let all = std::iter::once(LOCAL_PROVIDER.to_owned()).chain(self.remotes.iter().map(|p| p.name.clone()));
        all.filter(|name| pinned.is_none_or(|p| p == name)).collect()
    }

    /// The local model the agent uses: the first loaded row.
    fn local_model(&self) -> Option<Arc<LoadedModel>> {
        self.catalog.available().first().and_then(|id| self.catalog.get(*id).ok())
    }

    /// The messages a provider is sent.
    pub fn messages(question: &Question<'_>) -> Vec<ChatMessage> {
        vec![
            ChatMessage { role: "system".into(), content: INSTRUCTIONS.into() },
            ChatMessage { role: "user".into(), content: format!("{}\n\nRequest: {}", question.repository, question.prompt) },
        ]
    }

    /// Asks `provider`.
    pub async fn ask(&self, provider: &str, question: &Question<'_>, cancel: Arc<AtomicBool>) -> Result<ModelAnswer, ProviderFailure> {
        let fail = |reason: String| ProviderFailure { provider: provider.to_owned(), reason };
        let started = Instant::now();
        if provider == LOCAL_PROVIDER {
            let model = self.local_model().ok_or_else(|| fail("this worker has no model loaded".into()))?;
            let messages = Self::messages(question);
            let start = format!("=== FILE: {}\n", question.local_target);
            let overrides = Overrides {
                max_new_tokens: Some(self.max_new_tokens),
                stop_sequences: vec!["=== END FILE".into()],
                temperature: Some(0.2),
                ..Overrides::default()
            };
            let name = model.name.clone();
            let generation = tokio::task::spawn_blocking(move || model.continue_chat(&messages, &start, &overrides, &cancel, &mut |_| {}))
                .await
                .map_err(|e| fail(format!("the model panicked: {e}")))?
                .map_err(|e| fail(e.to_string()))?;
            let text = format!("=== FILE: {}\n{}\n=== END FILE\n", question.local_target, generation.text.trim_end_matches('\n'));
            return Ok(ModelAnswer { provider: provider.to_owned(), model: name, text, latency: started.elapsed() });
        }
        let remote = self.remotes.iter().find(|p| p.name == provider).ok_or_else(|| fail("no such provider".into()))?;
        let local_name = self.local_model().map(|m| m.name.clone()).unwrap_or_default();
        let model = remote.remote_model(&local_name).ok_or_else(|| fail(format!("it maps no model for {local_name}")))?.to_owned();
        let messages: Vec<_> = Self::messages(question).into_iter().map(|m| json!({"role": m.role, "content": m.content})).collect();
        let body = json!({"model": model, "messages": messages, "max_tokens": self.max_new_tokens.max(1024), "temperature": 0.2});
        let mut request = self.http.post(format!("{}/chat/completions", remote.base_url.trim_end_matches('/'))).timeout(remote.timeout).json(&body);
        if let Some(key) = &remote.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|e| fail(format!("unreachable: {e}")))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.map_err(|e| fail(format!("{status}, and the body is not JSON: {e}")))?;
        if !status.is_success() {
            return Err(fail(format!("{status}: {}", answer["error"]["message"].as_str().unwrap_or("no message"))));
        }
        let text = answer["choices"][0]["message"]["content"].as_str().ok_or_else(|| fail("its answer has no choices[0].message.content".into()))?;
        Ok(ModelAnswer { provider: provider.to_owned(), model, text: text.to_owned(), latency: started.elapsed() })
    }

    /// Characters of file text the first provider of `order` can take.
    pub fn budget(order: &[String]) -> usize {
        if order.first().is_some_and(|p| p == LOCAL_PROVIDER) { LOCAL_BUDGET } else { REMOTE_BUDGET }
    }
}
