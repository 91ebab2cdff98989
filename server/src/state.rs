//! Shared state every request handler can reach.

use std::sync::Arc;

use code4me_shared::settings::ServerSettings;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

/// Handles to the server's dependencies; cheap to clone (everything inside is reference-counted).
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL pool: users, projects, telemetry reads.
    pub db: PgPool,
    /// Multiplexed Redis connection that reconnects by itself after Redis restarts.
    pub redis: ConnectionManager,
    /// Settings the server was started with.
    pub settings: Arc<ServerSettings>,
    /// Renders the process-wide Prometheus registry for `/metrics`.
    pub metrics: PrometheusHandle,
}
