//! The repository agent's shared vocabulary: the progress events a run emits (stored in
//! `agent_run_event`, streamed as server-sent events), a run's status, and the worker's agent
//! settings (`AGENT_*`).
//!
//! The worker writes each event to PostgreSQL first and then announces it on
//! `agent_events` with the run's id; servers stream from the table, so a watcher that connects late, loses
//! its connection or reaches another server replays exactly what it missed (`Last-Event-ID`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::settings::{EnvSource, SettingsError};

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Progress.
    Info,
    /// The agent's reasoning: the prompt it sent and the model's raw answer.
    Thinking,
    /// The change, as a unified diff.
    Diff,
    /// The run ended with a pushed branch (and a pull request where the host has a forge API).
    Success,
    /// The run ended without a change; `message` says why.
    Error,
}

impl EventKind {
    /// Success and error end a run: no event follows them.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Error)
    }
}

/// The stage a run is in, in the order a run passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The URL, its host and the settings are checked.
    Validation,
    /// The run's private directory and sandbox are prepared.
    SandboxInit,
    /// `git clone --depth 1` within the size and time limits.
    Clone,
    /// Language mix, key files, the files the model sees.
    Analysis,
    /// The model is asked for edits.
    AiProcessing,
    /// The edits are checked and applied.
    Apply,
    /// One commit on a new branch.
    Commit,
    /// The branch goes upstream.
    Push,
    /// The forge's pull-request API.
    PrCreation,
    /// The run is over.
    Complete,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 10] = [
        Stage::Validation,
        Stage::SandboxInit,
        Stage::Clone,
        Stage::Analysis,
        Stage::AiProcessing,
        Stage::Apply,
        Stage::Commit,
        Stage::Push,
        Stage::PrCreation,
        Stage::Complete,
    ];

    /// The name on the wire, in logs and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::SandboxInit => "sandbox_init",
            Self::Clone => "clone",
            Self::Analysis => "analysis",
            Self::AiProcessing => "ai_processing",
            Self::Apply => "apply",
            Self::Commit => "commit",
            Self::Push => "push",
            Self::PrCreation => "pr_creation",
            Self::Complete => "complete",
        }
    }

    /// Progress (0–100) when the stage starts.
    pub fn progress(self) -> u8 {
        match self {
            Self::Validation => 0,
            Self::SandboxInit => 5,
            Self::Clone => 10,
            Self::Analysis => 25,
            Self::AiProcessing => 35,
            Self::Apply => 70,
            Self::Commit => 78,
            Self::Push => 85,
            Self::PrCreation => 93,
            Self::Complete => 100,
        }
    }
}

/// One event of a run, as stored and as streamed (`data:` of a server-sent event whose `id:` is
/// `seq`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentEvent {
    /// The run.
    pub request_id: Uuid,
    /// Position in the run's log, from 1; the SSE event id.
    pub seq: i64,
    /// What it reports.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The stage it belongs to.
    pub stage: Stage,
    /// 0–100, never falling within a run.
    pub progress: u8,
    /// For people.
    pub message: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// Milliseconds the stage took, on the event that ends a stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// `diff` events: the change as a unified diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// `success`: the pushed branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// `success`: the commit on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `success`: the pull request, when the host has a forge API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    /// Further details (the language mix, the provider and its latency, file lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Ended with a `success` event.
    Succeeded,
    /// Ended with an `error` event.
    Failed,
    /// Stopped by its owner (or by its watchers leaving).
    Cancelled,
}

impl RunStatus {
    /// The column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the column's text.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled].into_iter().find(|s| s.as_str() == text)
    }

    /// No event follows.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A forge's pull-request API for one host.
#[derive(Debug, Clone)]
pub struct ForgeSettings {
    /// REST base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_base: String,
    /// Token for pushing and for the API (`AGENT_FORGE_TOKENS`); none = anonymous push, no PR.
    pub token: Option<SecretString>,
}

