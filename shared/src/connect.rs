//! Connecting to PostgreSQL and Redis: start-up retries with backoff, explicit timeouts, and the
//! embedded migrations. Used by the server, the worker and the test harness alike.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::settings::{DatabaseSettings, RedisSettings};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Every migration in `migrations/`, embedded at compile time (see `build.rs` for why a new file
/// triggers a rebuild). Applied by the server at start and by the test harness.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Connection options for these settings. A `host` starting with `/` is a Unix socket directory.
pub fn connect_options(settings: &DatabaseSettings) -> PgConnectOptions {
    let options = PgConnectOptions::new()
        .port(settings.port)
        .username(&settings.user)
        .password(settings.expose_password())
        .database(&settings.name)
        .application_name("code4me-rs");
    if settings.host.starts_with('/') { options.socket(&settings.host) } else { options.host(&settings.host) }
}

/// A lazily-connecting pool: creating it never fails, and every acquire waits at most
/// `pool_timeout`, so an outage turns into errors (and a degraded health check), never a hang.
pub fn lazy_pool(settings: &DatabaseSettings) -> PgPool {
    PgPoolOptions::new().max_connections(settings.pool_size).acquire_timeout(settings.pool_timeout).connect_lazy_with(connect_options(settings))
}

/// Connects, retrying with exponential backoff for up to `give_up_after`, and fails with the
/// last error so the operator sees why (wrong password, database missing, nothing listening).
pub async fn connect_postgres(settings: &DatabaseSettings, give_up_after: Duration) -> anyhow::Result<PgPool> {
    let pool = lazy_pool(settings);
    let target = format!("postgres://{}@{}:{}/{}", settings.user, settings.host, settings.port, settings.name);
    retry_with_backoff(give_up_after, &target, || sqlx::query("SELECT 1").execute(&pool))
        .await
        .with_context(|| format!("PostgreSQL at {target} is unreachable (is it running? are DB_* settings right?)"))?;
    Ok(pool)
}

/// Calls `attempt` until it succeeds or `give_up_after` has passed, sleeping 100 ms, 200 ms, ...
/// (capped at 2 s) in between; logs each failure once.
pub async fn retry_with_backoff<F, Fut, T, E>(give_up_after: Duration, what: &str, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + give_up_after;
    let mut delay = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(target = what, error = %e, retry_in_ms = delay.as_millis() as u64, "dependency not ready");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Connects to Redis, retrying for up to `give_up_after`. The returned manager reconnects by itself
/// after Redis restarts; commands fail within the configured timeouts instead of hanging
/// (redis-rs' 500 ms default response timeout is too short under load, see rust-stack-notes §2).
pub async fn connect_redis(settings: &RedisSettings, give_up_after: Duration) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(settings.url()).context("invalid REDIS_* settings")?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.response_timeout))
        // Reconnection runs in the background after a failed command; keep it short so commands
        // during an outage fail fast instead of queueing behind a long backoff.
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    let target = format!("redis://{}:{}/{}", settings.host, settings.port, settings.db);
    retry_with_backoff(give_up_after, &target, || ConnectionManager::new_with_config(client.clone(), config.clone()))
        .await
        .with_context(|| format!("Redis at {target} is unreachable (is it running? are REDIS_* settings right?)"))
}
