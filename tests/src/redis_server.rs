//! A private `redis-server` per test, on its own port, that a test can stop and restart.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::{die_with_parent, free_port};

/// A running (or deliberately stopped) Redis server owned by one test.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    keyspace_notifications: bool,
}

impl RedisServer {
    /// Starts Redis on a free port with keyspace notifications on, as `run.sh` configures it.
    pub fn start() -> Self {
        Self::start_with(true)
    }

    /// Starts Redis with expired-key notifications on or off (a user's Redis may have them off).
    pub fn start_with(keyspace_notifications: bool) -> Self {
        let dir = tempfile::Builder::new().prefix("c4m-test-redis-").tempdir().expect("temp dir for Redis");
        let mut server = Self { port: free_port(), dir, child: None, keyspace_notifications };
        server.restart();
        server
    }

    /// The port Redis listens on (stable across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops Redis (the test simulates an outage); connections to it start failing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts Redis on the same port and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let binary = std::env::var("C4M_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(&binary);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--notify-keyspace-events", if self.keyspace_notifications { "Exg" } else { "" }, "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut command, Signal::SIGKILL);
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {binary} ({e}); run ./test.sh, which installs redis-server"));
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10));
    }

    /// Directory holding this server's files.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on port {port} after {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
