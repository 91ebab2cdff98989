//! Bodies of the repository agent's endpoints (`POST /api/agent/code`, `/api/agent/runs…`). The
//! events themselves are [`code4me_shared::agent::AgentEvent`]: the worker writes them.

use chrono::{DateTime, Utc};
use code4me_shared::agent::{AgentEvent, RunStatus};
use code4me_shared::validation::{Fields, Issue, Rejection};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Longest accepted prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 8000;
/// Longest accepted repository URL.
pub const MAX_URL_CHARS: usize = 2048;

/// `POST /api/agent/code`, as documented.
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)]
pub struct AgentCodeBody {
    /// The repository: an `https` URL on an allowed host (`AGENT_ALLOWED_HOSTS`), or a local path
    /// when the installation allows local repositories.
    pub repo_url: String,
    /// What to change (1–8,000 characters).
    pub prompt: String,
    /// The branch to start from and to open the pull request against (default: the repository's
    /// default branch).
    pub base_branch: Option<String>,
    /// Use only this provider (`local` or a configured provider's name); default: the chain.
    pub provider: Option<String>,
}

/// `POST /api/agent/code`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCodeRequest {
    /// The repository.
    pub repo_url: String,
    /// What to change.
    pub prompt: String,
    /// The base branch.
    pub base_branch: Option<String>,
    /// A pinned provider.
    pub provider: Option<String>,
}

impl AgentCodeRequest {
    /// Parses a body. The URL's host is checked by the worker (the one place that clones), so a
    /// refused host is a run with an `error` event, visible in the run list like any other.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let repo_url = f.required("repo_url", |s| text(s, MAX_URL_CHARS));
        let prompt = f.required("prompt", |s| text(s, MAX_PROMPT_CHARS));
        let base_branch = f.optional("base_branch", |s| {
            if code4me_shared::agent::is_branch_name(s) {
                Ok(s.to_owned())
            } else {
                Err(Rejection::value_error("not a branch name: letters, digits, '.', '_', '-' and '/', without '..' or a leading '-'", "branch"))
            }
        });
        let provider = f.optional("provider", |s| text(s, 100));
        let issues = f.finish();
        match (repo_url, prompt, base_branch, provider, issues) {
            (Some(repo_url), Some(prompt), Some(base_branch), Some(provider), Ok(())) => Ok(Self { repo_url, prompt, base_branch, provider }),
            (.., Err(issues)) => Err(issues),
            _ => Err(Vec::new()),
        }
    }
}

/// Non-blank text of at most `max` characters, without NUL (PostgreSQL text cannot hold it).
fn text(s: &str, max: usize) -> Result<String, Rejection> {
    if s.trim().is_empty() {
        return Err(Rejection::too_short(1));
    }
    if s.chars().count() > max {
        return Err(Rejection::too_long(max));
    }
    if s.contains('\0') {
        return Err(Rejection::value_error("must not contain NUL characters", "NUL"));
    }
    Ok(s.to_owned())
}

/// One server-sent event of a run's stream, as the wire carries it (the OpenAPI document describes
/// the envelope; `data` is an `AgentEvent` as JSON).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AgentStreamEvent {
    /// The event's `seq`: what a client sends back as `Last-Event-ID`.
    pub id: String,
    /// The event's `type`: `info`, `thinking`, `diff`, `success` or `error`.
    pub event: String,
    /// The `AgentEvent`, as JSON.
    pub data: String,
}

/// One run, as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentRun {
    /// The run (every event's `request_id`).
    pub run_id: uuid::Uuid,
    /// The repository as given.
    pub repo_url: String,
    /// The request.
    pub prompt: String,
    /// The base branch asked for, if any.
    pub base_branch: Option<String>,
    /// The pinned provider, if any.
    pub provider: Option<String>,
    /// Where it stands.
    pub status: RunStatus,
    /// The pushed branch.
    pub branch: Option<String>,
    /// Its commit.
    pub commit: Option<String>,
    /// The pull request.
    pub pr_url: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When a worker took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /api/agent/runs`: the caller's runs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentRuns {
    /// The runs.
    pub runs: Vec<AgentRun>,
}

/// `GET /api/agent/runs/{run_id}` (JSON): the run and its stored events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentRunDetail {
    /// The run.
    pub run: AgentRun,
    /// Its events in order.
    pub events: Vec<AgentEvent>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_need_a_url_and_a_prompt_within_bounds() {
        let ok = AgentCodeRequest::parse(&json!({"repo_url": "https://github.com/a/b", "prompt": "fix it", "base_branch": "dev"})).expect("valid");
        assert_eq!(ok.base_branch.as_deref(), Some("dev"));
        assert_eq!(ok.provider, None);
        let issues = AgentCodeRequest::parse(&json!({"repo_url": 7, "prompt": "x".repeat(MAX_PROMPT_CHARS + 1)})).expect_err("invalid");
        let locs: Vec<String> = issues.iter().map(|i| json!(i.loc).to_string()).collect();
        assert_eq!(locs, [r#"["body","repo_url"]"#, r#"["body","prompt"]"#]);
        assert!(AgentCodeRequest::parse(&json!({"repo_url": "https://github.com/a/b", "prompt": "a\u{0}b"})).is_err());
        assert!(AgentCodeRequest::parse(&json!({"repo_url": "https://github.com/a/b", "prompt": "   "})).is_err());
        assert!(AgentCodeRequest::parse(&json!([1, 2])).is_err());
        assert!(AgentCodeRequest::parse(&json!({"repo_url": "https://github.com/a/b", "prompt": "x", "base_branch": "--upload-pack=x"})).is_err());
    }
}
