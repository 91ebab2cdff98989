//! A run's sandbox: its own directory, and every command of the run (git, and the writes of the
//! model's files) executed inside it as an unprivileged account, under bubblewrap when it works
//! here, with CPU, memory and file-size limits (`prlimit`), a wall-clock deadline and the run's
//! cancel flag. The worker itself never writes into a directory the account can change: a link
//! the account slipped in would otherwise carry the worker's writes anywhere.
//!
//! Under bubblewrap a command sees a read-only system (`/usr`, `/etc`'s name service and TLS
//! roots), a private `/tmp`, and only its run's directory writable. Clone and push get the host's
//! network (`--share-net`; the URL was checked against the allow-list, and git is told not to
//! follow redirects or use any other protocol); every other command has none.
//!
//! Directories live under `<AGENT_SANDBOX_DIR>/<worker instance>/<run id>`. The run's directory goes
//! when the [`Sandbox`] is dropped — success, error, cancellation or a panic. A worker instance holds
//! [`LOCK_FILE`] locked in its directory while it lives; a directory whose lock nobody holds belongs
//! to a worker that was killed, and `sweep` removes it.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use code4me_shared::agent::{AgentSettings, Bubblewrap};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How often a running command's cancel flag and deadline are checked.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// The size of a cloning directory is measured every this many watch ticks (a walk of the tree).
const SIZE_EVERY_TICKS: u32 = 5;
/// Most of a command's stdout kept (a diff is read from it).
const STDOUT_CAP: usize = 4 * 1024 * 1024;
/// Most of a command's stderr kept (for the error event).
const STDERR_CAP: usize = 16 * 1024;
/// The name of the file a live worker instance holds locked in its directory.
pub const LOCK_FILE: &str = ".lock";

/// Why a sandboxed command did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The run was cancelled; the command was killed.
    #[error("the run was cancelled")]
    Cancelled,
    /// The command outlived its deadline; it was killed.
    #[error("`{0}` took longer than {1:?} and was stopped")]
    TimedOut(String, Duration),
    /// The run's directory outgrew the size limit; the command was killed.
    #[error("the repository is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The command could not be started.
    #[error("could not start `{0}`: {1}")]
    Spawn(String, io::Error),
}

/// What a finished command left.
#[derive(Debug)]
pub struct Finished {
    /// Exit status 0.
    pub success: bool,
    /// Its standard output (capped).
    pub stdout: String,
    /// Its standard error (capped).
    pub stderr: String,
    /// It was killed for writing past the file-size limit (`SIGXFSZ`; under bubblewrap, the
    /// shell convention's exit code 128 + its number).
    pub past_file_limit: bool,
}

/// Whether a command may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Clone and push: the repository's host.
    RepositoryHost,
    /// Everything else.
    None,
}

/// How a command may use a path it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it.
    ReadOnly,
    /// Write it.
    Writable,
}

/// One command of a run.
pub struct CommandSpec<'a> {
    /// The program (found on the sandbox's `PATH`).
    pub program: &'a str,
    /// Its arguments.
    pub args: &'a [&'a str],
    /// Where it runs (inside the run's directory).
    pub cwd: &'a Path,
    /// Whether it may reach the repository's host.
    pub network: Network,
    /// Added to a clean environment.
    pub env: &'a [(&'a str, &'a str)],
    /// Its wall-clock limit.
    pub timeout: Duration,
    /// Kill it when the run's directory grows past this many bytes (a clone).
    pub size_limit: Option<u64>,
    /// A local repository it clones from (read-only) or pushes to (writable).
    pub local_repository: Option<(&'a Path, Access)>,
    /// Bytes for its standard input (a file's content, a patch); none = `/dev/null`.
    pub stdin: Option<&'a [u8]>,
}

/// How sandboxed commands are isolated on this machine, decided once per worker.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// bubblewrap works here and is wanted.
    pub bubblewrap: bool,
    /// The account commands run as when the worker is root (uid, gid); `None` when not root.
    pub account: Option<(u32, u32)>,
    /// Why bubblewrap is not used, when it is not.
    pub without_bubblewrap: Option<String>,
}

