//! The models the open APIs can name: the `model_name` rows with their prompt templates, cached
//! for a few seconds (rows change only through migrations and operators), and which of them the
//! live workers serve now (their `worker_models:<id>` announcements, cached as briefly).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use code4me_shared::redis_keys::{WORKER_MODELS, WorkerModelsValue};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::db::models::{self, ModelDefinition};

/// How long rows and announcements are reused: a worker that starts is used within this long.
const CACHE_FOR: Duration = Duration::from_secs(2);

/// A cached answer that lacks a model is read again after this long.
const RECHECK_AFTER: Duration = Duration::from_millis(200);

/// A model row as the open APIs use it.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// `model_id`.
    pub id: i64,
    /// `model_name`, the name clients send.
    pub name: String,
    /// A chat model.
    pub chat: bool,
    /// Has a completion (FIM) template.
    pub completion: bool,
    /// `prompt_templates` parsed (`{}` when unreadable).
    pub templates: serde_json::Value,
}

/// What the live workers serve.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// Model ids some live worker has loaded.
    pub models: Vec<i64>,
    /// Whether some live worker has the embedding model.
    pub embeddings: bool,
    /// Live workers.
    pub workers: usize,
}

/// A cached value and when it was read.
type Cached<T> = Arc<Mutex<Option<(Instant, T)>>>;

/// Cached rows and announcements; cheap to clone.
#[derive(Clone)]
pub struct ModelDirectory {
    db: PgPool,
    redis: ConnectionManager,
    rows: Cached<Arc<Vec<ModelEntry>>>,
    served: Cached<Served>,
}

impl ModelDirectory {
    /// A directory over these connections.
    pub fn new(db: PgPool, redis: ConnectionManager) -> Self {
        Self { db, redis, rows: Arc::default(), served: Arc::default() }
    }

    /// Every model row.
    pub async fn entries(&self) -> sqlx::Result<Arc<Vec<ModelEntry>>> {
        if let Some((at, rows)) = self.rows.lock().expect("model rows lock").as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return Ok(rows.clone());
        }
        let rows: Arc<Vec<ModelEntry>> = Arc::new(models::definitions(&self.db).await?.into_iter().map(entry).collect());
        *self.rows.lock().expect("model rows lock") = Some((Instant::now(), rows.clone()));
        Ok(rows)
    }

    /// The row named `name`.
    pub async fn find(&self, name: &str) -> sqlx::Result<Option<ModelEntry>> {
        Ok(self.entries().await?.iter().find(|m| m.name == name).cloned())
    }

    /// Whether a live worker serves model `id`: the cached announcements, read again when they do
    /// not list it and are older than [`RECHECK_AFTER`] (a worker that just started is used at once).
    pub async fn serves(&self, id: i64) -> bool {
        if self.served().await.models.contains(&id) {
            return true;
        }
        let stale = self.served.lock().expect("served lock").as_ref().is_none_or(|(at, _)| at.elapsed() >= RECHECK_AFTER);
        stale && self.read_served().await.models.contains(&id)
    }

    /// What the live workers serve now (nothing when Redis cannot say).
    pub async fn served(&self) -> Served {
        if let Some((at, served)) = self.served.lock().expect("served lock").as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return served.clone();
        }
        self.read_served().await
    }

    /// Reads the announcements and caches them.
    async fn read_served(&self) -> Served {
        let served = match announcements(&mut self.redis.clone()).await {
            Ok(workers) => Served {
                models: workers.iter().flat_map(|w| w.loaded.iter().copied()).collect(),
                embeddings: workers.iter().any(|w| w.embeddings),
                workers: workers.len(),
            },
            Err(error) => {
                tracing::warn!(%error, "could not read the workers' announcements");
                Served::default()
            }
        };
        *self.served.lock().expect("served lock") = Some((Instant::now(), served.clone()));
        served
    }

    /// The model a request that names none gets: the first row (by id) a live worker serves that
    /// can do the job (`chat` or completion), else the first such row.
    pub async fn default_model(&self, chat: bool) -> sqlx::Result<Option<ModelEntry>> {
        let rows = self.entries().await?;
        let served = self.served().await;
        let fits = |m: &&ModelEntry| if chat { m.chat } else { m.completion };
        let live = rows.iter().filter(fits).find(|m| served.models.contains(&m.id));
        Ok(live.or_else(|| rows.iter().find(fits)).cloned())
    }
}

fn entry(row: ModelDefinition) -> ModelEntry {
    let templates: serde_json::Value = serde_json::from_str(&row.prompt_templates).unwrap_or_else(|_| serde_json::json!({}));
    let completion = templates.get("fim_template").is_some_and(|t| t.is_object());
    ModelEntry { id: row.model_id, name: row.model_name, chat: row.is_instruction_tuned, completion, templates }
}

/// The live workers' announcements, in no particular order.
pub async fn announcements(redis: &mut ConnectionManager) -> redis::RedisResult<Vec<WorkerModelsValue>> {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{WORKER_MODELS}*")).arg("COUNT").arg(500).query_async(redis).await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(redis).await?;
    Ok(values.into_iter().flatten().filter_map(|raw| serde_json::from_str(&raw).ok()).collect())
}
