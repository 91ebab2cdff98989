//! Settings of the open APIs' provider chain: the local workers first, then further
//! OpenAI-compatible servers (Ollama, llama.cpp's server, a hosted service, another Code4me-RS
//! installation), each with its model mapping, timeout, priority and circuit breaker, and the
//! suggestion cache.
//!
//! Read from `PROVIDERS` (a JSON array) or `PROVIDERS_FILE` (a file holding one); each provider's
//! API key comes from the environment variable its `api_key_env` names, never from the JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::settings::{EnvSource, SettingsError};

/// The local workers' name in responses, telemetry and `provider` pins.
pub const LOCAL_PROVIDER: &str = "local";

/// One further OpenAI-compatible provider.
#[derive(Debug, Clone)]
pub struct RemoteProviderSettings {
    /// Name in responses and telemetry (unique; never `local`).
    pub name: String,
    /// Base URL ending before `/completions`, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Bearer key, when the provider wants one.
    pub api_key: Option<SecretString>,
    /// Our model name → the provider's; `*` maps every model not listed. A model the mapping does
    /// not name is not served by this provider.
    pub models: BTreeMap<String, String>,
    /// Longest wait for the provider's first byte (and between streamed chunks).
    pub timeout: Duration,
    /// Lower goes first; the local workers have priority 0.
    pub priority: i32,
    /// Consecutive failures that open the circuit.
    pub breaker_failures: u32,
    /// How long an open circuit skips the provider before one trial request.
    pub breaker_cooldown: Duration,
}

impl RemoteProviderSettings {
    /// The provider's name for `model`, when it serves it.
    pub fn remote_model(&self, model: &str) -> Option<&str> {
        self.models.get(model).or_else(|| self.models.get("*")).map(String::as_str)
    }
}

/// A provider entry as operators write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    name: String,
    base_url: String,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    models: BTreeMap<String, String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_priority")]
    priority: i32,
    #[serde(default = "default_breaker_failures")]
    breaker_failures: u32,
    #[serde(default = "default_breaker_cooldown_ms")]
    breaker_cooldown_ms: u64,
}

fn default_timeout_ms() -> u64 {
    30_000
}
fn default_priority() -> i32 {
    10
}
fn default_breaker_failures() -> u32 {
    3
}
fn default_breaker_cooldown_ms() -> u64 {
    30_000
}

/// The open APIs' settings.
#[derive(Debug, Clone)]
pub struct OpenApiSettings {
    /// Further providers after the local workers, by priority.
    pub providers: Vec<RemoteProviderSettings>,
    /// Consecutive failures that open the local workers' circuit (`LOCAL_BREAKER_FAILURES`).
    pub local_breaker_failures: u32,
    /// How long the local workers' open circuit lasts (`LOCAL_BREAKER_COOLDOWN_MS`).
    pub local_breaker_cooldown: Duration,
    /// How long a generation of the open APIs may take before the next provider is tried
    /// (`OPEN_API_TIMEOUT_MS`, default 60 s).
    pub timeout: Duration,
    /// How long a suggestion stays cached (`SUGGESTION_CACHE_TTL_SECONDS`, default 1 h; 0 = off).
    pub suggestion_cache_ttl: Duration,
    /// The most tokens one open-API generation may produce whatever a request asks
    /// (`OPEN_API_MAX_NEW_TOKENS`; unset = the request's or the model's budget). An operator's cap
    /// on a shared installation's cost per request; the fuzzing suite sets it low so it exercises
    /// the endpoints' validation rather than the model's speed.
    pub max_new_tokens: Option<usize>,
}