impl Isolation {
    /// Probes `bwrap` (a user namespace may be forbidden, e.g. in some containers) and resolves the
    /// sandbox account. Refuses a machine where runs would have neither: git would run as the
    /// worker itself, with its files and its secrets.
    pub async fn probe(settings: &AgentSettings) -> Result<Self, String> {
        let account = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name(&settings.sandbox_user)
                .map_err(|e| format!("looking up AGENT_SANDBOX_USER {}: {e}", settings.sandbox_user))?
                .ok_or_else(|| format!("AGENT_SANDBOX_USER {} does not exist", settings.sandbox_user))?;
            if user.uid.is_root() {
                return Err("AGENT_SANDBOX_USER must not be root".into());
            }
            Some((user.uid.as_raw(), user.gid.as_raw()))
        } else {
            None
        };
        let (bubblewrap, without_bubblewrap) = match settings.bubblewrap {
            Bubblewrap::Off => (false, Some("AGENT_BUBBLEWRAP=off".to_owned())),
            Bubblewrap::Auto | Bubblewrap::Required => match bwrap_works(account).await {
                Ok(()) => (true, None),
                Err(why) if settings.bubblewrap == Bubblewrap::Required => return Err(format!("AGENT_BUBBLEWRAP=required, but {why}")),
                Err(why) if account.is_none() => {
                    return Err(format!(
                        "{why}, and the worker is not root (no account to drop to): runs need one of them (or AGENT_BUBBLEWRAP=off)"
                    ));
                }
                Err(why) => (false, Some(why)),
            },
        };
        Ok(Self { bubblewrap, account, without_bubblewrap })
    }
}

async fn bwrap_works(account: Option<(u32, u32)>) -> Result<(), String> {
    let mut probe = Command::new("bwrap");
    probe
        .args(["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some((uid, gid)) = account {
        probe.uid(uid).gid(gid);
    }
    match probe.output().await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("bwrap fails here: {}", String::from_utf8_lossy(&out.stderr).trim())),
        Err(e) => Err(format!("bwrap is not installed ({e}); apt-get install bubblewrap")),
    }
}

/// One run's directory and the way its commands are run. Removed when dropped.
pub struct Sandbox {
    root: PathBuf,
    isolation: Isolation,
    cpu_seconds: u64,
    memory_bytes: u64,
    file_bytes: u64,
    cancel: Arc<AtomicBool>,
}

