//! [`TestApp`]: the real server (and optionally the real worker) on port 0, with a fresh database,
//! a private Redis, a local SMTP server and local sign-in providers (Google, GitHub, Microsoft).
//!
//! Queues: [`TestApp::drain_queues`] waits until every job pushed so far has run, and dropping a
//! `TestApp` fails the test if a job ended in an apalis dead set, unless the test declared it with
//! [`TestApp::expect_dead_jobs`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use code4me_server::startup;
use code4me_shared::settings::{DatabaseSettings, EnvSource, ServerSettings, WorkerSettings};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::github::GitHub;
use crate::oidc::{self, Provider};
use crate::plugin::Plugin;
use crate::postgres::cluster;
use crate::queues::{self, QueueState};
use crate::redis_server::RedisServer;
use crate::smtp::MailSink;
use crate::wait::poll;

/// How long [`TestApp::drain_queues`] waits: generous, since a loaded machine runs several tests'
/// generations on few cores.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(90);

/// How to start a [`TestApp`].
#[derive(Default)]
pub struct Options {
    /// Extra or overriding environment for the server.
    pub env: Vec<(String, String)>,
    /// Start Redis without expired-key notifications (to test the lazy sweep).
    pub without_keyspace_notifications: bool,
}

impl Options {
    /// Adds `key=value` to the server's environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// One running server instance.
pub struct ServerHandle {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    async fn start(env: &EnvSource) -> Self {
        let settings = ServerSettings::from_env(env).expect("test settings are valid");
        let state = startup::build_state(settings).await.expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().expect("bound address"));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(startup::run(listener, state, async {
            let _ = shutdown_rx.await;
        }));
        Self { address, shutdown: Some(shutdown_tx), task: Some(task) }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server returned cleanly");
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A running server under test, with handles to everything behind it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the server.
    pub address: String,
    /// HTTP client (no redirects followed, so 3xx can be asserted; no cookie store).
    pub client: reqwest::Client,
    /// The test's own Redis; `stop()`/`restart()` it to simulate outages.
    pub redis: RedisServer,
    /// The test's own database.
    pub database: DatabaseSettings,
    /// Pool on the test's database, for assertions on stored rows.
    pub db: PgPool,
    /// Environment the server was built from (reuse it to start more servers or a worker).
    pub env: EnvSource,
    /// Directory served as the built website.
    pub website_dir: PathBuf,
    /// Mails the server sent.
    pub mail: MailSink,
    /// The OpenID provider standing in for Google.
    pub oidc: Provider,
    /// The stand-in for GitHub's OAuth app and user API.
    pub github: GitHub,
    /// The OpenID provider standing in for Microsoft's `common` tenant.
    pub microsoft: Provider,
    _website: tempfile::TempDir,
    server: Option<ServerHandle>,
    /// Dead jobs the test declared ([`TestApp::expect_dead_jobs`]); any other count fails it at drop.
    expected_dead_jobs: AtomicU64,
}

impl TestApp {
    /// Starts a server on a migrated database cloned from the template.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// Starts a server with options.
    pub async fn spawn_with(options: Options) -> Self {
        let database = cluster().fresh_database().await;
        Self::start(database, options).await
    }

    /// Starts a server on the given database (which it migrates, like production start-up).
    pub async fn spawn_on(database: DatabaseSettings) -> Self {
        Self::start(database, Options::default()).await
    }

    async fn start(database: DatabaseSettings, options: Options) -> Self {
        let redis = RedisServer::start_with(!options.without_keyspace_notifications);
        let mail = MailSink::start().await;
        let oidc = Provider::start().await;
        let github = GitHub::start().await;
        let microsoft = Provider::start_microsoft().await;
        let website = tempfile::Builder::new().prefix("c4m-test-site-").tempdir().expect("website dir");
        std::fs::write(website.path().join("index.html"), "<!doctype html><title>Code4me-RS test site</title><div id=root></div>")
            .expect("write index.html");
        let mut env = EnvSource::from_pairs([
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
            // Cheap hashes keep tests fast; production uses argon2's recommended cost.
            ("PASSWORD_HASH_MEMORY_KIB", "256".to_owned()),
            ("PASSWORD_HASH_ITERATIONS", "1".to_owned()),
            ("EMAIL_HOST", "127.0.0.1".to_owned()),
            ("EMAIL_PORT", mail.port().to_string()),
            ("EMAIL_TLS", "none".to_owned()),
            ("PUBLIC_URL", "http://c4m.test".to_owned()),
            ("GOOGLE_CLIENT_ID", oidc::CLIENT_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", "test-secret".to_owned()),
            ("GOOGLE_ISSUER_URL", oidc.issuer.clone()),
            ("MICROSOFT_CLIENT_ID", oidc::MICROSOFT_CLIENT_ID.to_owned()),
            ("MICROSOFT_CLIENT_SECRET", oidc::MICROSOFT_CLIENT_SECRET.to_owned()),
            ("MICROSOFT_AUTHORITY", microsoft.issuer.clone()),
            ("EXPIRY_SWEEP_SECONDS", "3600".to_owned()),
            // The weights ./test.sh provisions; one model thread keeps parallel tests from oversubscribing.
            ("MODEL_CACHE_DIR", crate::process::repo_root().join("data/models").display().to_string()),
            ("MODEL_THREADS", "1".to_owned()),
        ]);
        for (key, value) in github.env() {
            env = env.with(key, value);
        }
        for (key, value) in options.env {
            env = env.with(key, value);
        }
        let server = ServerHandle::start(&env).await;
        let db = code4me_shared::connect::lazy_pool(&database);
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(30)).build().expect("http client");
        Self {
            address: server.address.clone(),
            client,
            redis,
            database,
            db,
            env,
            website_dir: website.path().to_path_buf(),
            mail,
            oidc,
            github,
            microsoft,
            _website: website,
            server: Some(server),
            expected_dead_jobs: AtomicU64::new(0),
        }
    }

