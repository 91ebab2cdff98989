//! The provider chain of the open APIs: the local workers (through the queues) first, then the
//! configured OpenAI-compatible providers by priority. A request goes to the first provider that
//! serves its model and whose circuit is closed; on a timeout, a 5xx or a connection error it falls
//! through to the next — unless tokens were already streamed to the client, which cannot be taken
//! back. A request the provider refuses as invalid (a prompt too long for the model) is the
//! request's fault and is not retried elsewhere.

pub mod breaker;
pub mod job;
pub mod local;
pub mod openai_wire;
pub mod remote;
pub mod sse;

use code4me_shared::providers::{LOCAL_PROVIDER, OpenApiSettings};

use self::breaker::{Breaker, Permit};
pub use self::job::{Choice, GenerationOptions, Message, Prompt, ProviderAnswer, ProviderFailure, ProviderJob, Role, TokenSink};
use self::local::LocalProvider;
use self::remote::RemoteProvider;
use crate::pipeline::Pipeline;
use crate::services::model_directory::ModelDirectory;

/// Why the chain did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFailure {
    /// Every provider that serves the model failed or was skipped, with why.
    NoProvider(Vec<(String, String)>),
    /// The request was refused as invalid.
    Rejected(String),
    /// A provider failed after it had streamed tokens.
    Interrupted(String),
    /// The client went away.
    Cancelled,
    /// `provider` names no provider.
    UnknownProvider(String),
}

impl ChainFailure {
    /// A message for the client.
    pub fn message(&self) -> String {
        match self {
            Self::NoProvider(reasons) if reasons.is_empty() => "No provider serves this model.".to_owned(),
            Self::NoProvider(reasons) => {
                let reasons: Vec<String> = reasons.iter().map(|(name, why)| format!("{name}: {why}")).collect();
                format!("No provider could answer ({}).", reasons.join("; "))
            }
            Self::Rejected(reason) => reason.clone(),
            Self::Interrupted(reason) => format!("The provider failed while streaming: {reason}"),
            Self::Cancelled => "cancelled".to_owned(),
            Self::UnknownProvider(name) => format!("No provider is named {name:?}."),
        }
    }
}

/// A provider of the chain.
enum Provider {
    Local(Box<LocalProvider>),
    Remote(RemoteProvider),
}

/// A provider with its circuit and priority.
struct Link {
    provider: Provider,
    breaker: Breaker,
    priority: i32,
}

impl Link {
    fn name(&self) -> &str {
        match &self.provider {
            Provider::Local(_) => LOCAL_PROVIDER,
            Provider::Remote(remote) => remote.name(),
        }
    }
}

/// The chain, ordered by priority; one per server instance.
pub struct Providers {
    links: Vec<Link>,
}

/// One provider's state, for `/api/ai/health` and `/api/status`.
#[derive(Debug, Clone)]
pub struct ProviderStatus {
    /// Its name.
    pub name: String,
    /// Its priority (lower first).
    pub priority: i32,
    /// Whether its circuit is open (it is being skipped).
    pub circuit_open: bool,
    /// Our model names a remote provider maps (`*` = any); empty for the local workers, whose
    /// models are what the live workers announce.
    pub models: Vec<String>,
}

impl Providers {
    /// The local workers (priority 0) and the configured providers, by priority.
    pub fn new(settings: &OpenApiSettings, pipeline: Pipeline, directory: ModelDirectory, http: reqwest::Client) -> Self {
        let mut links = vec![Link {
            provider: Provider::Local(Box::new(LocalProvider::new(pipeline, directory, settings.timeout))),
            breaker: Breaker::new(settings.local_breaker_failures, settings.local_breaker_cooldown),
            priority: 0,
        }];
        for remote in &settings.providers {
            links.push(Link {
                breaker: Breaker::new(remote.breaker_failures, remote.breaker_cooldown),
                priority: remote.priority,
                provider: Provider::Remote(RemoteProvider::new(remote.clone(), http.clone())),
            });
        }
        links.sort_by_key(|l| l.priority);
        Self { links }
    }

    /// Every provider with its circuit.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.links
            .iter()
            .map(|l| ProviderStatus {
                name: l.name().to_owned(),
                priority: l.priority,
                circuit_open: l.breaker.is_open(),
                models: match &l.provider {
                    Provider::Local(_) => Vec::new(),
                    Provider::Remote(remote) => remote.models(),
                },
            })
            .collect()
    }

    /// Whether `name` is a provider of the chain.
    pub fn knows(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.name() == name)
    }

    /// Runs `job` on the first provider that answers (only `pinned` when given).
    pub async fn run(&self, job: &ProviderJob, pinned: Option<&str>, on_token: TokenSink<'_>) -> Result<ProviderAnswer, ChainFailure> {
        if let Some(name) = pinned
            && !self.knows(name)
        {
            return Err(ChainFailure::UnknownProvider(name.to_owned()));
        }
        let streamed = std::sync::atomic::AtomicBool::new(false);
        let mut sink = |choice: u32, text: &str| {
            streamed.store(true, std::sync::atomic::Ordering::Relaxed);
            on_token(choice, text);
        };
        let mut skipped = Vec::new();
        for link in self.links.iter().filter(|l| pinned.is_none_or(|name| l.name() == name)) {
            let name = link.name().to_owned();
            if let Provider::Remote(remote) = &link.provider
                && remote.remote_model(&job.model.name).is_none()
            {
                continue;
            }
            if link.breaker.permit() == Permit::Open {
                skipped.push((name, "skipped: its circuit is open after recent failures".to_owned()));
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = match &link.provider {
                Provider::Local(local) => local.run(job, &mut sink).await,
                Provider::Remote(remote) => remote.run(job, &mut sink).await,
            };
            // `provider` with `provider.outcome` is what the log analyzer counts as an attempt.
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match outcome {
                Ok(answer) => {
                    link.breaker.succeeded();
                    tracing::info!(provider = %name, provider.outcome = "answered", latency_ms, request_id = %job.request_id, "provider answered");
                    metrics::counter!("open_api_provider_requests_total", "provider" => name, "outcome" => "answered").increment(1);
                    return Ok(answer);
                }
                Err(ProviderFailure::Rejected(reason)) => {
                    link.breaker.succeeded();
                    return Err(ChainFailure::Rejected(reason));
                }
                Err(ProviderFailure::Cancelled) => {
                    link.breaker.abandoned();
                    return Err(ChainFailure::Cancelled);
                }
                Err(ProviderFailure::NotServed(reason)) => {
                    link.breaker.abandoned();
                    skipped.push((name, reason));
                }
                Err(ProviderFailure::Unavailable(reason)) => {
                    link.breaker.failed();
                    tracing::warn!(provider = %name, provider.outcome = "failed", latency_ms, %reason, request_id = %job.request_id, "provider failed; trying the next");
                    metrics::counter!("open_api_provider_requests_total", "provider" => name.clone(), "outcome" => "failed").increment(1);
                    if streamed.load(std::sync::atomic::Ordering::Relaxed) {
                        return Err(ChainFailure::Interrupted(reason));
                    }
                    skipped.push((name, reason));
                }
            }
        }
        Err(ChainFailure::NoProvider(skipped))
    }
}
