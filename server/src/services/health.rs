//! What operators ask of a server instance: is it ready for traffic (PostgreSQL, Redis, and a live
//! worker serving the default completion model), and the detailed picture behind that (round trips,
//! queue depths, workers, pool, disk, version, uptime).
//!
//! Every probe is bounded by `HEALTH_CHECK_TIMEOUT_MS`, and the probes run concurrently, so an
//! outage makes the answer say so promptly instead of hanging a load balancer's check.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use code4me_shared::jobs::Job;
use code4me_shared::jobs::index::IndexJob;
use code4me_shared::jobs::llm::LlmJob;
use code4me_shared::jobs::telemetry::DbJob;
use code4me_shared::queue;
use code4me_shared::redis_keys::WorkerModelsValue;

use crate::contract::health::{
    Check, Component, Components, DefaultModel, DetailedHealth, DiskReport, Outcome, PoolReport, QueueReport, Readiness, ReadinessChecks,
    ReadyStatus, Verdict, WorkerReport,
};
use crate::db;
use crate::services::state::AppState;
use crate::services::{models, user_config};

/// The config row whose default completion model readiness waits for: the one every new account
/// gets (`admin`, `google_sign_in`) and the seed's row 1.
pub const DEFAULT_CONFIG_ID: i64 = 1;

/// How long the default model, read from the default config, is reused: readiness is polled every
/// few seconds, and each read is a HOCON parse on the blocking pool.
const DEFAULT_MODEL_FOR: Duration = Duration::from_secs(30);

/// The queues whose depths are reported, one per kind of job.
const QUEUES: [&str; 3] = [LlmJob::QUEUE, DbJob::QUEUE, IndexJob::QUEUE];

/// Runs `probe` under the health-check timeout; its round trip, or why it failed.
async fn timed<T, E: std::fmt::Display>(timeout: Duration, probe: impl Future<Output = Result<T, E>>) -> Result<(T, Duration), String> {
    let start = Instant::now();
    match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(value)) => Ok((value, start.elapsed())),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// `SELECT 1` on the pool.
async fn probe_postgres(state: &AppState) -> Result<Duration, String> {
    timed(state.settings.health_check_timeout, db::ping(&state.db)).await.map(|((), rtt)| rtt)
}

/// `PING` on the shared Redis connection.
async fn probe_redis(state: &AppState) -> Result<Duration, String> {
    let mut redis = state.redis.clone();
    let ping = async move { redis::cmd("PING").query_async::<String>(&mut redis).await };
    timed(state.settings.health_check_timeout, ping).await.map(|(_, rtt)| rtt)
}

/// The live workers' announcements.
async fn workers(state: &AppState) -> Result<Vec<WorkerModelsValue>, String> {
    let read = async { models::announcements(state).await.map_err(|e| e.to_string()) };
    timed(state.settings.health_check_timeout, read).await.map(|(workers, _)| workers)
}

/// The default completion model a config names: the first `config.models.available` entry (the
/// plugin's model menu) that is not a chat model (`isChatModel`) and is marked `isDefault`.
fn default_completion_model(config: &hocon::Config) -> Result<DefaultModel, String> {
    let entries =
        config.get_list("config.models.available").map_err(|e| format!("config {DEFAULT_CONFIG_ID} has no readable config.models.available: {e}"))?;
    entries
        .iter()
        .filter_map(hocon::HoconValue::as_object)
        .find(|entry| {
            let flag = |key: &str| entry.get(key).and_then(hocon::HoconValue::as_bool).unwrap_or(false);
            flag("isDefault") && !flag("isChatModel")
        })
        .and_then(|entry| {
            let model_id = entry.get("id").and_then(hocon::HoconValue::as_i64)?;
            let name = entry.get("name").and_then(hocon::HoconValue::as_str).unwrap_or_default().to_owned();
            Some(DefaultModel { model_id, name })
        })
        .ok_or_else(|| format!("config {DEFAULT_CONFIG_ID} names no default completion model (isDefault = true, isChatModel = false, with an id)"))
}

