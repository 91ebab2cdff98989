//! The `pr_creation` stage: a pull request through the forge's REST API — GitHub's
//! `POST {api}/repos/{owner}/{repo}/pulls`, which GitHub Enterprise (`https://host/api/v3`) and
//! compatible forges also serve. The API base and token come from the settings per host
//! (`AGENT_FORGE_API_URLS`, `AGENT_FORGE_TOKENS`).

use std::time::Duration;

use serde_json::{Value, json};

/// A pull request to open.
pub struct PullRequest<'a> {
    /// `owner`, `repo` of the repository.
    pub owner: &'a str,
    /// The repository's name.
    pub repo: &'a str,
    /// Its title.
    pub title: &'a str,
    /// The pushed branch.
    pub head: &'a str,
    /// The branch to merge into.
    pub base: &'a str,
    /// Its description.
    pub body: &'a str,
}

/// Opens `pr` at `api_base` with `token`; returns the pull request's web address.
pub async fn open(http: &reqwest::Client, api_base: &str, token: &str, pr: &PullRequest<'_>) -> Result<String, String> {
    let url = format!("{api_base}/repos/{}/{}/pulls", pr.owner, pr.repo);
    let response = http
        .post(&url)
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .header("User-Agent", "code4me-agent")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .timeout(Duration::from_secs(30))
        .json(&json!({"title": pr.title, "head": pr.head, "base": pr.base, "body": pr.body}))
        .send()
        .await
        .map_err(|e| format!("the forge API is unreachable: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("no message");
        return Err(format!("the forge refused the pull request ({status}): {message}"));
    }
    body["html_url"].as_str().map(str::to_owned).ok_or_else(|| "the forge's answer has no html_url".to_owned())
}