    /// Another server instance on the same database and Redis (what a second replica sees).
    pub async fn start_another_server(&self) -> ServerHandle {
        ServerHandle::start(&self.env).await
    }

    /// Worker settings pointing at this app's database and Redis.
    pub fn worker_settings(&self) -> WorkerSettings {
        WorkerSettings::from_env(&self.env).expect("worker settings are valid")
    }

    /// A client that behaves like the JetBrains plugin against this server.
    pub fn plugin(&self) -> Plugin {
        Plugin::new(self.client.clone(), &self.address)
    }

    /// A plugin signed up and in as `email`, with a session and a fresh active project (its id).
    pub async fn signed_in(&self, email: &str) -> (Plugin, String) {
        let mut plugin = self.plugin();
        let project = plugin.signed_in_with_project(email, "Secret123").await;
        (plugin, project)
    }

    /// A user signed up (named "Researcher") and logged in, without a session or project; an admin
    /// when `admin`. Returns their client and id.
    pub async fn signed_up(&self, email: &str, admin: bool) -> (Plugin, uuid::Uuid) {
        let mut plugin = self.plugin();
        assert_eq!(plugin.sign_up(email, "Researcher", "Secret123").await.status, 201);
        let id: uuid::Uuid = sqlx::query_scalar("UPDATE \"user\" SET is_admin = $2 WHERE email = $1 RETURNING user_id")
            .bind(email)
            .bind(admin)
            .fetch_one(&self.db)
            .await
            .expect("user row");
        assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
        (plugin, id)
    }

    /// Polls `sql` (one boolean, `$1` bound to `bind`) until it is true, for up to 60 s; rows the
    /// workers write land asynchronously.
    pub async fn eventually(&self, sql: &'static str, bind: uuid::Uuid) {
        let check = async || sqlx::query_scalar::<_, bool>(sql).bind(bind).fetch_one(&self.db).await.expect("query").then_some(());
        if poll(Duration::from_secs(60), check).await.is_some() {
            return;
        }
        let rows: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM meta_query), (SELECT count(*) FROM had_generation), \
             (SELECT count(*) FROM deferred_feedback), (SELECT count(*) FROM retrieval_chunk)",
        )
        .fetch_one(&self.db)
        .await
        .expect("diagnostics");
        panic!("never true within 60 s: {sql} (meta_query, had_generation, deferred_feedback, retrieval_chunk rows: {rows:?})");
    }

    /// A connection to the test's Redis (for assertions on keys and queues).
    pub async fn redis_connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/0", self.redis.port())).expect("Redis URL");
        client.get_multiplexed_async_connection().await.expect("connect to the test's Redis")
    }

    /// Waits until no queue has a job waiting, retrying or running: every job pushed so far has
    /// run and been acknowledged (a `db` job only after its rows were committed). Needs a running
    /// worker; panics with every queue's state after 90 s.
    pub async fn drain_queues(&self) {
        let mut redis = self.redis_connection().await;
        let mut last: Vec<(String, QueueState)> = Vec::new();
        let drained = poll(DRAIN_TIMEOUT, async || {
            last = queues::states(&mut redis).await.expect("read the queues");
            last.iter().all(|(_, state)| state.is_idle()).then_some(())
        })
        .await;
        assert!(drained.is_some(), "the queues did not drain within {DRAIN_TIMEOUT:?} (is a worker running?): {last:?}");
    }

    /// Declares that `count` jobs end in the apalis dead sets during this test (all queues
    /// together); without it, any dead job fails the test when the `TestApp` is dropped.
    pub fn expect_dead_jobs(&self, count: u64) {
        self.expected_dead_jobs.store(count, Ordering::Relaxed);
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
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Stops the server and starts a new one on the same database and Redis (a restart/deploy);
    /// the address changes.
    pub async fn restart_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let server = ServerHandle::start(&self.env).await;
        self.address = server.address.clone();
        self.server = Some(server);
    }
}

impl Drop for TestApp {
    /// The teardown check: a job in a dead set means a handler aborted (an unreadable payload, a
    /// write PostgreSQL refused) and its data is lost, which no test expects unless it says so.
    /// Skipped when the test already failed, or stopped Redis and left it stopped.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Some(dead) = queues::dead_jobs_blocking(self.redis.port()) else { return };
        let total: u64 = dead.iter().map(|(_, n)| n).sum();
        let expected = self.expected_dead_jobs.load(Ordering::Relaxed);
        assert_eq!(
            total, expected,
            "jobs in the apalis dead sets by queue: {dead:?}; a test that expects dead jobs declares them with app.expect_dead_jobs(n)"
        );
    }
}
