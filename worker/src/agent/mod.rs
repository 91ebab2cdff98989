//! The repository agent: one run turns a prompt into a branch and a pull request.
//!
//! Stages, each reported as events ([`events`]): `validation` ([`repo_url`]), `sandbox_init`
//! ([`sandbox`]), `clone`, `analysis` ([`analysis`]), `ai_processing` ([`model`]; the prompt and the
//! model's raw answer go to `thinking` events), `apply` ([`edits`], then [`git`]; a `diff` event
//! carries the change), `commit`, `push`, `pr_creation` ([`forge`]) and `complete`. A run ends with
//! exactly one `success` or `error` event, and its sandbox is removed whatever happens.

pub mod analysis;
pub mod edits;
pub mod events;
pub mod forge;
pub mod git;
pub mod model;
pub mod repo_url;
pub mod run_row;
pub mod sandbox;
pub mod sweep;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use code4me_shared::agent::{AgentSettings, EventKind, RunStatus, Stage, is_branch_name};
use code4me_shared::jobs::agent::AgentJob;
use code4me_shared::redaction::redact;
use redis::aio::ConnectionManager;
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::PgPool;

use self::edits::Edit;
use self::events::{EventLog, Extra};
use self::git::Git;
use self::model::{ModelChain, Question};
use self::run_row::{Claim, Outcome};
use self::sandbox::{Isolation, Sandbox};
use self::sweep::Instance;
use crate::pg_text::pg_string;

/// Characters of the model's answer kept in the thinking log.
const THINKING_CAP: usize = 64 * 1024;
/// Characters of a diff kept in the `diff` event.
const DIFF_CAP: usize = 256 * 1024;

/// What every run of this worker shares.
#[derive(Clone)]
pub struct Agent {
    /// `AGENT_*`.
    pub settings: Arc<AgentSettings>,
    /// bubblewrap, the sandbox account and this instance's directory, set up at start; why runs
    /// cannot be sandboxed here when they cannot (each run then ends at `sandbox_init` saying so).
    pub sandboxing: Result<Sandboxing, String>,
    /// The models.
    pub chain: ModelChain,
    /// Runs and events.
    pub db: PgPool,
    /// Event announcements.
    pub redis: ConnectionManager,
    /// This worker instance's name, stored on the runs it takes (only it may close them).
    pub worker: String,
    /// For the forge API.
    pub http: reqwest::Client,
}

/// How this worker sandboxes runs.
#[derive(Clone)]
pub struct Sandboxing {
    /// bubblewrap and the sandbox account.
    pub isolation: Isolation,
    /// `<AGENT_SANDBOX_DIR>/<instance>`, locked while this worker lives.
    pub instance: Arc<Instance>,
}

/// Why a run stopped early: where, and what the user is told.
struct Stop {
    message: String,
    details: Option<serde_json::Value>,
    /// What the run had done when it stopped (a branch pushed before the pull request failed).
    partial: Outcome,
}

impl Stop {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), details: None, partial: Outcome::default() }
    }
}

impl From<git::GitError> for Stop {
    fn from(error: git::GitError) -> Self {
        Self::new(error.0)
    }
}

/// Events that cannot be stored end the run: nobody could see them.
impl From<anyhow::Error> for Stop {
    fn from(error: anyhow::Error) -> Self {
        Self::new(format!("the run's events could not be stored: {error}"))
    }
}

impl Agent {
    /// Runs `job` to its end (or to `cancel`), leaving its events and its row's final status.
    pub async fn run(&self, job: &AgentJob, cancel: Arc<AtomicBool>) -> anyhow::Result<()> {
        let claim = run_row::claim_retrying(&self.db, job.run_id, &self.worker).await?;
        if claim == Claim::Gone {
            tracing::info!(request_id = %job.run_id, "agent run already ended or deleted; skipped");
            return Ok(());
        }
        let mut log = EventLog::open(self.db.clone(), self.redis.clone(), job.run_id).await?;
        let result = match claim {
            Claim::CancelledBeforeStart => Err(Stop::new("the run was cancelled before it started")),
            Claim::Abandoned { cancel_requested: true } => Err(Stop::new("the run was cancelled")),
            Claim::Abandoned { .. } => Err(Stop::new("the worker running this run stopped; start the run again")),
            _ => match tokio::time::timeout(self.settings.run_timeout, self.stages(job, &mut log, cancel.clone())).await {
                Ok(result) => result,
                Err(_) => {
                    // The local model sees the flag between tokens; the commands were killed with
                    // the dropped stages.
                    cancel.store(true, Ordering::Relaxed);
                    return self
                        .end(
                            job,
                            &mut log,
                            Err(Stop::new(format!("the run took longer than {} s and was stopped", self.settings.run_timeout.as_secs()))),
                            false,
                        )
                        .await;
                }
            },
        };
        let cancelled = cancel.load(Ordering::Relaxed) || matches!(claim, Claim::CancelledBeforeStart | Claim::Abandoned { cancel_requested: true });
        self.end(job, &mut log, result, cancelled).await
    }

