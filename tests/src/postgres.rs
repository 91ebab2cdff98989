//! One private PostgreSQL cluster per test process, with a migrated template database.
//!
//! The binaries come from `C4M_PG_BINDIR` (set by `./test.sh`), else the bundle `./test.sh` unpacks
//! into `data/pgserver`, else the system's when it has pgvector. As root, the cluster runs as the
//! unprivileged `C4M_PG_OS_USER` (default `code4me`, else `nobody`): PostgreSQL refuses root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use code4me_shared::connect::{MIGRATOR, connect_postgres};
use code4me_shared::settings::{DatabaseSettings, EnvSource};
use nix::sys::signal::Signal;
use nix::unistd::{Uid, User};
use sqlx::{Connection, PgConnection};

use crate::process::{die_with_parent, free_port, repo_root};
use crate::wait::wait_for;

/// Name of the migrated database every test database is cloned from.
pub const TEMPLATE_DB: &str = "c4m_template";

/// The running cluster of this test process.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Superuser (trust authentication on loopback).
    pub user: String,
    /// Directory holding the cluster's data and socket.
    pub dir: PathBuf,
}

impl Cluster {
    /// Settings pointing at database `name` of this cluster.
    pub fn settings(&self, name: &str) -> DatabaseSettings {
        let env = EnvSource::from_pairs([
            ("DB_HOST", "127.0.0.1".to_owned()),
            ("DB_PORT", self.port.to_string()),
            ("DB_USER", self.user.clone()),
            ("DB_PASSWORD", String::new()),
            ("DB_NAME", name.to_owned()),
            ("DB_POOL_SIZE", "5".to_owned()),
            ("DB_POOL_TIMEOUT", "2".to_owned()),
        ]);
        DatabaseSettings::from_env(&env).expect("harness settings are valid")
    }

    /// Creates an empty database (no schema) and returns its settings.
    pub async fn empty_database(&self) -> DatabaseSettings {
        self.create_database("").await
    }

    /// Creates a database cloned from the migrated template and returns its settings.
    pub async fn fresh_database(&self) -> DatabaseSettings {
        self.create_database(&format!("TEMPLATE {TEMPLATE_DB}")).await
    }

    async fn create_database(&self, clause: &str) -> DatabaseSettings {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = self.admin_connection().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\" {clause}"))).execute(&mut admin).await.expect("create a test database");
        self.settings(&name)
    }

    /// The last `lines` lines of the cluster's server log, for failure messages: a connection that
    /// ends with an unexpected EOF means a backend died, and only the log says why.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        format!("--- postgres.log (last {lines} lines) ---\n{}", all[all.len().saturating_sub(lines)..].join("\n"))
    }

    async fn admin_connection(&self) -> PgConnection {
        PgConnection::connect_with(&code4me_shared::connect::connect_options(&self.settings("postgres"))).await.expect("connect to the test cluster")
    }
}

/// The cluster, started on first use. It is started from a thread that lives as long as the test
/// process, because the parent-death signal fires when the *spawning thread* exits.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("postgres-owner".into())
            .spawn(move || {
                let started = std::panic::catch_unwind(start_cluster);
                let ok = started.is_ok();
                let _ = tx.send(started);
                if ok {
                    loop {
                        std::thread::park();
                    }
                }
            })
            .expect("spawn the postgres owner thread");
        match rx.recv().expect("postgres owner thread reports") {
            Ok(cluster) => cluster,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn start_cluster() -> Cluster {
    let bindir = postgres_bindir();
    let dir = tempfile::Builder::new().prefix("c4m-test-pg-").tempdir().expect("temp dir").keep();
    let os_user = database_os_user();
    if let Some(user) = &os_user {
        nix::unistd::chown(&dir, Some(user.uid), Some(user.gid)).expect("chown the cluster directory");
    }
    remove_when_process_exits(&dir);
    let data = dir.join("data");
    let user = "postgres".to_owned();

    let mut initdb = Command::new(bindir.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-U", &user, "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"]);
    run_as(&mut initdb, os_user.as_ref());
    let output = initdb.output().expect("run initdb");
    assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));

    let port = free_port();
    let mut postgres = Command::new(bindir.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
        .arg(&dir)
        // Durability is irrelevant for throw-away test data; speed is not.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "max_connections=300"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("postgres.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null()));
    run_as(&mut postgres, os_user.as_ref());
    die_with_parent(&mut postgres, Signal::SIGQUIT);
    // The owner thread keeps the handle for the life of the process; PostgreSQL exits with it.
    let child = postgres.spawn().expect("start postgres");
    std::mem::forget(child);

    let cluster = Cluster { port, user, dir };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let what = format!("postgres to start (see {}/postgres.log)", cluster.dir.display());
        let connection = wait_for(&what, Duration::from_secs(30), async || {
            PgConnection::connect_with(&code4me_shared::connect::connect_options(&cluster.settings("postgres"))).await.ok()
        })
        .await;
        connection.close().await.ok();
        let mut admin = cluster.admin_connection().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {TEMPLATE_DB}"))).execute(&mut admin).await.expect("create template");
        let pool = connect_postgres(&cluster.settings(TEMPLATE_DB), Duration::from_secs(10)).await.expect("connect to template");
        MIGRATOR.run(&pool).await.expect("migrate the template database");
        // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
        pool.close().await;
    });
    cluster
}

/// Where the PostgreSQL binaries with pgvector are.
fn postgres_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("C4M_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let data_dir = std::env::var("C4M_DATA_DIR").map_or_else(|_| repo_root().join("data"), PathBuf::from);
    let bundled = data_dir.join("pgserver/pgserver/pginstall/bin");
    if bundled.join("postgres").is_file() {
        return bundled;
    }
    if let Ok(out) = Command::new("pg_config").args(["--sharedir", "--bindir"]).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        if let (Some(share), Some(bin)) = (lines.next(), lines.next())
            && Path::new(share).join("extension/vector.control").is_file()
        {
            return PathBuf::from(bin);
        }
    }
    panic!("no PostgreSQL with pgvector found: run ./test.sh (it provisions one), or set C4M_PG_BINDIR");
}

/// The unprivileged user to run PostgreSQL as, when we are root.
fn database_os_user() -> Option<User> {
    if !Uid::effective().is_root() {
        return None;
    }
    let wanted = std::env::var("C4M_PG_OS_USER").unwrap_or_else(|_| "code4me".into());
    let user = User::from_name(&wanted).ok().flatten().or_else(|| User::from_name("nobody").ok().flatten());
    Some(user.expect("running as root needs an unprivileged user for PostgreSQL: run ./setup_data_dir.sh"))
}

fn run_as(command: &mut Command, user: Option<&User>) {
    use std::os::unix::process::CommandExt;
    if let Some(user) = user {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
}

/// Statics are never dropped, so the cluster's directory is removed by a small watcher process once
/// this test process (and with it PostgreSQL) is gone.
fn remove_when_process_exits(dir: &Path) {
    let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 1; done; sleep 2; rm -rf '{dir}'", pid = std::process::id(), dir = dir.display());
    let _ = Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
}