impl Sandbox {
    /// Makes `<instance_dir>/<run_id>` with `home/`, owned by the sandbox account (mode 0700).
    pub fn create(
        instance_dir: &Path,
        run_id: uuid::Uuid,
        isolation: Isolation,
        settings: &AgentSettings,
        cancel: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let root = instance_dir.join(run_id.to_string());
        if root.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(&root)?;
        }
        // The instance directory is the worker's and closed to the account, so nothing can slip a
        // link in here between these calls; then the run's directory is handed to the account.
        std::fs::DirBuilder::new().mode(0o700).create(&root)?;
        std::fs::DirBuilder::new().mode(0o700).create(root.join("home"))?;
        let sandbox = Self {
            root,
            isolation,
            cpu_seconds: settings.cpu_seconds,
            memory_bytes: settings.memory_bytes,
            file_bytes: settings.max_repo_bytes,
            cancel,
        };
        if let Some((uid, gid)) = sandbox.isolation.account {
            std::os::unix::fs::chown(sandbox.root.join("home"), Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&sandbox.root, Some(uid), Some(gid))?;
        }
        Ok(sandbox)
    }

    /// The run's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the repository is cloned.
    pub fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// Runs `spec` with the run's limits.
    pub async fn run(&self, spec: CommandSpec<'_>) -> Result<Finished, SandboxError> {
        let CommandSpec { program, args, cwd, network, env, timeout, size_limit, local_repository, stdin } = spec;
        let mut command = self.command(program, args, cwd, network, local_repository);
        command.env_clear();
        command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
        command.env("HOME", self.root.join("home"));
        command.env("LANG", "C.UTF-8");
        command.env("GIT_CONFIG_NOSYSTEM", "1");
        command.env("GIT_CONFIG_GLOBAL", "/dev/null");
        command.env("GIT_TERMINAL_PROMPT", "0");
        command.env("GIT_ASKPASS", "/bin/false");
        for (key, value) in env {
            command.env(key, value);
        }
        let input = if stdin.is_some() { Stdio::piped() } else { Stdio::null() };
        command.stdin(input).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).process_group(0);
        let label = format!("{program} {}", args.first().copied().unwrap_or_default());
        let mut child = command.spawn().map_err(|e| SandboxError::Spawn(label.clone(), e))?;
        // Dropped mid-command (the run's deadline, a worker stopping): the whole group goes.
        let group = GroupGuard(child.id());
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            let bytes = bytes.to_vec();
            // A command that exits without reading all of it is its own answer.
            tokio::spawn(async move { pipe.write_all(&bytes).await });
        }
        let stdout = tokio::spawn(read_capped(child.stdout.take(), STDOUT_CAP));
        let stderr = tokio::spawn(read_capped(child.stderr.take(), STDERR_CAP));
        let started = Instant::now();
        let mut ticks = 0u32;
        let outcome = loop {
            tokio::select! {
                status = child.wait() => break status.map_err(|e| SandboxError::Spawn(label.clone(), e)),
                () = tokio::time::sleep(WATCH_EVERY) => {
                    ticks += 1;
                    let stop = if self.cancel.load(Ordering::Relaxed) {
                        Some(SandboxError::Cancelled)
                    } else if started.elapsed() > timeout {
                        Some(SandboxError::TimedOut(label.clone(), timeout))
                    } else if let Some(limit) = size_limit.filter(|_| ticks.is_multiple_of(SIZE_EVERY_TICKS)) {
                        let root = self.root.clone();
                        let bytes = tokio::task::spawn_blocking(move || directory_bytes(&root)).await.unwrap_or(0);
                        (bytes > limit).then_some(SandboxError::TooLarge(limit))
                    } else {
                        None
                    };
                    if let Some(why) = stop {
                        group.kill();
                        let _ = child.wait().await;
                        break Err(why);
                    }
                }
            }
        };
        group.disarm();
        let status = outcome?;
        let stdout = stdout.await.unwrap_or_default();
        let stderr = stderr.await.unwrap_or_default();
        let xfsz = nix::sys::signal::Signal::SIGXFSZ as i32;
        let past_file_limit = std::os::unix::process::ExitStatusExt::signal(&status) == Some(xfsz) || status.code() == Some(128 + xfsz);
        Ok(Finished { success: status.success(), stdout, stderr, past_file_limit })
    }

    fn command(&self, program: &str, args: &[&str], cwd: &Path, network: Network, local_repository: Option<(&Path, Access)>) -> Command {
        let limits = [
            format!("--cpu={}", self.cpu_seconds),
            format!("--as={}", self.memory_bytes),
            format!("--fsize={}", self.file_bytes),
            "--nofile=1024".to_owned(),
        ];
        let mut command = if self.isolation.bubblewrap {
            let mut bwrap = Command::new("bwrap");
            // --new-session: no terminal to push keystrokes into (TIOCSTI).
            bwrap.args(["--die-with-parent", "--new-session", "--unshare-all"]);
            if network == Network::RepositoryHost {
                bwrap.arg("--share-net");
            }
            bwrap.args(["--ro-bind", "/usr", "/usr"]);
            for dir in ["/bin", "/lib", "/lib64", "/lib32", "/sbin"] {
                bwrap.args(["--ro-bind-try", dir, dir]);
            }
            for file in ["/etc/ssl", "/etc/ca-certificates", "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"] {
                bwrap.args(["--ro-bind-try", file, file]);
            }
            bwrap.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
            bwrap.arg("--bind").arg(&self.root).arg(&self.root);
            if let Some((path, access)) = local_repository {
                bwrap.arg(if access == Access::Writable { "--bind" } else { "--ro-bind" }).arg(path).arg(path);
            }
            bwrap.arg("--chdir").arg(cwd);
            bwrap.arg("--").arg("prlimit").args(&limits).arg("--").arg(program).args(args);
            bwrap
        } else {
            let mut prlimit = Command::new("prlimit");
            prlimit.args(&limits).arg("--").arg(program).args(args).current_dir(cwd);
            prlimit
        };
        if let Some((uid, gid)) = self.isolation.account {
            command.uid(uid).gid(gid);
        }
        command
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // `remove_dir_all` does not follow links the account may have left in the tree.
        if let Err(error) = std::fs::remove_dir_all(&self.root)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %self.root.display(), "could not remove an agent sandbox; it goes when this worker's directory is swept");
        }
    }
}

/// Kills a command's whole process group (git's helpers with it; under bubblewrap the sandbox's
/// processes die with bwrap) when told to, or when dropped before [`GroupGuard::disarm`].
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// The command ended by itself: its group id may be reused now.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> String {
    let Some(mut stream) = stream else { return String::new() };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // Keep reading past the cap so the command never blocks on a full pipe.
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Bytes of the regular files under `dir` (symbolic links not followed).
pub fn directory_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}