    /// The run's final event and status, in one transaction.
    async fn end(&self, job: &AgentJob, log: &mut EventLog, result: Result<Outcome, Stop>, cancelled: bool) -> anyhow::Result<()> {
        match result {
            Ok(outcome) => {
                log.begin(Stage::Complete, "done").await?;
                let message = match &outcome.pr_url {
                    Some(url) => format!("pull request opened: {url}"),
                    None => format!("branch {} pushed", outcome.branch.as_deref().unwrap_or_default()),
                };
                let extra =
                    Extra { branch: outcome.branch.clone(), commit: outcome.commit.clone(), pr_url: outcome.pr_url.clone(), ..Extra::default() };
                log.close(EventKind::Success, message, extra, RunStatus::Succeeded, &outcome, &self.worker).await?;
            }
            Err(stop) => {
                let message = if cancelled { "the run was cancelled".to_owned() } else { stop.message };
                let status = if cancelled { RunStatus::Cancelled } else { RunStatus::Failed };
                let message = pg_string(message);
                let outcome = Outcome { error: Some(message.clone()), ..stop.partial };
                log.close(EventKind::Error, message, Extra { details: stop.details, ..Extra::default() }, status, &outcome, &self.worker).await?;
            }
        }
        tracing::debug!(request_id = %job.run_id, "agent run ended");
        Ok(())
    }