/// The worker's agent settings.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Runs one worker executes at once (`AGENT_CONCURRENCY`, default 1; 0 = this worker takes no
    /// agent runs).
    pub concurrency: usize,
    /// Hosts a repository URL may name (`AGENT_ALLOWED_HOSTS`, comma-separated `host` or
    /// `host:port`; default `github.com`).
    pub allowed_hosts: Vec<String>,
    /// Accept local paths and `file://` URLs (`AGENT_ALLOW_LOCAL`, default false: for tests and
    /// self-hosting only).
    pub allow_local: bool,
    /// Where run directories are made (`AGENT_SANDBOX_DIR`; default `<temp>/code4me-agent`).
    pub sandbox_dir: PathBuf,
    /// Unprivileged account the sandboxed commands run as when the worker runs as root
    /// (`AGENT_SANDBOX_USER`, default `nobody`).
    pub sandbox_user: String,
    /// Use bubblewrap (`AGENT_BUBBLEWRAP`: `auto`, the default, uses it when it works; `off`;
    /// `required` refuses runs without it).
    pub bubblewrap: Bubblewrap,
    /// Largest checkout, `.git` included (`AGENT_MAX_REPO_BYTES`, default 50 MiB).
    pub max_repo_bytes: u64,
    /// Wall-clock limit of one run (`AGENT_RUN_TIMEOUT_SECONDS`, default 300).
    pub run_timeout: Duration,
    /// Wall-clock limit of one git command (`AGENT_COMMAND_TIMEOUT_SECONDS`, default 60).
    pub command_timeout: Duration,
    /// CPU seconds one sandboxed command may use (`AGENT_CPU_SECONDS`, default 60).
    pub cpu_seconds: u64,
    /// Address space one sandboxed command may use (`AGENT_MEMORY_BYTES`, default 2 GiB).
    pub memory_bytes: u64,
    /// Tokens the local model may write (`AGENT_MAX_NEW_TOKENS`, default 512).
    pub max_new_tokens: usize,
    /// Let the model's edits touch CI configuration (`.github/workflows/`, `.gitlab-ci.yml`, …)
    /// (`AGENT_ALLOW_CI_EDITS`, default false): a pushed workflow runs with the repository's
    /// secrets, so a request (or a prompt injected through the repository's own text) must not
    /// write one unless the operator wants it.
    pub allow_ci_edits: bool,
    /// Forge per host (`AGENT_FORGE_API_URLS` `host=url,…` and `AGENT_FORGE_TOKENS` `host=token,…`);
    /// `github.com` → `https://api.github.com` unless set.
    pub forges: BTreeMap<String, ForgeSettings>,
}

/// Whether runs are sandboxed with bubblewrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bubblewrap {
    /// When `bwrap` works on this machine.
    Auto,
    /// Never.
    Off,
    /// Always; runs fail at `sandbox_init` without it.
    Required,
}

impl AgentSettings {
    /// Reads the `AGENT_*` variables.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let allowed_hosts = list(&env.string_or("AGENT_ALLOWED_HOSTS", "github.com")).map(|h| h.to_ascii_lowercase()).collect();
        let bubblewrap = match env.string_or("AGENT_BUBBLEWRAP", "auto").as_str() {
            "auto" => Bubblewrap::Auto,
            "off" => Bubblewrap::Off,
            "required" => Bubblewrap::Required,
            other => return Err(invalid("AGENT_BUBBLEWRAP", other, "expected auto, off or required")),
        };
        let mut forges: BTreeMap<String, ForgeSettings> = BTreeMap::new();
        forges.insert("github.com".into(), ForgeSettings { api_base: "https://api.github.com".into(), token: None });
        for (host, url) in pairs(env, "AGENT_FORGE_API_URLS")? {
            forges.insert(host, ForgeSettings { api_base: url.trim_end_matches('/').to_owned(), token: None });
        }
        for (host, token) in pairs(env, "AGENT_FORGE_TOKENS")? {
            match forges.get_mut(&host) {
                Some(forge) => forge.token = Some(SecretString::from(token)),
                None => return Err(invalid("AGENT_FORGE_TOKENS", &host, "this host has no forge API URL (AGENT_FORGE_API_URLS)")),
            }
        }
        Ok(Self {
            concurrency: env.parse_or("AGENT_CONCURRENCY", 1)?,
            allowed_hosts,
            allow_local: env.parse_or("AGENT_ALLOW_LOCAL", false)?,
            sandbox_dir: env.raw("AGENT_SANDBOX_DIR").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("code4me-agent")),
            sandbox_user: env.string_or("AGENT_SANDBOX_USER", "nobody"),
            bubblewrap,
            max_repo_bytes: env.parse_or("AGENT_MAX_REPO_BYTES", 50 * 1024 * 1024)?,
            run_timeout: env.seconds_or("AGENT_RUN_TIMEOUT_SECONDS", 300)?,
            command_timeout: env.seconds_or("AGENT_COMMAND_TIMEOUT_SECONDS", 60)?,
            cpu_seconds: env.parse_or("AGENT_CPU_SECONDS", 60)?,
            memory_bytes: env.parse_or("AGENT_MEMORY_BYTES", 2 * 1024 * 1024 * 1024)?,
            max_new_tokens: env.parse_or("AGENT_MAX_NEW_TOKENS", 512)?,
            allow_ci_edits: env.parse_or("AGENT_ALLOW_CI_EDITS", false)?,
            forges,
        })
    }
}

