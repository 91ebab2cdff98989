//! The worker's models at start-up: `model_name` rows from PostgreSQL, loaded into a [`Catalog`] on a
//! blocking thread, and announced in Redis (`worker_models:<id>`) for as long as the worker lives.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use code4me_shared::redis_keys::{self, WorkerModelsValue};
use code4me_shared::settings::WorkerSettings;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::model::LoadOptions;
use crate::model::catalog::{Catalog, ModelRow};

/// Every `model_name` row. The JSON columns are TEXT (as upstream); a row whose JSON does not parse
/// is kept with `null`, and the catalog reports it unavailable rather than the worker refusing to start.
pub async fn model_rows(db: &PgPool) -> anyhow::Result<Vec<ModelRow>> {
    let rows: Vec<(i64, String, bool, String, String)> =
        sqlx::query_as("SELECT model_id, model_name, is_instruction_tuned, prompt_templates, model_parameters FROM model_name ORDER BY model_id")
            .fetch_all(db)
            .await
            .context("reading the model_name rows")?;
    Ok(rows
        .into_iter()
        .map(|(id, name, instruction_tuned, templates, parameters)| ModelRow {
            id,
            name,
            instruction_tuned,
            prompt_templates: serde_json::from_str(&templates).unwrap_or(serde_json::Value::Null),
            model_parameters: serde_json::from_str(&parameters).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// Loads every row whose weights are present. Loading reads and repacks hundreds of MiB, so it runs
/// on a blocking thread, never on the async executor.
pub async fn load_catalog(rows: Vec<ModelRow>, settings: &WorkerSettings) -> anyhow::Result<Arc<Catalog>> {
    let threads = match settings.model_threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let mut options = LoadOptions::with_threads(threads);
    options.prefix_cache_entries = settings.model_prefix_cache_entries;
    options.max_draft_tokens = settings.model_max_draft_tokens;
    options.batching = settings.model_batching;
    options.device = device(&settings.model_device)?;
    let models_dir = settings.model_cache_dir.clone();
    let catalog =
        tokio::task::spawn_blocking(move || Catalog::load(&rows, &models_dir, &options)).await.context("the model loading thread panicked")?;
    Ok(Arc::new(catalog))
}

/// The candle device named by `MODEL_DEVICE`: `cpu`, `cuda` (GPU 0) or `cuda:N`. A CUDA device in a
/// build without the `cuda` feature is a start-up error that says how to build one, never a silent
/// fallback to the CPU.
pub fn device(name: &str) -> anyhow::Result<candle_core::Device> {
    let ordinal = match name.trim().to_ascii_lowercase().as_str() {
        "cpu" => return Ok(candle_core::Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => anyhow::bail!("MODEL_DEVICE={name:?} is not a device: use cpu, cuda or cuda:N"),
        },
    };
    if !candle_core::utils::cuda_is_available() {
        anyhow::bail!("MODEL_DEVICE={name:?} needs a worker built with CUDA: cargo build --release -p code4me-worker --features cuda");
    }
    candle_core::Device::new_cuda(ordinal).with_context(|| format!("opening MODEL_DEVICE={name:?}"))
}

/// What this worker serves, as stored under `worker_models:<id>`; `embeddings` when the
/// embedding model is loaded.
pub fn announcement(worker_id: &str, catalog: &Catalog, embeddings: bool) -> WorkerModelsValue {
    WorkerModelsValue {
        worker_id: worker_id.to_owned(),
        loaded: catalog.available(),
        unavailable: catalog.unavailable().map(|(id, error)| (id, error.to_string())).collect(),
        heartbeat_at: None,
        embeddings,
    }
}

/// Writes `worker_models:<id>` once, stamped now. The worker does this before it reports ready, so
/// a server that sees it ready also sees what it serves (the open APIs route by it).
pub async fn announce(redis: &mut ConnectionManager, value: &mut WorkerModelsValue) -> redis::RedisResult<()> {
    let key = redis_keys::key(redis_keys::WORKER_MODELS, &value.worker_id);
    value.heartbeat_at = Some(chrono::Utc::now());
    let json = serde_json::to_string(&value).expect("a WorkerModelsValue always serialises");
    redis::cmd("SET").arg(&key).arg(&json).arg("EX").arg(redis_keys::WORKER_MODELS_TTL_SECONDS).query_async::<()>(redis).await
}

/// Keeps `worker_models:<id>` alive while the worker runs (refreshed at a third of its TTL, so a
/// Redis restart or a missed beat heals by itself) and deletes it on the way out, so a stopped
/// worker leaves the readiness check at once rather than when the key expires. Each refresh
/// stamps `heartbeat_at`, which operators read in `/api/health/detailed`.
pub async fn announce_until(mut redis: ConnectionManager, mut value: WorkerModelsValue, shutdown: impl std::future::Future<Output = ()>) {
    let key = redis_keys::key(redis_keys::WORKER_MODELS, &value.worker_id);
    let ttl = redis_keys::WORKER_MODELS_TTL_SECONDS;
    let beat = async {
        let mut interval = tokio::time::interval(Duration::from_secs(ttl / 3));
        loop {
            interval.tick().await;
            if let Err(error) = announce(&mut redis, &mut value).await {
                tracing::warn!(%error, "could not announce this worker's models; retrying");
            }
        }
    };
    tokio::select! {
        () = beat => {}
        () = shutdown => {}
    }
    let _: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut redis).await;
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn model_device_names_the_cpu_or_a_cuda_gpu_and_nothing_else() {
        assert!(device("cpu").expect("cpu").is_cpu());
        assert!(device(" CPU ").expect("case and spaces").is_cpu());
        for wrong in ["gpu", "cuda:x", "metal:0", ""] {
            let error = device(wrong).expect_err("refused").to_string();
            assert!(error.contains("use cpu, cuda or cuda:N"), "{wrong}: {error}");
        }
        if !candle_core::utils::cuda_is_available() {
            let error = device("cuda:1").expect_err("no CUDA in this build").to_string();
            assert!(error.contains("--features cuda"), "says how to get a CUDA build: {error}");
        }
    }
}