    async fn stages(&self, job: &AgentJob, log: &mut EventLog, cancel: Arc<AtomicBool>) -> Result<Outcome, Stop> {
        let settings = &self.settings;
        log.begin(Stage::Validation, "checking the repository URL and the request").await?;
        let repository = repo_url::check(&job.repo_url, settings).map_err(Stop::new)?;
        if let Some(provider) = &job.provider
            && !self.chain.knows(provider)
        {
            return Err(Stop::new(format!("no provider is named {provider}")));
        }
        if let Some(branch) = &job.base_branch
            && !is_branch_name(branch)
        {
            return Err(Stop::new(format!("{branch:?} is not a branch name")));
        }
        let forge = repository.host.as_ref().and_then(|host| settings.forges.get(host));
        if forge.is_some_and(|f| f.token.is_some()) && !repository.sends_secrets_safely() {
            return Err(Stop::new("refusing to send this host's token over plain http: use https"));
        }
        log.finish("the repository URL is allowed", Some(json!({"host": repository.host, "forge": forge.map(|f| &f.api_base)}))).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::SandboxInit, "preparing the sandbox").await?;
        let sandboxing = self.sandboxing.as_ref().map_err(|why| Stop::new(format!("this worker cannot sandbox runs: {why}")))?;
        let isolation = &sandboxing.isolation;
        let sandbox = Sandbox::create(sandboxing.instance.dir(), job.run_id, isolation.clone(), settings, cancel.clone())
            .map_err(|e| Stop::new(format!("the sandbox could not be made: {e}")))?;
        let details = json!({"bubblewrap": isolation.bubblewrap, "without_bubblewrap": isolation.without_bubblewrap, "unprivileged_account": isolation.account.is_some()});
        log.finish("sandbox ready", Some(details)).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::Clone, format!("cloning {}", redact(&job.repo_url))).await?;
        let token = forge.and_then(|f| f.token.as_ref()).map(|t| t.expose_secret().to_owned());
        let git = Git::new(&sandbox, &repository, token.as_deref(), settings.command_timeout);
        git.clone(job.base_branch.as_deref(), settings.max_repo_bytes).await?;
        let base = match &job.base_branch {
            Some(branch) => branch.clone(),
            None => git.current_branch().await?,
        };
        let repo_dir = sandbox.repo();
        let bytes = tokio::task::spawn_blocking(move || sandbox::directory_bytes(&repo_dir)).await.unwrap_or(0);
        log.finish(format!("cloned {base} ({bytes} bytes)"), Some(json!({"base_branch": base, "bytes": bytes}))).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::Analysis, "reading the repository").await?;
        let repo_dir = sandbox.repo();
        let prompt = job.prompt.clone();
        let overview = tokio::task::spawn_blocking(move || analysis::analyse(&repo_dir, &prompt, model::REMOTE_BUDGET))
            .await
            .map_err(|e| Stop::new(format!("the analysis failed: {e}")))?;
        log.finish(format!("{} files", overview.files.len()), Some(overview.details())).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::AiProcessing, "asking the model for edits").await?;
        let answer = self.ask(job, log, &overview, cancel.clone()).await?;
        let refuse = |why: String| Stop { message: why, details: Some(json!({"provider": answer.provider})), partial: Outcome::default() };
        let edits = edits::parse(&answer.text).map_err(refuse)?;
        if !settings.allow_ci_edits {
            edits::refuse_ci(&edits).map_err(refuse)?;
        }
        let latency_ms = answer.latency.as_millis() as u64;
        log.finish(
            format!("{} answered in {latency_ms} ms with {} edit(s)", answer.provider, edits.len()),
            Some(json!({"provider": answer.provider, "model": answer.model, "latency_ms": latency_ms, "edits": edit_paths(&edits)})),
        )
        .await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::Apply, "checking and applying the edits").await?;
        git.apply(&edits).await?;
        let diff = git.stage().await?;
        if diff.trim().is_empty() {
            return Err(Stop::new("the model's edits change nothing"));
        }
        let files = git.staged_files().await?;
        let shown: String = diff.chars().take(DIFF_CAP).collect();
        log.emit(
            EventKind::Diff,
            format!("{} file(s) changed", files.len()),
            Extra { diff: Some(shown), details: Some(json!({"files": files})), ..Extra::default() },
        )
        .await?;
        log.finish("edits applied", None).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::Commit, "committing").await?;
        let branch = branch_name(&job.prompt, job.run_id);
        let title = title_of(&job.prompt);
        let message = format!("{title}\n\nMade by the Code4me agent (run {}) from this request:\n\n{}\n", job.run_id, redact(&job.prompt));
        let commit = git.commit(&branch, &message).await?;
        log.finish(format!("commit {commit} on {branch}"), None).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::Push, format!("pushing {branch}")).await?;
        git.push(&branch).await?;
        log.finish(format!("{branch} pushed"), None).await?;

        self.alive(job, &cancel).await?;
        log.begin(Stage::PrCreation, "opening the pull request").await?;
        let pr_url = match (forge, token.as_deref(), &repository.forge_path) {
            (Some(forge), Some(token), Some((owner, repo))) => {
                let body = format!("{}\n\nOpened by the Code4me agent, run `{}`.", redact(&job.prompt), job.run_id);
                let pr = forge::PullRequest { owner, repo, title: &title, head: &branch, base: &base, body: &body };
                let pushed = Outcome { branch: Some(branch.clone()), commit: Some(commit.clone()), ..Outcome::default() };
                let url = forge::open(&self.http, &forge.api_base, token, &pr).await.map_err(|why| Stop { partial: pushed, ..Stop::new(why) })?;
                log.finish(format!("pull request {url}"), None).await?;
                Some(url)
            }
            _ => {
                log.finish("no forge API or token for this host: the branch is pushed, no pull request opened", None).await?;
                None
            }
        };
        drop(sandbox);
        Ok(Outcome { branch: Some(branch), commit: Some(commit), pr_url, error: None })
    }

    /// Stops the run between stages once it is cancelled: by the announcement (the flag) or, should
    /// that have been missed while Redis was away, by the row.
    async fn alive(&self, job: &AgentJob, cancel: &AtomicBool) -> Result<(), Stop> {
        if !cancel.load(Ordering::Relaxed) && run_row::cancel_requested(&self.db, job.run_id).await.unwrap_or(false) {
            cancel.store(true, Ordering::Relaxed);
        }
        if cancel.load(Ordering::Relaxed) { Err(Stop::new("the run was cancelled")) } else { Ok(()) }
    }

    /// Tries the providers in order; the thinking log gets each prompt, answer and failure.
    async fn ask(
        &self,
        job: &AgentJob,
        log: &mut EventLog,
        overview: &analysis::Overview,
        cancel: Arc<AtomicBool>,
    ) -> Result<model::ModelAnswer, Stop> {
        let order = self.chain.order(job.provider.as_deref());
        let target = overview.shown.first().map_or("NOTES.md", |(path, _)| path.as_str()).to_owned();
        let mut failures = Vec::new();
        for provider in &order {
            let local = provider == code4me_shared::providers::LOCAL_PROVIDER;
            let (listed, budget) = if local { (40, model::LOCAL_BUDGET) } else { (analysis::MAX_LISTED, model::REMOTE_BUDGET) };
            let repository = overview.describe(listed, budget);
            let question = Question { prompt: &job.prompt, repository: &repository, local_target: &target };
            let sent: String = ModelChain::messages(&question).iter().map(|m| format!("[{}]\n{}\n", m.role, m.content)).collect();
            log.emit(
                EventKind::Thinking,
                format!("prompt for {provider}"),
                Extra { details: Some(json!({"provider": provider, "prompt": pg_string(sent)})), ..Extra::default() },
            )
            .await?;
            let asked = tokio::select! {
                answer = self.chain.ask(provider, &question, cancel.clone()) => answer,
                () = cancelled(&cancel) => return Err(Stop::new("the run was cancelled")),
            };
            match asked {
                Ok(answer) => {
                    metrics::histogram!("agent_provider_seconds", "provider" => provider.clone(), "outcome" => "answered")
                        .record(answer.latency.as_secs_f64());
                    tracing::info!(request_id = %job.run_id, provider = %provider, provider.outcome = "answered", latency_ms = answer.latency.as_millis() as u64, "agent model answered");
                    let raw: String = redact(&answer.text).chars().take(THINKING_CAP).collect();
                    log.emit(
                        EventKind::Thinking,
                        format!("{provider}'s answer"),
                        Extra { details: Some(json!({"provider": provider, "answer": pg_string(raw)})), ..Extra::default() },
                    )
                    .await?;
                    return Ok(answer);
                }
                Err(failure) => {
                    metrics::counter!("agent_provider_failures_total", "provider" => provider.clone()).increment(1);
                    tracing::warn!(request_id = %job.run_id, provider = %provider, provider.outcome = "failed", reason = %failure.reason, "agent model failed");
                    log.emit(EventKind::Thinking, format!("{provider} failed: {}", failure.reason), Extra::default()).await?;
                    failures.push(json!({"provider": failure.provider, "reason": failure.reason}));
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
        }
        Err(Stop { details: Some(json!({"failures": failures})), ..Stop::new("no provider answered") })
    }
}

/// Resolves once the run is cancelled (a provider's request is dropped at once; the local model
/// sees the same flag between tokens).
async fn cancelled(cancel: &AtomicBool) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn edit_paths(edits: &[Edit]) -> Vec<String> {
    let mut paths: Vec<String> = edits
        .iter()
        .flat_map(|edit| match edit {
            Edit::WholeFile { path, .. } => vec![path.clone()],
            Edit::Diff { paths, .. } => paths.clone(),
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// `code4me/<slug>-<first 8 hex of the run id>`: readable, and unique per run.
pub fn branch_name(prompt: &str, run_id: uuid::Uuid) -> String {
    let mut slug = String::new();
    for word in prompt.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if slug.len() + word.len() > 40 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        slug.push_str("change");
    }
    format!("code4me/{slug}-{}", &run_id.simple().to_string()[..8])
}

/// The commit's and pull request's title: the prompt's first line, at most 72 characters.
fn title_of(prompt: &str) -> String {
    let line = redact(prompt.lines().next().unwrap_or_default().trim()).into_owned();
    let title: String = line.chars().take(72).collect();
    if title.is_empty() { "Code4me agent change".to_owned() } else { title }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_slugs_with_the_run_id() {
        let id = uuid::Uuid::parse_str("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(branch_name("Add a docstring to util.py!", id), "code4me/add-a-docstring-to-util-py-01234567");
        assert_eq!(branch_name("ñ ☃", id), "code4me/change-01234567");
        assert!(branch_name(&"word ".repeat(100), id).len() < 60);
    }
}
