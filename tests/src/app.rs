//! [`TestApp`]: the real server (and optionally the real worker) on port 0, with a fresh database
//! and a private Redis.

use std::path::PathBuf;
use std::time::Duration;

use code4me_server::startup;
use code4me_shared::settings::{DatabaseSettings, EnvSource, ServerSettings, WorkerSettings};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::postgres::cluster;
use crate::redis_server::RedisServer;

/// A running server under test, with handles to everything behind it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the server.
    pub address: String,
    /// HTTP client for the server (no redirects followed, so 3xx can be asserted).
    pub client: reqwest::Client,
    /// The test's own Redis; `stop()`/`restart()` it to simulate outages.
    pub redis: RedisServer,
    /// The test's own database.
    pub database: DatabaseSettings,
    /// Pool on the test's database, for assertions on stored rows.
    pub db: PgPool,
    /// Environment the server was built from (reuse it to start a worker against the same stack).
    pub env: EnvSource,
    /// Directory served as the built website.
    pub website_dir: PathBuf,
    _website: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Starts a server on a migrated database cloned from the template and a private Redis.
    pub async fn spawn() -> Self {
        let database = cluster().fresh_database().await;
        Self::spawn_on(database).await
    }

    /// Starts a server on the given database (which it migrates, like production start-up).
    pub async fn spawn_on(database: DatabaseSettings) -> Self {
        let redis = RedisServer::start();
        let website = tempfile::Builder::new().prefix("c4m-test-site-").tempdir().expect("website dir");
        std::fs::write(website.path().join("index.html"), "<!doctype html><title>Code4me-RS test site</title><div id=root></div>")
            .expect("write index.html");
        let env = EnvSource::from_pairs([
            ("SERVER_HOST", "127.0.0.1".to_owned()),
            ("SERVER_PORT", "0".to_owned()),
            ("DB_HOST", database.host.clone()),
            ("DB_PORT", database.port.to_string()),
            ("DB_USER", database.user.clone()),
            ("DB_PASSWORD", database.expose_password().to_owned()),
            ("DB_NAME", database.name.clone()),
            ("DB_POOL_SIZE", "5".to_owned()),
            ("DB_POOL_TIMEOUT", "2".to_owned()),
            ("REDIS_HOST", "127.0.0.1".to_owned()),
            ("REDIS_PORT", redis.port().to_string()),
            ("HEALTH_CHECK_TIMEOUT_MS", "500".to_owned()),
            ("STARTUP_CONNECT_TIMEOUT_SECONDS", "10".to_owned()),
            ("SHUTDOWN_GRACE_SECONDS", "2".to_owned()),
            ("WEBSITE_DIST_DIR", website.path().display().to_string()),
        ]);
        let settings = ServerSettings::from_env(&env).expect("test settings are valid");
        let state = startup::build_state(settings).await.expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().expect("bound address"));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(startup::run(listener, state, async {
            let _ = shutdown_rx.await;
        }));
        let db = code4me_shared::connect::lazy_pool(&database);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            address,
            client,
            redis,
            database,
            db,
            env,
            website_dir: website.path().to_path_buf(),
            _website: website,
            shutdown: Some(shutdown_tx),
            server: Some(server),
        }
    }

    /// Worker settings pointing at this app's database and Redis.
    pub fn worker_settings(&self) -> WorkerSettings {
        WorkerSettings::from_env(&self.env).expect("worker settings are valid")
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET request")
    }

    /// `HEAD path`.
    pub async fn head(&self, path: &str) -> reqwest::Response {
        self.client.head(self.url(path)).send().await.expect("HEAD request")
    }

    /// Stops the server gracefully and waits for it to return.
    pub async fn stop(mut self) {
        self.shutdown_server().await;
    }

    async fn shutdown_server(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server returned cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
