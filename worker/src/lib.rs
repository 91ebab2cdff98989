//! The Code4me-RS worker: consumes the `llm`, `db`, `index` and `agent` queues, runs local models, writes
//! telemetry, keeps the retrieval index and compacts the analytics rollups ([`rollups`]).
//!
//! [`jobs`] lists every job with its handler and concurrency: `llm` answers model jobs over the
//! requesting server's reply channel, `db` hands telemetry to [`telemetry`] (batched transactions),
//! `index` hands project files to [`retrieval`] (the pgvector index). [`queues`] runs the supervised
//! apalis consumer of each, [`signals`] carries queue wake-ups and cancellations; [`model`] holds the local
//! model runtime (the native GGUF llama engine, tokenizers, sampling, prompts, embeddings), [`fetch`]
//! the explicit weight download. `main.rs` only parses its command line and calls [`run`] or
//! [`fetch::fetch_model`], so tests run the real worker in-process.

pub mod agent;
pub mod fetch;
pub mod jobs;
pub mod metrics_endpoint;
pub mod model;
pub mod models;
pub mod pg_text;
pub mod queues;
pub mod retrieval;
pub mod rollups;
pub mod signals;
pub mod telemetry;

use std::future::Future;

use anyhow::Context;
use code4me_shared::connect;
use code4me_shared::queue::Producer;
use code4me_shared::settings::WorkerSettings;
use tokio::sync::watch;

use crate::jobs::Contexts;
use crate::jobs::index::IndexContext;
use crate::jobs::llm::LlmContext;
use crate::jobs::telemetry::TelemetryContext;
use crate::queues::Consumers;
use crate::retrieval::Retriever;
use crate::signals::Signals;
use crate::telemetry::BatchWriter;

/// Connects to PostgreSQL and Redis — retrying with backoff for `STARTUP_CONNECT_TIMEOUT_SECONDS`,
/// then failing with a message that names the unreachable dependency — applies pending
/// migrations, loads the models whose
/// weights are present, announces them under `worker_models:<WORKER_ID>`, and consumes every queue
/// of [`jobs::registry`] until `shutdown` resolves. Stopping finishes the jobs in progress first.
pub async fn run(settings: WorkerSettings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with_ready(settings, shutdown, || {}).await
}

