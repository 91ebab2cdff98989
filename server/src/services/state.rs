//! The handles every service works with (and handlers reach through axum's `State`): the pools,
//! the token store, the queues, the caches, the mailer and the settings.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use code4me_shared::settings::ServerSettings;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::contract::health::DefaultModel;
use crate::pipeline::Pipeline;
use crate::services::auth::github::GitHubApi;
use crate::services::auth::oidc::OidcVerifier;
use crate::services::auth::password::PasswordHasher;
use crate::services::mail::Mailer;
use crate::services::tokens::TokenStore;

/// Handles to the server's dependencies, shared by every request: a clone is one reference count
/// (every middleware and handler takes its own, so a per-field clone would cost dozens per request).
#[derive(Clone)]
pub struct AppState(Arc<Handles>);

impl AppState {
    /// The state over these handles.
    pub fn new(handles: Handles) -> Self {
        Self(Arc::new(handles))
    }
}

impl std::ops::Deref for AppState {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Handles {
    /// PostgreSQL pool: users, projects, telemetry reads.
    pub db: PgPool,
    /// Multiplexed Redis connection that reconnects by itself after Redis restarts.
    pub redis: ConnectionManager,
    /// Auth tokens, sessions and active projects (in Redis).
    pub tokens: TokenStore,
    /// argon2id hashing on blocking threads.
    pub passwords: PasswordHasher,
    /// Verification and reset mails.
    pub mailer: Arc<dyn Mailer>,
    /// Google ID-token verification; `None` when Google sign-in is not configured.
    pub google: Option<OidcVerifier>,
    /// GitHub sign-in; `None` when not configured.
    pub github: Option<GitHubApi>,
    /// Microsoft ID-token verification; `None` when Microsoft sign-in is not configured.
    pub microsoft: Option<OidcVerifier>,
    /// Settings the server was started with.
    pub settings: Arc<ServerSettings>,
    /// The queues and this instance's reply channel.
    pub pipeline: Pipeline,
    /// Ids telemetry may point at, cached.
    pub reference: crate::services::reference::ReferenceIds,
    /// Per-user retrieval settings from their config rows, cached.
    pub user_configs: crate::services::user_config::UserConfigs,
    /// The account views `GET /api/user/get` serves, cached until a user or config changes.
    pub profiles: crate::services::profile_cache::ProfileCache,
    /// The web editor's collaboration rooms open on this server.
    pub rooms: crate::services::rooms::Rooms,
    /// Where metered requests leave their usage records.
    pub usage: crate::services::usage_sink::UsageSink,
    /// Renders the process-wide Prometheus registry for `/metrics`.
    pub metrics: PrometheusHandle,
    /// Uptime and the default-model cache of the operators' health endpoints.
    pub health: HealthState,
    /// The model rows and what the live workers serve, for the open APIs.
    pub models: crate::services::model_directory::ModelDirectory,
    /// The open APIs' provider chain.
    pub providers: Arc<crate::services::providers::Providers>,
    /// The suggestion API's answers (Redis) and the flights of identical requests on this server.
    pub suggestion_cache: crate::services::suggestion_cache::SuggestionCache,
}

/// What the health endpoints keep between requests (`services::health`): the process's start and
/// the default completion model last read; one per server instance, cheap to clone.
#[derive(Clone)]
pub struct HealthState {
    /// When the process started, for uptime (monotonic) ...
    pub(crate) started: Instant,
    /// ... and as a wall-clock time for the report.
    pub(crate) started_at: DateTime<Utc>,
    /// The default model and when it was read; `None` until the first successful read.
    pub(crate) default_model: Arc<Mutex<Option<(Instant, DefaultModel)>>>,
}

impl HealthState {
    /// Starts the uptime clock now.
    pub fn starting_now() -> Self {
        Self { started: Instant::now(), started_at: Utc::now(), default_model: Arc::default() }
    }
}