/// A branch name git accepts and nobody can mistake for an option or a path trick: letters,
/// digits, `.`, `_`, `-` and `/`, at most 255 bytes, no leading `-`, `.` or `/`, no `..`, `//`,
/// `@{`, and no trailing `/`, `.` or `.lock` (git's `check-ref-format` rules, narrowed).
pub fn is_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && !name.starts_with(['-', '.', '/'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.split('/').any(|part| part.starts_with('.'))
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `host=value,…` (hosts lower-cased).
fn pairs(env: &EnvSource, name: &str) -> Result<Vec<(String, String)>, SettingsError> {
    let Some(text) = env.raw(name) else { return Ok(Vec::new()) };
    list(text)
        .map(|pair| match pair.split_once('=') {
            Some((host, value)) if !host.trim().is_empty() && !value.trim().is_empty() => {
                Ok((host.trim().to_ascii_lowercase(), value.trim().to_owned()))
            }
            _ => Err(invalid(name, "…", "expected host=value pairs separated by commas")),
        })
        .collect()
}

fn invalid(name: &str, value: &str, why: &str) -> SettingsError {
    SettingsError::Invalid { var: name.to_owned(), value: value.to_owned(), reason: why.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_advance_progress_in_their_order() {
        let progress: Vec<u8> = Stage::ALL.iter().map(|s| s.progress()).collect();
        assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
        assert_eq!(Stage::Complete.progress(), 100);
    }

    #[test]
    fn forge_tokens_need_a_forge_and_github_has_one_by_default() {
        let env = EnvSource::from_pairs([("AGENT_FORGE_TOKENS", "github.com=t0k")]);
        let settings = AgentSettings::from_env(&env).unwrap();
        assert_eq!(settings.forges["github.com"].api_base, "https://api.github.com");
        assert!(settings.forges["github.com"].token.is_some());
        let env = EnvSource::from_pairs([("AGENT_FORGE_TOKENS", "git.example=t0k")]);
        assert!(AgentSettings::from_env(&env).is_err(), "a token for a host without an API URL is a mistake");
    }

    #[test]
    fn branch_names_are_plain() {
        for good in ["main", "release/1.2", "feature_x-y"] {
            assert!(is_branch_name(good), "{good}");
        }
        for bad in ["", "-x", "--upload-pack=evil", "a..b", "a//b", "/a", "a/", "a.lock", "a b", "a\0b", "x/.hidden", "@{-1}", "a~1"] {
            assert!(!is_branch_name(bad), "{bad}");
        }
    }

    #[test]
    fn events_read_back_as_written() {
        let event = AgentEvent {
            request_id: Uuid::nil(),
            seq: 3,
            kind: EventKind::Diff,
            stage: Stage::Apply,
            progress: 70,
            message: "m".into(),
            at: "2026-01-01T00:00:00Z".into(),
            elapsed_ms: None,
            diff: Some("--- a/x".into()),
            branch: None,
            commit: None,
            pr_url: None,
            details: None,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "diff");
        assert_eq!(json["stage"], "apply");
        assert_eq!(serde_json::from_value::<AgentEvent>(json).unwrap(), event);
    }
}
