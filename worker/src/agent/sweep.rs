//! Orphaned sandboxes: each worker instance keeps `agent_sandbox:<instance>` alive while it runs;
//! at start and every minute a worker removes the instance directories under `AGENT_SANDBOX_DIR`
//! whose key has expired (their worker was killed and never removed them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use code4me_shared::redis_keys::{AGENT_SANDBOX_TTL_SECONDS, agent_sandbox_owner};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::sandbox::{instance_dirs, remove_instances};

/// How often orphans are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Announces `instance` as alive.
pub async fn announce(redis: &mut ConnectionManager, instance: &str) -> redis::RedisResult<()> {
    redis.set_ex(agent_sandbox_owner(instance), "", AGENT_SANDBOX_TTL_SECONDS).await
}

/// Removes the directories of dead instances under `base`; returns how many.
pub async fn sweep(redis: &mut ConnectionManager, base: &Path, instance: &str) -> redis::RedisResult<usize> {
    let mut dead = Vec::new();
    for name in instance_dirs(base) {
        if name == instance {
            continue;
        }
        let alive: bool = redis.exists(agent_sandbox_owner(&name)).await?;
        if !alive {
            dead.push(name);
        }
    }
    let removed = remove_instances(base, &dead);
    if removed > 0 {
        tracing::info!(removed, dir = %base.display(), "removed the agent sandboxes of workers that are gone");
    }
    Ok(removed)
}

/// Keeps the instance alive and sweeps, until aborted.
pub async fn keep_alive_and_sweep(mut redis: ConnectionManager, base: PathBuf, instance: String) {
    let mut since_sweep = Duration::ZERO;
    let every = Duration::from_secs(AGENT_SANDBOX_TTL_SECONDS / 3);
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = announce(&mut redis, &instance).await {
            tracing::warn!(%error, "could not refresh this worker's agent sandbox key");
        }
        since_sweep += every;
        if since_sweep >= SWEEP_EVERY {
            since_sweep = Duration::ZERO;
            if let Err(error) = sweep(&mut redis, &base, &instance).await {
                tracing::warn!(%error, "could not sweep orphaned agent sandboxes");
            }
        }
    }
}
