//! The Code4me-RS worker: consumes the `llm` and `db` queues, runs local models and writes telemetry.
//!
//! Today it connects to its dependencies and waits; [`model`] holds the local model runtime (GGUF
//! llama models on candle, their tokenizers, sampling). The queues and the telemetry writer arrive
//! with the pipeline work. `main.rs` only parses settings and calls
//! [`run`], so tests run the real worker in-process.

pub mod model;

use std::future::Future;

use anyhow::Context;
use code4me_shared::connect;
use code4me_shared::settings::WorkerSettings;

/// Connects to PostgreSQL and Redis — retrying with backoff for `STARTUP_CONNECT_TIMEOUT_SECONDS`,
/// then failing with a message that names the unreachable dependency — logs that it is ready, and
/// runs until `shutdown` resolves.
pub async fn run(settings: WorkerSettings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let db = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
    let mut redis = connect::connect_redis(&settings.redis, settings.startup_connect_timeout).await?;
    let _: String = redis::cmd("PING").query_async(&mut redis).await.context("Redis PING after connecting")?;
    tracing::info!(
        database = %settings.database.name,
        redis.host = %settings.redis.host,
        redis.port = settings.redis.port,
        models = %settings.model_cache_dir.display(),
        "worker ready"
    );
    shutdown.await;
    tracing::info!("worker shutting down");
    db.close().await;
    Ok(())
}