impl OpenApiSettings {
    /// Reads `PROVIDERS` / `PROVIDERS_FILE` and the other variables; every key named by an
    /// `api_key_env` must be set.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let (var, text) = match (env.raw("PROVIDERS"), env.raw("PROVIDERS_FILE")) {
            (Some(json), _) => ("PROVIDERS", json.to_owned()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| invalid("PROVIDERS_FILE", path, format!("cannot read it: {e}")))?;
                ("PROVIDERS_FILE", text)
            }
            (None, None) => ("PROVIDERS", "[]".to_owned()),
        };
        let entries: Vec<ProviderEntry> =
            serde_json::from_str(&text).map_err(|e| invalid(var, &text, format!("expected a JSON array of providers: {e}")))?;
        let mut providers = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.name == LOCAL_PROVIDER || entry.name.is_empty() || providers.iter().any(|p: &RemoteProviderSettings| p.name == entry.name) {
                return Err(invalid(var, &entry.name, "provider names must be unique, non-empty and not `local`".into()));
            }
            if !(entry.base_url.starts_with("http://") || entry.base_url.starts_with("https://")) {
                return Err(invalid(var, &entry.base_url, format!("provider {}: base_url must be an http(s) URL", entry.name)));
            }
            let api_key = match &entry.api_key_env {
                None => None,
                Some(name) => Some(SecretString::from(
                    env.raw(name)
                        .ok_or_else(|| invalid(var, name, format!("provider {}: its api_key_env variable {name} is not set", entry.name)))?,
                )),
            };
            providers.push(RemoteProviderSettings {
                name: entry.name,
                base_url: entry.base_url.trim_end_matches('/').to_owned(),
                api_key,
                models: entry.models,
                timeout: Duration::from_millis(entry.timeout_ms.max(1)),
                priority: entry.priority,
                breaker_failures: entry.breaker_failures.max(1),
                breaker_cooldown: Duration::from_millis(entry.breaker_cooldown_ms),
            });
        }
        providers.sort_by_key(|p| p.priority);
        Ok(Self {
            providers,
            local_breaker_failures: env.parse_or("LOCAL_BREAKER_FAILURES", 3_u32)?.max(1),
            local_breaker_cooldown: env.millis_or("LOCAL_BREAKER_COOLDOWN_MS", 5_000)?,
            timeout: env.millis_or("OPEN_API_TIMEOUT_MS", 60_000)?,
            suggestion_cache_ttl: env.seconds_or("SUGGESTION_CACHE_TTL_SECONDS", 3_600)?,
            max_new_tokens: match env.raw("OPEN_API_MAX_NEW_TOKENS") {
                None => None,
                Some(_) => Some(env.parse_or("OPEN_API_MAX_NEW_TOKENS", 0_usize)?.max(1)),
            },
        })
    }
}

fn invalid(var: &str, value: &str, reason: String) -> SettingsError {
    SettingsError::Invalid { var: var.to_owned(), value: value.chars().take(200).collect(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn providers_are_read_from_json_with_keys_from_their_variables_and_sorted_by_priority() {
        let env = EnvSource::from_pairs([
            (
                "PROVIDERS",
                r#"[{"name": "hosted", "base_url": "https://api.example.com/v1/", "api_key_env": "HOSTED_KEY", "models": {"*": "big"}, "priority": 20},
                    {"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "models": {"HuggingFaceTB/SmolLM2-135M-Instruct": "smollm2:135m"}, "timeout_ms": 500, "priority": 5}]"#,
            ),
            ("HOSTED_KEY", "sk-test"),
        ]);
        let settings = OpenApiSettings::from_env(&env).expect("parses");
        let names: Vec<&str> = settings.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ollama", "hosted"]);
        let (ollama, hosted) = (&settings.providers[0], &settings.providers[1]);
        assert_eq!(ollama.timeout, Duration::from_millis(500));
        assert_eq!(ollama.remote_model("HuggingFaceTB/SmolLM2-135M-Instruct"), Some("smollm2:135m"));
        assert_eq!(ollama.remote_model("bigcode/starcoder2-3b"), None);
        assert_eq!(hosted.remote_model("anything"), Some("big"));
        assert_eq!(hosted.base_url, "https://api.example.com/v1");
        assert_eq!(hosted.api_key.as_ref().map(|k| k.expose_secret().to_owned()).as_deref(), Some("sk-test"));
        assert_eq!(hosted.breaker_failures, 3);
    }

    #[test]
    fn bad_provider_lists_name_the_problem() {
        let read = |json: &str| OpenApiSettings::from_env(&EnvSource::from_pairs([("PROVIDERS", json)])).map(|_| ()).unwrap_err().to_string();
        assert!(read("{}").contains("JSON array"));
        assert!(read(r#"[{"name": "local", "base_url": "http://x"}]"#).contains("unique"));
        assert!(read(r#"[{"name": "a", "base_url": "ftp://x"}]"#).contains("http(s)"));
        assert!(read(r#"[{"name": "a", "base_url": "http://x", "api_key_env": "MISSING"}]"#).contains("MISSING is not set"));
        assert!(read(r#"[{"name": "a", "base_url": "http://x", "bogus": 1}]"#).contains("unknown field"));
        assert!(OpenApiSettings::from_env(&EnvSource::default()).expect("defaults").providers.is_empty());
    }
}
