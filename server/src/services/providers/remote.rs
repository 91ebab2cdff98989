//! A configured OpenAI-compatible provider (Ollama, llama.cpp's server, a hosted service, another
//! Code4me-RS installation): completions go to `{base_url}/completions`, chats to
//! `{base_url}/chat/completions`, streamed as server-sent events when the client streams.

use code4me_shared::providers::RemoteProviderSettings;

use super::job::{ProviderAnswer, ProviderFailure, ProviderJob, TokenSink};

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

    /// Runs `job` on the provider.
    pub async fn run(&self, job: &ProviderJob, on_token: TokenSink<'_>) -> Result<ProviderAnswer, ProviderFailure> {
        let _ = (job, on_token, &self.http);
        Err(ProviderFailure::Unavailable(format!("{}: remote providers are not implemented yet", self.settings.name)))
    }
}
