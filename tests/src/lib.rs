//! Test harness: real PostgreSQL (+pgvector), real Redis, and the real server and worker on port 0.
//!
//! One PostgreSQL cluster is started per test process, with a template database migrated once;
//! every [`TestApp`] gets its own database cloned from it (a file copy: milliseconds) and its own
//! Redis server, so tests run in parallel without seeing each other's data. Child processes die
//! with the test process (parent-death signal), so an aborted run leaves nothing behind.

pub mod app;
pub mod oidc;
pub mod plugin;
pub mod postgres;
pub mod process;
pub mod redis_server;
pub mod smtp;
pub mod tcp_proxy;
pub mod worker;

pub use app::TestApp;
