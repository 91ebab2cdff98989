//! The worker's Prometheus endpoint (`WORKER_METRICS_ADDR`, e.g. `127.0.0.1:9187`; unset = none):
//! what only the worker sees — the agent's stage timings (`agent_stage_seconds{stage}`), its
//! providers' latency and failures (`agent_provider_seconds`, `agent_provider_failures_total`),
//! telemetry writes, consumer restarts. The server's `/metrics` covers requests.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Stage and provider buckets, 10 ms (validation) to 10 minutes (a slow model on a busy CPU).
const BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// Installs the recorder and serves `GET /metrics` on `address`; returns the bound address.
pub async fn serve(address: SocketAddr) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let handle = install()?;
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding WORKER_METRICS_ADDR {address}"))?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the worker's metrics endpoint stopped");
        }
    });
    tracing::info!(address = %bound, "worker metrics at /metrics");
    Ok((bound, task))
}

/// The process's recorder, installed once (a test process may start many workers).
fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Prefix("agent_".into()), BUCKETS)?.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Only in a process that embeds the worker beside something with its own recorder (the
        // test harness runs the server in-process): that recorder has the worker's metrics.
        tracing::warn!("a metrics recorder was already installed; this endpoint shows nothing");
    }
    let upkeep = handle.clone();
    std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        }
    })?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}
