//! Building the server from settings, and running it until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt;
use axum::extract::Request;
use code4me_shared::settings::ServerSettings;
use tokio::net::TcpListener;

use crate::state::AppState;
use code4me_shared::connect;

use crate::{http_metrics, router};

/// Connects to PostgreSQL and Redis (retrying while they start), applies pending migrations and
/// returns the state handlers share.
pub async fn build_state(settings: ServerSettings) -> anyhow::Result<AppState> {
    let db = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
    connect::MIGRATOR.run(&db).await.context("applying database migrations")?;
    let redis = connect::connect_redis(&settings.redis, settings.startup_connect_timeout).await?;
    Ok(AppState { db, redis, settings: Arc::new(settings), metrics: http_metrics::recorder() })
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets in-flight requests
/// finish for up to `SHUTDOWN_GRACE_SECONDS`, and returns.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.settings.shutdown_grace;
    let app = router::build(state);
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = signalled_tx.send(());
    };
    let server = axum::serve(listener, ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app))
        .with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result,
        () = async {
            if signalled_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests still running after the grace period; closing them");
            Ok(())
        }
    }
}
