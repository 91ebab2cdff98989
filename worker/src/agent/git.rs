//! The run's git commands, each in the sandbox: a shallow clone within the size and time limits,
//! checking and applying the edits, one commit, the push of a new branch.
//!
//! git is configured per command, never from the repository's or the machine's files: no system or
//! global config, no redirects followed (a redirect could leave the allowed host), only http(s)
//! (plus `file` for allowed local repositories), hooks off, no terminal prompts. A token reaches
//! git as an `http.extraHeader` through `GIT_CONFIG_*` variables, so it never shows in a process
//! list or an error message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::edits::Edit;
use super::repo_url::Repository;
use super::sandbox::{CommandSpec, Finished, Network, Sandbox, SandboxError};

/// The author of the agent's commits.
const AUTHOR_NAME: &str = "Code4me Agent";
const AUTHOR_EMAIL: &str = "agent@code4me.invalid";

/// A git step that did not work; the message is for the user.
#[derive(Debug)]
pub struct GitError(pub String);

impl From<SandboxError> for GitError {
    fn from(error: SandboxError) -> Self {
        Self(error.to_string())
    }
}

/// Runs git for one run.
pub struct Git<'a> {
    sandbox: &'a Sandbox,
    repository: &'a Repository,
    /// `http.extraHeader` with the host's token, when it has one.
    auth_header: Option<String>,
    timeout: Duration,
}

impl<'a> Git<'a> {
    /// git for `repository` in `sandbox`, pushing with `token` when given.
    pub fn new(sandbox: &'a Sandbox, repository: &'a Repository, token: Option<&str>, timeout: Duration) -> Self {
        let auth_header = token.map(|t| format!("Authorization: Basic {}", STANDARD.encode(format!("x-access-token:{t}"))));
        Self { sandbox, repository, auth_header, timeout }
    }

