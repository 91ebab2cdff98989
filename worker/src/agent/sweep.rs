//! The sandbox directory of a worker instance, and the sweep of dead instances' directories.
//!
//! `AGENT_SANDBOX_DIR` must be a real directory of the worker's own that nobody else may write (the
//! worker deletes trees under it as root). Each worker instance makes `<base>/<uuid>` and holds
//! [`LOCK_FILE`] in it under an exclusive `flock` for as long as it lives; the kernel releases the
//! lock when the process dies, however it dies. The sweep (at start and every minute) removes the
//! instance directories whose lock it can take: their worker is gone. Only UUID-named real
//! directories are ever touched, and several workers (of several installations) may share a base.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg, OFlag};

use super::sandbox::LOCK_FILE;

/// How often dead instances are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// A directory without its lock file this old was left half-made by a worker that died at start.
const HALF_MADE_AFTER: Duration = Duration::from_secs(60);

/// This worker instance's directory, alive while this value is.
pub struct Instance {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl Instance {
    /// Checks `base` (making it, mode 0711, when missing) and makes this instance's directory in it.
    pub fn start(base: &Path) -> Result<Self, String> {
        if base.symlink_metadata().is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o711)
                .create(base)
                .map_err(|e| format!("creating AGENT_SANDBOX_DIR {}: {e}", base.display()))?;
        }
        let meta = base.symlink_metadata().map_err(|e| format!("AGENT_SANDBOX_DIR {}: {e}", base.display()))?;
        if !meta.is_dir() {
            return Err(format!("AGENT_SANDBOX_DIR {} is not a directory (a symbolic link is refused)", base.display()));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "AGENT_SANDBOX_DIR {} must be the worker's own and writable by nobody else (it is uid {}, mode {:o})",
                base.display(),
                meta.uid(),
                meta.mode() & 0o7777
            ));
        }
        if meta.mode() & 0o111 != 0o111 {
            // The sandbox account passes through it to its run's directory (and lists nothing).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(base, std::fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o111))
                .map_err(|e| format!("AGENT_SANDBOX_DIR {}: {e}", base.display()))?;
        }
        let dir = base.join(uuid::Uuid::new_v4().to_string());
        // Execute without read for others: the account reaches its run's directory, lists nothing.
        std::fs::DirBuilder::new().mode(0o711).create(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| format!("creating the lock of {}: {e}", dir.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| format!("locking {}: {e}", dir.display()))?;
        Ok(Self { dir, _lock: lock })
    }

    /// `<base>/<uuid>`: where this instance's runs live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Removes the directories of dead instances under `base` (not `own`); returns how many.
pub fn sweep(base: &Path, own: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_instance = entry.file_name().to_str().is_some_and(|name| uuid::Uuid::parse_str(name).is_ok());
        let is_real_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
        if !is_instance || !is_real_dir || path == own {
            continue;
        }
        let lock = std::fs::OpenOptions::new().read(true).custom_flags(OFlag::O_NOFOLLOW.bits()).open(path.join(LOCK_FILE));
        // Taking the lock proves the worker gone; it is held while the removal runs.
        let held = match lock {
            Ok(file) => match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(held) => Some(held),
                Err(_) => continue, // a live worker
            },
            Err(_) if older_than(&path, HALF_MADE_AFTER) => None,
            Err(_) => continue, // being made right now
        };
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(error) => tracing::warn!(%error, dir = %path.display(), "could not remove an orphaned agent sandbox"),
        }
        drop(held);
    }
    if removed > 0 {
        tracing::info!(removed, dir = %base.display(), "removed the agent sandboxes of workers that are gone");
    }
    removed
}

fn older_than(path: &Path, age: Duration) -> bool {
    path.symlink_metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|elapsed| elapsed > age)
}

/// Sweeps every minute, until aborted.
pub async fn sweep_forever(base: PathBuf, own: PathBuf) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let (base, own) = (base.clone(), own.clone());
        let _ = tokio::task::spawn_blocking(move || sweep(&base, &own)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_instances_go_and_live_ones_and_strangers_stay() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path().join("agent");
        let live = Instance::start(&base).unwrap();
        let other = Instance::start(&base).unwrap();
        let dead_dir = {
            let dead = Instance::start(&base).unwrap();
            std::fs::write(dead.dir().join("leftover"), "x").unwrap();
            dead.dir().to_path_buf()
        };
        std::fs::create_dir(base.join("not-a-uuid")).unwrap();
        let victim = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(victim.path(), base.join(uuid::Uuid::new_v4().to_string())).unwrap();

        assert_eq!(sweep(&base, live.dir()), 1);
        assert!(!dead_dir.exists(), "the dead instance's directory is gone");
        assert!(live.dir().exists() && other.dir().exists(), "live instances stay");
        assert!(base.join("not-a-uuid").exists(), "only instance directories are touched");
        assert!(victim.path().exists(), "a link is never followed");
    }

    #[test]
    fn a_base_others_may_write_or_a_link_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Instance::start(&open).is_err());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(Instance::start(&link).is_err());
    }
}
