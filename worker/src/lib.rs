//! The Code4me-RS worker: consumes the `llm` and `db` queues, runs local models and writes telemetry.
//!
//! Today it connects to its dependencies, loads the models its `model_name` rows describe and
//! announces them in Redis; [`model`] holds the local model runtime (the native GGUF llama engine,
//! tokenizers, sampling, prompts, embeddings), [`fetch`] the explicit weight download. The queues and
//! the telemetry writer arrive with the pipeline work. `main.rs` only parses its command line and
//! calls [`run`] or [`fetch::fetch_model`], so tests run the real worker in-process.

pub mod fetch;
pub mod model;
pub mod models;

use std::future::Future;

use anyhow::Context;
use code4me_shared::connect;
use code4me_shared::settings::WorkerSettings;

/// Connects to PostgreSQL and Redis — retrying with backoff for `STARTUP_CONNECT_TIMEOUT_SECONDS`,
/// then failing with a message that names the unreachable dependency — loads the models whose
/// weights are present, announces them under `worker_models:<WORKER_ID>` and runs until `shutdown`
/// resolves.
pub async fn run(settings: WorkerSettings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let db = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
    let mut redis = connect::connect_redis(&settings.redis, settings.startup_connect_timeout).await?;
    let _: String = redis::cmd("PING").query_async(&mut redis).await.context("Redis PING after connecting")?;
    let catalog = models::load_catalog(models::model_rows(&db).await?, &settings).await?;
    let announcement = models::announcement(&settings.worker_id, &catalog);
    tracing::info!(
        worker = %settings.worker_id,
        database = %settings.database.name,
        redis.host = %settings.redis.host,
        redis.port = settings.redis.port,
        models_dir = %settings.model_cache_dir.display(),
        loaded = ?announcement.loaded,
        "worker ready"
    );
    models::announce_until(redis, announcement, shutdown).await;
    tracing::info!("worker shutting down");
    db.close().await;
    Ok(())
}