    fn protocol_config(&self) -> Vec<&'static str> {
        let mut config = vec![
            "-c",
            "http.followRedirects=false",
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.https.allow=always",
            "-c",
            "protocol.http.allow=always",
            "-c",
            "core.hooksPath=/dev/null",
        ];
        if self.repository.is_local() {
            config.extend(["-c", "protocol.file.allow=always", "-c", "safe.directory=*"]);
        }
        config
    }

    async fn git(&self, args: &[&str], network: Network, size_limit: Option<u64>) -> Result<Finished, GitError> {
        let mut full = self.protocol_config();
        full.extend_from_slice(args);
        let auth;
        let mut env: Vec<(&str, &str)> = Vec::new();
        if let (Network::RepositoryHost, Some(header)) = (network, &self.auth_header) {
            auth = header.clone();
            env.extend([("GIT_CONFIG_COUNT", "1"), ("GIT_CONFIG_KEY_0", "http.extraHeader"), ("GIT_CONFIG_VALUE_0", auth.as_str())]);
        }
        let cwd = if args.first() == Some(&"clone") { self.sandbox.root().to_path_buf() } else { self.sandbox.repo() };
        let extra_binds = self.local_binds(network);
        let spec = CommandSpec { program: "git", args: &full, cwd: &cwd, network, env: &env, timeout: self.timeout, size_limit, binds: &extra_binds };
        let finished = self.sandbox.run(spec).await?;
        Ok(finished)
    }

    /// A local repository must be visible inside bubblewrap for clone and push.
    fn local_binds(&self, network: Network) -> Vec<PathBuf> {
        match (network, self.repository.clone_url.strip_prefix("file://")) {
            (Network::RepositoryHost, Some(path)) => vec![PathBuf::from(path)],
            _ => Vec::new(),
        }
    }

    async fn checked(&self, what: &str, args: &[&str], network: Network) -> Result<String, GitError> {
        let finished = self.git(args, network, None).await?;
        if !finished.success {
            return Err(GitError(format!("{what} failed: {}", last_lines(&finished.stderr))));
        }
        Ok(finished.stdout)
    }

    /// `git clone --depth 1` of `branch` (the default branch when `None`), stopped past `max_bytes`.
    pub async fn clone(&self, branch: Option<&str>, max_bytes: u64) -> Result<(), GitError> {
        let mut args = vec!["clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet"];
        if let Some(branch) = branch {
            args.extend(["--branch", branch]);
        }
        let repo = self.sandbox.repo();
        let repo = repo.to_string_lossy();
        args.extend(["--", &self.repository.clone_url, &repo]);
        let finished = self.git(&args, Network::RepositoryHost, Some(max_bytes)).await?;
        if finished.past_file_limit {
            return Err(SandboxError::TooLarge(max_bytes).into());
        }
        if !finished.success {
            return Err(GitError(format!("git clone failed: {}", last_lines(&finished.stderr))));
        }
        Ok(())
    }

    /// The checked-out branch.
    pub async fn current_branch(&self) -> Result<String, GitError> {
        Ok(self.checked("git rev-parse", &["rev-parse", "--abbrev-ref", "HEAD"], Network::None).await?.trim().to_owned())
    }

    /// Applies the edits; a diff that `git apply --check` refuses fails the step before anything
    /// changes.
    pub async fn apply(&self, edits: &[Edit]) -> Result<(), GitError> {
        let repo = self.sandbox.repo();
        for (n, edit) in edits.iter().enumerate() {
            if let Edit::Diff { patch, .. } = edit {
                let file = self.sandbox.root().join(format!("edit-{n}.patch"));
                std::fs::write(&file, patch).map_err(|e| GitError(format!("writing the patch: {e}")))?;
                self.sandbox.hand_over(&file).map_err(|e| GitError(format!("writing the patch: {e}")))?;
                let file = file.to_string_lossy().into_owned();
                let check = self.git(&["apply", "--check", "--", &file], Network::None, None).await?;
                if !check.success {
                    return Err(GitError(format!("the model's diff does not apply: {}", last_lines(&check.stderr))));
                }
            }
        }
        for (n, edit) in edits.iter().enumerate() {
            match edit {
                Edit::Diff { .. } => {
                    let file = self.sandbox.root().join(format!("edit-{n}.patch"));
                    self.checked("git apply", &["apply", "--", &file.to_string_lossy()], Network::None).await?;
                }
                Edit::WholeFile { path, content } => self.write_file(&repo, path, content)?,
            }
        }
        Ok(())
    }

    /// Writes one whole file, refusing any path whose existing part is a symbolic link (a link
    /// could lead out of the repository).
    fn write_file(&self, repo: &Path, path: &str, content: &str) -> Result<(), GitError> {
        let mut at = repo.to_path_buf();
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            match at.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(GitError(format!("refused path {path:?}: {} is a symbolic link", at.display())));
                }
                Ok(meta) if i + 1 < parts.len() && !meta.is_dir() => return Err(GitError(format!("refused path {path:?}: {part} is a file"))),
                Ok(meta) if i + 1 == parts.len() && meta.is_dir() => return Err(GitError(format!("refused path {path:?}: it is a directory"))),
                Ok(_) => {}
                Err(_) if i + 1 < parts.len() => {
                    std::fs::create_dir(&at).map_err(|e| GitError(format!("creating {part}: {e}")))?;
                    self.sandbox.hand_over(&at).map_err(|e| GitError(e.to_string()))?;
                }
                Err(_) => {}
            }
        }
        std::fs::write(&at, content).map_err(|e| GitError(format!("writing {path}: {e}")))?;
        self.sandbox.hand_over(&at).map_err(|e| GitError(e.to_string()))
    }

    /// Stages everything and returns the staged diff (empty when the edits changed nothing).
    pub async fn stage(&self) -> Result<String, GitError> {
        self.checked("git add", &["add", "--all"], Network::None).await?;
        self.checked("git diff", &["diff", "--cached", "--no-color", "--no-ext-diff"], Network::None).await
    }

    /// Commits on a new branch; returns the commit id.
    pub async fn commit(&self, branch: &str, message: &str) -> Result<String, GitError> {
        self.checked("git switch", &["switch", "--quiet", "-c", branch], Network::None).await?;
        let name = format!("user.name={AUTHOR_NAME}");
        let email = format!("user.email={AUTHOR_EMAIL}");
        self.checked("git commit", &["-c", &name, "-c", &email, "commit", "--quiet", "--no-verify", "-m", message], Network::None).await?;
        Ok(self.checked("git rev-parse", &["rev-parse", "HEAD"], Network::None).await?.trim().to_owned())
    }

    /// Pushes the branch to `origin` (a new branch only: an existing one is not overwritten).
    pub async fn push(&self, branch: &str) -> Result<(), GitError> {
        let refspec = format!("HEAD:refs/heads/{branch}");
        self.checked("git push", &["push", "--quiet", "--porcelain", "origin", &refspec], Network::RepositoryHost).await.map(|_| ())
    }
}

/// The end of a command's error output (git's last lines say what went wrong), with any
/// credentials a URL might carry hidden.
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    let tail = code4me_shared::redaction::redact(&tail).into_owned();
    if tail.is_empty() { "no output".to_owned() } else { tail.chars().take(600).collect() }
}