/// [`run`], calling `ready` once the models are loaded and the consumers start, so a caller (the
/// test harness) can wait for the worker instead of sleeping.
pub async fn run_with_ready(settings: WorkerSettings, shutdown: impl Future<Output = ()>, ready: impl FnOnce()) -> anyhow::Result<()> {
    let db = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
    // A worker may start before any server on a fresh database (compose, scripts); it reads the
    // model rows at once, so it applies pending migrations itself (sqlx serialises concurrent runs
    // with an advisory lock).
    connect::MIGRATOR.run(&db).await.context("applying database migrations")?;
    let mut redis = connect::connect_redis(&settings.redis, settings.startup_connect_timeout).await?;
    let _: String = redis::cmd("PING").query_async(&mut redis).await.context("Redis PING after connecting")?;
    let metrics_server = match settings.metrics_addr {
        Some(address) => Some(metrics_endpoint::serve(address).await?.1),
        None => None,
    };
    let catalog = models::load_catalog(models::model_rows(&db).await?, &settings).await?;
    let catalog_for_agent = catalog.clone();
    let signals = Signals::default();
    let client = redis::Client::open(settings.redis.url()).context("invalid REDIS_* settings")?;
    let retriever = open_retriever(&db, &settings);
    let retrieval = retriever.is_some();
    let announcement = models::announcement(&settings.worker_id, &catalog, retrieval);
    let contexts = Contexts {
        llm: LlmContext {
            catalog,
            redis: redis.clone(),
            signals: signals.clone(),
            worker: settings.worker_id.clone(),
            prompt_anchor: settings.prompt_anchor,
            retriever: retriever.clone(),
        },
        telemetry: TelemetryContext { writer: BatchWriter::start(db.clone()), index: Producer::new(redis.clone()) },
        index: IndexContext { retriever },
        agent: None,
    };
    let mut contexts = contexts;
    let mut sandbox_keeper = None;
    if settings.agent.concurrency > 0 {
        let (context, keeper) = start_agent(&settings, &db, &redis, catalog_for_agent, signals.clone()).await?;
        contexts.agent = Some(context);
        sandbox_keeper = Some(keeper);
    }
    let registry = jobs::registry(contexts, &settings);
    let queue_names: Vec<&'static str> = registry.iter().map(|registration| registration.queue).collect();
    let listener = tokio::spawn(signals.clone().listen(client, queue_names.clone()));
    // A backlog left from before this worker started is promoted before any consumer fetches.
    queues::promote_all(&mut redis.clone(), &queue_names).await;
    let promoter = tokio::spawn(queues::promote_forever(redis.clone(), queues::PROMOTE_EVERY, queue_names.clone()));
    let vacuum = tokio::spawn(queues::vacuum_forever(redis.clone(), settings.queue_keep_finished, queue_names));
    let compaction = tokio::spawn(rollups::compact_forever(db.clone(), rollups::COMPACT_EVERY));
    let consumers = Consumers { redis: redis.clone(), signals, worker_id: settings.worker_id.clone() };
    let (stop_tx, stop_rx) = watch::channel(false);
    tracing::info!(
        worker = %settings.worker_id,
        database = %settings.database.name,
        redis.host = %settings.redis.host,
        redis.port = settings.redis.port,
        models_dir = %settings.model_cache_dir.display(),
        loaded = ?announcement.loaded,
        llm_concurrency = settings.llm_concurrency,
        db_concurrency = settings.db_concurrency,
        index_concurrency = settings.index_concurrency,
        retrieval,
        "worker ready"
    );
    let mut announcement = announcement;
    if let Err(error) = models::announce(&mut redis.clone(), &mut announcement).await {
        tracing::warn!(%error, "could not announce this worker's models yet; the heartbeat retries");
    }
    ready();
    let announce = models::announce_until(redis, announcement, async {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    tokio::join!(announce, consumers.run(&registry, stop_rx));
    tracing::info!("worker shutting down");
    listener.abort();
    promoter.abort();
    vacuum.abort();
    compaction.abort();
    for task in [sandbox_keeper, metrics_server].into_iter().flatten() {
        task.abort();
    }
    db.close().await;
    Ok(())
}

/// The repository agent: probes the sandbox (bubblewrap, the unprivileged account), makes this
/// instance's sandbox directory, sweeps the directories of dead workers and keeps this one's
/// liveness key. Returns the handler context and the keeper task.
async fn start_agent(
    settings: &WorkerSettings,
    db: &sqlx::PgPool,
    redis: &redis::aio::ConnectionManager,
    catalog: std::sync::Arc<model::catalog::Catalog>,
    signals: Signals,
) -> anyhow::Result<(jobs::agent::AgentContext, tokio::task::JoinHandle<()>)> {
    let isolation = agent::sandbox::Isolation::probe(&settings.agent).await.map_err(anyhow::Error::msg)?;
    if let Some(why) = &isolation.without_bubblewrap {
        tracing::warn!(reason = %why, "agent runs are sandboxed without bubblewrap (own directory, unprivileged account, limits only)");
    }
    let base = settings.agent.sandbox_dir.clone();
    let instance = uuid::Uuid::new_v4().to_string();
    let instance_dir = base.join(&instance);
    std::fs::create_dir_all(&instance_dir).with_context(|| format!("creating the agent sandbox directory {}", instance_dir.display()))?;
    // The sandbox account must pass through both to reach its run's directory (and nothing more:
    // execute without read, so it cannot list the other runs).
    for dir in [&base, &instance_dir] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o111))?;
    }
    let mut redis = redis.clone();
    agent::sweep::announce(&mut redis, &instance).await.context("announcing the agent sandbox directory")?;
    if let Err(error) = agent::sweep::sweep(&mut redis, &base, &instance).await {
        tracing::warn!(%error, "could not sweep orphaned agent sandboxes at start");
    }
    let keeper = tokio::spawn(agent::sweep::keep_alive_and_sweep(redis.clone(), base, instance.clone()));
    let chain = agent::model::ModelChain::new(catalog, &settings.providers, settings.agent.max_new_tokens);
    let agent = agent::Agent {
        settings: std::sync::Arc::new(settings.agent.clone()),
        isolation,
        chain,
        db: db.clone(),
        redis,
        instance_dir,
        worker: settings.worker_id.clone(),
        http: reqwest::Client::new(),
    };
    Ok((jobs::agent::AgentContext { agent, signals }, keeper))
}

/// The retrieval index over all-MiniLM-L6-v2 from `MODEL_CACHE_DIR/all-minilm-l6-v2`, loaded at its
/// first use (only configs with retrieval on send index jobs and searches); without the weights
/// the worker still serves completions, without retrieved snippets (and says so at start).
fn open_retriever(db: &sqlx::PgPool, settings: &WorkerSettings) -> Option<Retriever> {
    match model::embedder::LazyMiniLm::open(&settings.model_cache_dir.join(EMBEDDING_MODEL_DIR)) {
        Ok(embedder) => Some(Retriever::new(db.clone(), std::sync::Arc::new(embedder))),
        Err(error) => {
            tracing::warn!(%error, "all-MiniLM-L6-v2 is not available: completions get no retrieval context (./run.sh fetches it)");
            None
        }
    }
}

/// Where the embedding model lives under `MODEL_CACHE_DIR`.
pub const EMBEDDING_MODEL_DIR: &str = "all-minilm-l6-v2";
