//! The measuring side of `./bench.sh queue`: the queue round trip as the server sees it — push an
//! `llm` job, a worker takes it, publishes its answer, this process receives it — with a job that
//! does no model work (model id 0 names no model, so the worker answers at once). Jobs are sent
//! one at a time with an idle pause between them, the case the budget is about. The reference,
//! measured in the same run, is a bare Redis `PING` round trip on the same connection.
//!
//! Reads the `REDIS_*` settings from the environment (the bench stack exports them) and needs a
//! running worker. Prints one JSON line.

use std::time::{Duration, Instant};

use anyhow::Context;
use code4me_server::pipeline::Pipeline;
use code4me_shared::connect;
use code4me_shared::jobs::llm::{CompletionTask, LlmTask};
use code4me_shared::reply::Failure;
use code4me_shared::settings::{EnvSource, RedisSettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = EnvSource::from_process();
    let settings = RedisSettings::from_env(&env)?;
    let samples: usize = env.parse_or("BENCH_SAMPLES", 500)?;
    let idle = Duration::from_millis(env.parse_or("BENCH_IDLE_MS", 20)?);
    let mut redis = connect::connect_redis(&settings, Duration::from_secs(10)).await?;
    let pipeline = Pipeline::start(redis.clone(), redis::Client::open(settings.url()).context("REDIS_* settings")?);
    wait_for_worker(&mut redis).await?;

    let task = LlmTask::Completion(CompletionTask::default());
    let mut round_trips = Vec::with_capacity(samples);
    let mut pings = Vec::with_capacity(samples);
    for i in 0..samples + 20 {
        tokio::time::sleep(idle).await;
        let request_id = uuid::Uuid::new_v4();
        let started = Instant::now();
        let mut replies = pipeline.submit(request_id, &[0], &task, false, Duration::from_secs(10)).await?;
        let outcome = pipeline.gather(request_id, &mut replies, &[0], Duration::from_secs(10), |_, _, _| {}).await;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            matches!(outcome[0].result, Err(Failure::ModelUnavailable(_))),
            "expected the worker's 'no such model' answer, got {:?}",
            outcome[0].result
        );
        let ping_started = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut redis).await?;
        if i >= 20 {
            round_trips.push(elapsed);
            pings.push(ping_started.elapsed());
        }
    }
    let (p50, p90, p99) = (percentile(&mut round_trips, 50), percentile(&mut round_trips, 90), percentile(&mut round_trips, 99));
    let ping = percentile(&mut pings, 50);
    let line = serde_json::json!({
        "bench": "queue",
        "samples": samples,
        "idle_ms": idle.as_millis() as u64,
        "p50_ms": ms(p50),
        "p90_ms": ms(p90),
        "p99_ms": ms(p99),
        "redis_ping_p50_ms": ms(ping),
        "p50_in_pings": (p50.as_secs_f64() / ping.as_secs_f64() * 10.0).round() / 10.0,
        "target": {"p50_ms": 3.0, "p99_ms": 15.0},
    });
    println!("{line}");
    Ok(())
}

/// Waits (up to a minute) until some worker has announced itself.
async fn wait_for_worker(redis: &mut redis::aio::ConnectionManager) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS").arg("worker_models:*").query_async(redis).await?;
        if !keys.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "no worker announced itself within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}
