//! Building the server from settings, and running it until a shutdown signal.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use code4me_shared::connect;
use code4me_shared::settings::ServerSettings;
use tokio::net::TcpListener;

use crate::http::metrics as http_metrics;
use crate::router;
use crate::services::auth::github::GitHubApi;
use crate::services::auth::oidc::OidcVerifier;
use crate::services::auth::password::PasswordHasher;
use crate::services::model_directory::ModelDirectory;
use crate::services::providers::Providers;
use crate::services::state::{AppState, Handles};
use crate::services::tokens::TokenStore;
use crate::services::{admin, expiry, mail, profile_cache};

/// Connects to PostgreSQL and Redis (retrying while they start), applies pending migrations and
/// returns the state handlers share.
pub async fn build_state(settings: ServerSettings) -> anyhow::Result<AppState> {
    let db = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
    connect::MIGRATOR.run(&db).await.context("applying database migrations")?;
    let redis = connect::connect_redis(&settings.redis, settings.startup_connect_timeout).await?;
    let passwords = PasswordHasher::new(settings.password_hash)?;
    let http = oauth2::reqwest::Client::builder()
        // The OAuth/OpenID calls must never follow redirects (SSRF; see the oauth2 crate docs).
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .context("HTTP client")?;
    if let Some((email, password)) = &settings.admin_bootstrap {
        use secrecy::ExposeSecret;
        let outcome = admin::ensure_admin(&db, &passwords, email, "admin", password.expose_secret()).await.context("ADMIN_EMAIL bootstrap")?;
        tracing::info!(?outcome, "admin account ready");
    }
    let pubsub_client = redis::Client::open(settings.redis.url()).context("invalid REDIS_* settings")?;
    let pipeline = crate::pipeline::Pipeline::start(redis.clone(), pubsub_client);
    // The provider chain's client: no overall timeout (a stream may run for minutes; each
    // provider's own timeout bounds the silence), no redirects (a provider's URL is configured).
    let provider_http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .context("HTTP client for providers")?;
    let models = ModelDirectory::new(db.clone(), redis.clone());
    let providers = Arc::new(Providers::new(&settings.open_api, pipeline.clone(), models.clone(), provider_http));
    Ok(AppState::new(Handles {
        suggestion_cache: crate::services::suggestion_cache::SuggestionCache::new(redis.clone()),
        models,
        providers,
        usage: crate::services::usage_sink::UsageSink::start(pipeline.clone()),
        pipeline,
        reference: crate::services::reference::ReferenceIds::default(),
        user_configs: crate::services::user_config::UserConfigs::default(),
        profiles: crate::services::profile_cache::ProfileCache::default(),
        rooms: crate::services::rooms::Rooms::new(db.clone(), crate::pipeline::room_relay::RoomRelay::new(redis.clone())),
        tokens: TokenStore::new(redis.clone(), db.clone(), settings.tokens.clone()),
        mailer: mail::from_settings(&settings.email)?,
        google: OidcVerifier::google(&settings.google, http.clone()),
        microsoft: OidcVerifier::microsoft(&settings.microsoft, http.clone()),
        github: GitHubApi::from_settings(&settings.github, http),
        db,
        redis,
        passwords,
        settings: Arc::new(settings),
        metrics: http_metrics::recorder(),
        health: crate::services::state::HealthState::starting_now(),
    }))
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets in-flight requests
/// finish for up to `SHUTDOWN_GRACE_SECONDS`, and returns.
pub async fn run(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let grace = state.settings.shutdown_grace;
    // Background duties of every server instance; they stop with it.
    let listener_task = tokio::spawn(expiry::listen(state.clone()));
    let sweep_task = tokio::spawn(expiry::sweep_periodically(state.clone(), state.settings.expiry_sweep_interval));
    let changes_task = tokio::spawn(profile_cache::follow_changes(state.db.clone(), state.profiles.clone(), state.user_configs.clone()));
    let rooms_task = match redis::Client::open(state.settings.redis.url()) {
        Ok(client) => tokio::spawn(crate::services::rooms::follow_other_servers(client, state.rooms.clone())),
        Err(error) => {
            tracing::warn!(%error, "editor rooms will not span servers: invalid REDIS_* settings");
            tokio::spawn(async {})
        }
    };
    let _stop_background = AbortOnDrop(vec![listener_task, sweep_task, changes_task, rooms_task]);
    let (state_limits, trusted_proxies) = (state.settings.connections, state.settings.rate_limits.trusted_proxies.clone());
    let app = router::build(state);
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = signalled_tx.send(());
    };
    let limits = state_limits;
    let server = crate::http::serve::serve(listener, app, limits, trusted_proxies, signal);
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

/// Aborts background tasks when the server returns (or its future is dropped).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