/// The default completion model, from the default config, cached for [`DEFAULT_MODEL_FOR`]. While
/// PostgreSQL cannot be read the last known one is used.
async fn default_model(state: &AppState) -> Result<DefaultModel, String> {
    let cached = state.health.default_model.lock().expect("default model lock").clone();
    if let Some((read_at, model)) = &cached
        && read_at.elapsed() < DEFAULT_MODEL_FOR
    {
        return Ok(model.clone());
    }
    let read = async {
        let text = db::users::config_data(&state.db, DEFAULT_CONFIG_ID)
            .await
            .map_err(|e| format!("reading config {DEFAULT_CONFIG_ID}: {e}"))?
            .ok_or_else(|| format!("config {DEFAULT_CONFIG_ID} does not exist"))?;
        let config = user_config::document::parse(text).await.map_err(|e| format!("config {DEFAULT_CONFIG_ID} is invalid: {e}"))?;
        default_completion_model(&config)
    };
    match timed(state.settings.health_check_timeout, read).await {
        Ok((model, _)) => {
            *state.health.default_model.lock().expect("default model lock") = Some((Instant::now(), model.clone()));
            Ok(model)
        }
        Err(error) => cached.map(|(_, model)| model).ok_or(error),
    }
}

/// Whether some worker serves `model`.
fn worker_check(model: &Result<DefaultModel, String>, workers: &Result<Vec<WorkerModelsValue>, String>) -> Check {
    let model = match model {
        Ok(model) => model,
        Err(error) => return Check::failed(format!("the default completion model is unknown: {error}")),
    };
    match workers {
        Err(error) => Check::failed(format!("the workers cannot be read from Redis: {error}")),
        Ok(workers) if workers.iter().any(|w| w.loaded.contains(&model.model_id)) => Check::ok(),
        Ok(workers) => Check::failed(format!(
            "no live worker serves the default completion model {} ({}); {} worker(s) announced",
            model.model_id,
            model.name,
            workers.len()
        )),
    }
}

/// A probe's outcome as a check.
fn as_check(probe: &Result<Duration, String>) -> Check {
    probe.as_ref().map_or_else(|error| Check::failed(error.clone()), |_| Check::ok())
}

/// Whether this instance can serve: PostgreSQL and Redis answer, and a live worker serves the
/// default completion model.
pub async fn readiness(state: &AppState) -> Readiness {
    let (postgres, redis, model, workers) = tokio::join!(probe_postgres(state), probe_redis(state), default_model(state), workers(state));
    let checks = ReadinessChecks { postgres: as_check(&postgres), redis: as_check(&redis), worker: worker_check(&model, &workers) };
    let ready = checks.postgres.passed() && checks.redis.passed() && checks.worker.passed();
    if !ready {
        tracing::warn!(?checks, "not ready");
    }
    Readiness { status: if ready { ReadyStatus::Ready } else { ReadyStatus::NotReady }, checks }
}

/// The detailed report. Never fails: what cannot be read is listed in `problems`.
pub async fn detailed(state: &AppState) -> DetailedHealth {
    let queues = async {
        let mut redis = state.redis.clone();
        let read = async move {
            let mut reports = Vec::new();
            for name in QUEUES {
                let depth = queue::depth(&mut redis, name).await?;
                reports.push(QueueReport {
                    queue: name.to_owned(),
                    waiting: depth.waiting,
                    delayed: depth.delayed,
                    running: depth.running,
                    dead: depth.dead,
                });
            }
            Ok::<_, redis::RedisError>(reports)
        };
        timed(state.settings.health_check_timeout, read).await.map(|(reports, _)| reports)
    };
    let (postgres, redis, model, workers, queues, disk) =
        tokio::join!(probe_postgres(state), probe_redis(state), default_model(state), workers(state), queues, disk(&state.settings.health.data_dir));

    let mut problems = Vec::new();
    let component = |name: &str, probe: Result<Duration, String>, problems: &mut Vec<String>| match probe {
        Ok(rtt) => Component { status: Outcome::Ok, round_trip_ms: Some(rtt.as_secs_f64() * 1000.0), error: None },
        Err(error) => {
            problems.push(format!("{name}: {error}"));
            Component { status: Outcome::Error, round_trip_ms: None, error: Some(error) }
        }
    };
    let components = Components { postgres: component("postgres", postgres, &mut problems), redis: component("redis", redis, &mut problems) };
    if let Some(reason) = worker_check(&model, &workers).reason {
        problems.push(format!("worker: {reason}"));
    }
    let queues = queues.unwrap_or_else(|error| {
        problems.push(format!("queues: {error}"));
        Vec::new()
    });
    let disk = disk.map_err(|error| problems.push(format!("disk: {error}"))).ok();
    let now = Utc::now();
    let workers = workers
        .unwrap_or_default()
        .into_iter()
        .map(|w| WorkerReport {
            heartbeat_age_seconds: w.heartbeat_at.map(|at| (now - at).as_seconds_f64().max(0.0)),
            last_heartbeat: w.heartbeat_at,
            worker_id: w.worker_id,
            models: w.loaded,
            unavailable: w.unavailable,
        })
        .collect();
    let (size, idle) = (state.db.size(), u32::try_from(state.db.num_idle()).unwrap_or(u32::MAX));
    DetailedHealth {
        status: if problems.is_empty() { Verdict::Ok } else { Verdict::Degraded },
        problems,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: state.health.started_at,
        uptime_seconds: state.health.started.elapsed().as_secs(),
        components,
        queues,
        workers,
        default_completion_model: model.ok(),
        database_pool: PoolReport { size, idle, in_use: size.saturating_sub(idle), max: state.settings.database.pool_size },
        disk,
    }
}

