//! The measuring side of `./bench.sh ingest`: telemetry at the rate a busy deployment produces it.
//! A bench user's completion queries (context, both telemetry rows, one generation) and their
//! feedback with ground truth are queued through the server's own [`Pipeline::record`] by
//! `BENCH_INGEST_PUSHERS` concurrent pushers, as fast as Redis accepts them, while this process
//! polls PostgreSQL for what has landed. Seven rows per query; the database must be the bench's
//! own (progress counts every ground truth in it).
//!
//! Two rounds: one into the empty database, then, after `ANALYZE`, the measured one (a running
//! deployment's planner statistics are current). Reports rows landed per second (first push to last
//! row) of both, the rate the queue accepted writes,
//! the largest backlog of queued-but-not-landed queries, and the rows lost (expected minus landed
//! at the end: must be zero; the run fails otherwise). Reads the `REDIS_*` and `DB_*` settings
//! from the environment (the bench stack exports them) and needs a running worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use code4me_server::db;
use code4me_server::pipeline::Pipeline;
use code4me_shared::connect;
use code4me_shared::domain::Email;
use code4me_shared::jobs::telemetry::{BehavioralRow, ContextRow, ContextualRow, DbWrite, FeedbackRecord, GenerationRow, QueryKind, QueryRecord};
use code4me_shared::settings::{DatabaseSettings, EnvSource, RedisSettings};
use futures::StreamExt;
use uuid::Uuid;

/// Rows each query lands: context, contextual and behavioral telemetry, meta_query,
/// completion_query, had_generation, and its feedback's ground_truth.
const ROWS_PER_QUERY: i64 = 7;

/// The model the generations name (SmolLM2 in the seeded catalogue).
const MODEL_ID: i64 = 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = EnvSource::from_process();
    let queries: usize = env.parse_or("BENCH_INGEST_QUERIES", 30_000)?;
    let pushers: usize = env.parse_or("BENCH_INGEST_PUSHERS", 32)?;
    let timeout = Duration::from_secs(env.parse_or("BENCH_INGEST_TIMEOUT_S", 600)?);
    let redis_settings = RedisSettings::from_env(&env)?;
    let pool = connect::connect_postgres(&DatabaseSettings::from_env(&env)?, Duration::from_secs(30)).await?;
    let redis = connect::connect_redis(&redis_settings, Duration::from_secs(10)).await?;
    let pipeline = Arc::new(Pipeline::start(redis, redis::Client::open(redis_settings.url()).context("REDIS_* settings")?));
    let bench = Bench { pool, pipeline, pushers, timeout };

    // Into the empty database first (the planner's statistics lag the growing tables: autovacuum
    // analyses them once a minute), then, statistics current, the measured round.
    let cold = bench.round(queries).await?;
    eprintln!("cold round (empty database): {cold:?}");
    db::queries::analyze(&bench.pool).await?;
    let warm = bench.round(queries).await?;
    let line = serde_json::json!({
        "bench": "ingest",
        "queries": queries,
        "jobs": queries * 2,
        "pushers": pushers,
        "rows": warm.rows,
        "rows_lost": warm.lost + cold.lost,
        "seconds": round2(warm.landed_after.as_secs_f64()),
        "rows_per_s": warm.rows_per_s(),
        "cold_rows_per_s": cold.rows_per_s(),
        "writes_queued_per_s": ((queries * 2) as f64 / warm.pushed_after.as_secs_f64()).round(),
        "max_backlog_queries": warm.max_backlog,
        "target": {"rows_per_s": 20_000, "rows_lost": 0},
    });
    println!("{line}");
    anyhow::ensure!(cold.lost == 0 && warm.lost == 0, "rows did not land within {timeout:?}: {cold:?} {warm:?}");
    Ok(())
}

struct Bench {
    pool: sqlx::PgPool,
    pipeline: Arc<Pipeline>,
    pushers: usize,
    timeout: Duration,
}

/// What one round measured.
#[derive(Debug)]
struct Round {
    rows: i64,
    lost: i64,
    landed_after: Duration,
    pushed_after: Duration,
    max_backlog: usize,
}

impl Round {
    fn rows_per_s(&self) -> f64 {
        (self.rows as f64 / self.landed_after.as_secs_f64()).round()
    }
}

