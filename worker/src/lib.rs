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
    let mut agent_tasks = Vec::new();
    if settings.agent.concurrency > 0 {
        let (context, tasks) = start_agent(&settings, &db, &redis, catalog_for_agent, signals.clone()).await;
        contexts.agent = Some(context);
        agent_tasks = tasks;
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
    for task in agent_tasks.into_iter().chain(metrics_server) {
        task.abort();
    }
    db.close().await;
    Ok(())
}

/// The repository agent: probes the sandbox (bubblewrap, the unprivileged account), makes this
/// instance's locked directory under `AGENT_SANDBOX_DIR`, sweeps the directories of dead workers,
/// and starts the sweeper and the reaper of lost runs. When runs cannot be sandboxed here the
/// consumer still runs, and each run ends at `sandbox_init` saying why.
async fn start_agent(
    settings: &WorkerSettings,
    db: &sqlx::PgPool,
    redis: &redis::aio::ConnectionManager,
    catalog: std::sync::Arc<model::catalog::Catalog>,
    signals: Signals,
) -> (jobs::agent::AgentContext, Vec<tokio::task::JoinHandle<()>>) {
    let base = settings.agent.sandbox_dir.clone();
    let isolation = agent::sandbox::Isolation::probe(&settings.agent).await;
    let sandboxing = isolation.and_then(|isolation| {
        let instance = agent::sweep::Instance::start(&base)?;
        Ok(agent::Sandboxing { isolation, instance: std::sync::Arc::new(instance) })
    });
    let mut tasks = vec![tokio::spawn(agent::run_row::reap_forever(db.clone(), settings.agent.run_timeout))];
    let worker = match &sandboxing {
        Ok(sandboxing) => {
            if let Some(why) = &sandboxing.isolation.without_bubblewrap {
                tracing::warn!(reason = %why, "agent runs are sandboxed without bubblewrap (own directory, unprivileged account, limits only)");
            }
            let own = sandboxing.instance.dir().to_path_buf();
            let (sweep_base, sweep_own) = (base.clone(), own.clone());
            let _ = tokio::task::spawn_blocking(move || agent::sweep::sweep(&sweep_base, &sweep_own)).await;
            tasks.push(tokio::spawn(agent::sweep::sweep_forever(base, own.clone())));
            format!("{}/{}", settings.worker_id, own.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
        Err(why) => {
            tracing::error!(reason = %why, "agent runs cannot be sandboxed on this worker: each will end at sandbox_init");
            format!("{}/{}", settings.worker_id, uuid::Uuid::new_v4())
        }
    };
    let agent = agent::Agent {
        settings: std::sync::Arc::new(settings.agent.clone()),
        sandboxing,
        chain: agent::model::ModelChain::new(catalog, &settings.providers, settings.agent.max_new_tokens),
        db: db.clone(),
        redis: redis.clone(),
        worker,
        http: reqwest::Client::new(),
    };
    (jobs::agent::AgentContext { agent, signals }, tasks)
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