/// Free and total space of the file system holding `dir` (`statvfs` on a blocking thread: a hung
/// network mount must not stall the executor).
async fn disk(dir: &Path) -> Result<DiskReport, String> {
    let path = dir.to_path_buf();
    let stat = tokio::task::spawn_blocking(move || nix::sys::statvfs::statvfs(&path))
        .await
        .map_err(|e| format!("the statvfs thread failed: {e}"))?
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let fragment = stat.fragment_size();
    Ok(DiskReport {
        path: dir.display().to_string(),
        free_bytes: stat.blocks_available().saturating_mul(fragment),
        total_bytes: stat.blocks().saturating_mul(fragment),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_of(text: &str) -> Result<DefaultModel, String> {
        default_completion_model(&user_config::document::parse_blocking(text).expect("valid HOCON"))
    }

    #[test]
    fn the_default_completion_model_is_the_default_entry_that_is_not_a_chat_model() {
        let text = r#"config { models { available = [
            { id = 3, name = "chat", isChatModel = true, isDefault = true },
            { id = 1, name = "other", isChatModel = false, isDefault = false },
            { id = 5, name = "SmolLM2", isChatModel = false, isDefault = true }
        ] } }"#;
        let model = model_of(text).expect("found");
        assert_eq!((model.model_id, model.name.as_str()), (5, "SmolLM2"));
    }

    #[test]
    fn a_config_without_one_says_so() {
        let none = model_of(r#"config { models { available = [{ id = 3, name = "chat", isChatModel = true, isDefault = true }] } }"#);
        assert!(none.expect_err("none").contains("names no default completion model"));
        assert!(model_of("config { retrieval { enabled = false } }").expect_err("no list").contains("config.models.available"));
    }

    #[test]
    fn the_seed_config_names_smollm2() {
        let seed = include_str!("../../../migrations/20261122000002_seed_reference_data.sql");
        let start = seed.find("VALUES (1, '").expect("row 1") + "VALUES (1, '".len();
        let end = start + seed[start..].find("\n');").expect("end of row 1");
        let model = model_of(&seed[start..end].replace("''", "'")).expect("the seed names one");
        assert_eq!(model.model_id, 5);
    }

    #[test]
    fn the_worker_check_needs_a_worker_with_the_model_loaded() {
        let model = Ok(DefaultModel { model_id: 5, name: "m".into() });
        let worker = |loaded: Vec<i64>| WorkerModelsValue { worker_id: "w".into(), loaded, ..Default::default() };
        assert!(worker_check(&model, &Ok(vec![worker(vec![1]), worker(vec![5])])).passed());
        assert!(!worker_check(&model, &Ok(vec![worker(vec![1])])).passed());
        assert!(!worker_check(&model, &Ok(vec![])).passed());
        assert!(!worker_check(&model, &Err("down".into())).passed());
        assert!(!worker_check(&Err("no config".into()), &Ok(vec![worker(vec![5])])).passed());
    }
}
