//! The run's git commands and file writes, each in the sandbox as its account: a shallow clone
//! within the size and time limits, checking and applying the edits, one commit, the push of a new
//! branch.
//!
//! git is configured per command, never from the repository's or the machine's files: no system or
//! global config, no redirects followed (a redirect could leave the allowed host), only http(s)
//! (plus `file` for allowed local repositories), hooks off, no terminal prompts. A token reaches
//! git as an `http.<repository URL>.extraHeader` through `GIT_CONFIG_*` variables, so it never
//! shows in a process list or an error message and is sent to that repository only.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::edits::Edit;
use super::repo_url::Repository;
use super::sandbox::{Access, CommandSpec, Finished, Network, Sandbox, SandboxError};

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
    /// `http.<url>.extraHeader` and its value, when the host has a token.
    auth: Option<(String, String)>,
    timeout: Duration,
}

impl<'a> Git<'a> {
    /// git for `repository` in `sandbox`, pushing with `token` when given.
    pub fn new(sandbox: &'a Sandbox, repository: &'a Repository, token: Option<&str>, timeout: Duration) -> Self {
        let auth = token.map(|t| {
            let key = format!("http.{}.extraHeader", repository.clone_url);
            (key, format!("Authorization: Basic {}", STANDARD.encode(format!("x-access-token:{t}"))))
        });
        Self { sandbox, repository, auth, timeout }
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

    async fn git(&self, args: &[&str], network: Network, size_limit: Option<u64>, stdin: Option<&[u8]>) -> Result<Finished, GitError> {
        let mut full = self.protocol_config();
        full.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = Vec::new();
        if let (Network::RepositoryHost, Some((key, value))) = (network, &self.auth) {
            env.extend([("GIT_CONFIG_COUNT", "1"), ("GIT_CONFIG_KEY_0", key.as_str()), ("GIT_CONFIG_VALUE_0", value.as_str())]);
        }
        let cwd = if args.first() == Some(&"clone") { self.sandbox.root().to_path_buf() } else { self.sandbox.repo() };
        // A local repository is visible inside bubblewrap for clone (read-only) and push.
        let local_repository = match (network, self.repository.local_path()) {
            (Network::RepositoryHost, Some(path)) => Some((path, if args.first() == Some(&"push") { Access::Writable } else { Access::ReadOnly })),
            _ => None,
        };
        let spec =
            CommandSpec { program: "git", args: &full, cwd: &cwd, network, env: &env, timeout: self.timeout, size_limit, local_repository, stdin };
        Ok(self.sandbox.run(spec).await?)
    }

    async fn checked(&self, what: &str, args: &[&str], network: Network) -> Result<String, GitError> {
        let finished = self.git(args, network, None, None).await?;
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
        let finished = self.git(&args, Network::RepositoryHost, Some(max_bytes), None).await?;
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

    /// Applies the edits in order; a diff that `git apply --check` refuses (against the tree as the
    /// edits before it left it) fails the step. Every write is the sandbox account's.
    pub async fn apply(&self, edits: &[Edit]) -> Result<(), GitError> {
        for edit in edits {
            match edit {
                Edit::Diff { patch, .. } => {
                    let check = self.git(&["apply", "--check", "-"], Network::None, None, Some(patch.as_bytes())).await?;
                    if !check.success {
                        return Err(GitError(format!("the model's diff does not apply: {}", last_lines(&check.stderr))));
                    }
                    let applied = self.git(&["apply", "-"], Network::None, None, Some(patch.as_bytes())).await?;
                    if !applied.success {
                        return Err(GitError(format!("git apply failed: {}", last_lines(&applied.stderr))));
                    }
                }
                Edit::WholeFile { path, content } => self.write_file(path, content).await?,
            }
        }
        Ok(())
    }

    /// Writes one whole file as the sandbox account (`mkdir -p`, then the content through stdin),
    /// refusing a path whose existing part is a symbolic link or a file where a directory must be.
    async fn write_file(&self, path: &str, content: &str) -> Result<(), GitError> {
        let repo = self.sandbox.repo();
        let mut at = repo.clone();
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let last = i + 1 == parts.len();
            match at.symlink_metadata() {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(GitError(format!("refused path {path:?}: {} is a symbolic link", at.display())));
                }
                Ok(meta) if !last && !meta.is_dir() => return Err(GitError(format!("refused path {path:?}: {part} is a file"))),
                Ok(meta) if last && !meta.is_file() => return Err(GitError(format!("refused path {path:?}: it is not a regular file"))),
                _ => {}
            }
        }
        if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            self.run_checked("mkdir", &["-p", "--", &parent.to_string_lossy()], None).await?;
        }
        self.run_checked("sh", &["-c", "cat > \"$1\"", "sh", path], Some(content.as_bytes())).await
    }

    async fn run_checked(&self, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<(), GitError> {
        let repo = self.sandbox.repo();
        let spec = CommandSpec {
            program,
            args,
            cwd: &repo,
            network: Network::None,
            env: &[],
            timeout: self.timeout,
            size_limit: None,
            local_repository: None,
            stdin,
        };
        let finished = self.sandbox.run(spec).await?;
        if !finished.success {
            return Err(GitError(format!("writing the edits failed: {}", last_lines(&finished.stderr))));
        }
        Ok(())
    }

    /// Stages everything and returns the staged diff (empty when the edits changed nothing).
    pub async fn stage(&self) -> Result<String, GitError> {
        self.checked("git add", &["add", "--all"], Network::None).await?;
        self.checked("git diff", &["diff", "--cached", "--no-color", "--no-ext-diff"], Network::None).await
    }

    /// The files the staged change touches.
    pub async fn staged_files(&self) -> Result<Vec<String>, GitError> {
        let names = self.checked("git diff", &["diff", "--cached", "--name-only", "-z"], Network::None).await?;
        Ok(names.split('\0').filter(|n| !n.is_empty()).map(str::to_owned).collect())
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