impl Bench {
    /// `queries` queries of a fresh user and their feedback, queued as fast as the queue takes
    /// them; returns once every row landed (or the timeout passed).
    async fn round(&self, queries: usize) -> anyhow::Result<Round> {
        let owner = bench_owner(&self.pool).await?;
        let records: Vec<QueryRecord> = (0..queries).map(|i| record(owner, i)).collect();
        let truths_before = db::queries::ground_truth_count(&self.pool).await?;
        let pushed = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let push_all = {
            let (pipeline, pushed, pushers) = (self.pipeline.clone(), pushed.clone(), self.pushers);
            tokio::spawn(async move {
                futures::stream::iter(records.into_iter().enumerate())
                    .map(|(i, query)| {
                        let (pipeline, pushed) = (pipeline.clone(), pushed.clone());
                        async move {
                            let query_id = query.query_id;
                            pipeline.record(DbWrite::Query(Box::new(query))).await?;
                            pipeline.record(DbWrite::Feedback(feedback(query_id, i))).await?;
                            pushed.fetch_add(1, Ordering::Relaxed);
                            anyhow::Ok(())
                        }
                    })
                    .buffer_unordered(pushers)
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<anyhow::Result<Vec<()>>>()?;
                anyhow::Ok(started.elapsed())
            })
        };
        // Progress: a query's ground truth is its last row to land (its feedback waits for the
        // rows), so counting ground truths is enough while the round lasts; every row of the
        // round's user is counted at the end.
        let mut max_backlog = 0usize;
        let mut landed = 0usize;
        while landed < queries && started.elapsed() < self.timeout {
            tokio::time::sleep(Duration::from_millis(100)).await;
            landed = (db::queries::ground_truth_count(&self.pool).await? - truths_before) as usize;
            max_backlog = max_backlog.max(pushed.load(Ordering::Relaxed).saturating_sub(landed));
        }
        let landed_after = started.elapsed();
        let pushed_after = push_all.await.context("the pushers")??;
        let stored = db::queries::stored_telemetry_of(&self.pool, owner.user_id).await?;
        Ok(Round { rows: stored.rows, lost: queries as i64 * ROWS_PER_QUERY - stored.rows, landed_after, pushed_after, max_backlog })
    }
}

#[derive(Clone, Copy)]
struct Owner {
    user_id: Uuid,
    session_id: Uuid,
    project_id: Uuid,
}

/// A fresh user with a session and a project, for the queries to belong to.
async fn bench_owner(pool: &sqlx::PgPool) -> anyhow::Result<Owner> {
    let email = Email::parse(&format!("ingest-{}@example.com", &Uuid::new_v4().simple().to_string()[..12])).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let user = db::users::NewUser {
        email: &email,
        name: "Ingest bench",
        password_hash: "not-a-password-hash",
        config_id: 1,
        is_oauth_signup: false,
        verified: true,
        is_admin: false,
    };
    let user_id = db::users::insert(pool, &user).await?.context("a fresh address is free")?;
    let (session_id, project_id) = (Uuid::new_v4(), Uuid::new_v4());
    db::projects::insert_session(pool, session_id, user_id).await?;
    db::projects::create(pool, project_id, "ingest-bench", user_id, session_id).await?;
    Ok(Owner { user_id, session_id, project_id })
}

/// Query `i` as the plugin's completion request leaves it: a window of code around the caret,
/// both telemetry rows, one generation with its logprobs.
fn record(owner: Owner, i: usize) -> QueryRecord {
    let now = Utc::now();
    QueryRecord {
        query_id: Uuid::new_v4(),
        user_id: owner.user_id,
        session_id: Some(owner.session_id),
        project_id: Some(owner.project_id),
        client: Default::default(),
        api_key_id: None,
        timestamp: now,
        total_serving_time_ms: 40 + (i % 50) as i32,
        server_version_id: 1,
        config_id: Some(1),
        multi_file_context_changes_indexes: [(format!("src/module_{}.py", i % 7), i % 5)].into(),
        context: Some(ContextRow {
            prefix: format!("def handler_{i}(request):\n    value = request.args.get('v{i}')\n    if value is None:\n        return "),
            suffix: "\n\nclass Tail:\n    pass\n".into(),
            file_name: Some(format!("module_{}.py", i % 7)),
            selected_text: None,
        }),
        contextual: Some(ContextualRow {
            version_id: 1,
            trigger_type_id: 1,
            language_id: 47,
            file_path: Some(format!("/project/src/module_{}.py", i % 7)),
            caret_line: Some((i % 400) as i32),
            document_char_length: Some(4_000 + (i % 900) as i32),
            relative_document_position: Some((i % 100) as f64 / 100.0),
        }),
        behavioral: Some(BehavioralRow { time_since_last_shown: Some(1_200), time_since_last_accepted: Some(9_000), typing_speed: Some(4.5) }),
        kind: QueryKind::Completion,
        generations: vec![GenerationRow {
            model_id: MODEL_ID,
            completion: "None\n".into(),
            generation_time_ms: 30 + (i % 40) as i32,
            shown_at: now,
            confidence: 0.62,
            logprobs: vec![-0.31, -0.05, -1.2],
            provider: None,
            stages: Default::default(),
        }],
    }
}

/// Query `i`'s acceptance (every third accepted) and ground truth.
fn feedback(query_id: Uuid, i: usize) -> FeedbackRecord {
    FeedbackRecord { query_id, model_id: MODEL_ID, was_accepted: i.is_multiple_of(3), ground_truth: Some("None\n".into()), received_at: Utc::now() }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
