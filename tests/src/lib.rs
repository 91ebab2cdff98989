//! Test harness: real PostgreSQL (+pgvector), real Redis, and the real server and worker on port 0.
//!
//! One PostgreSQL cluster is started per test process, with a template database migrated once;
//! every [`TestApp`] gets its own database cloned from it (a file copy: milliseconds) and its own
//! Redis server, so tests run in parallel without seeing each other's data. Child processes die
//! with the test process (parent-death signal), so an aborted run leaves nothing behind.
//!
//! Tests never sleep to synchronise: [`worker::Worker::start`] returns once the worker consumes,
//! [`TestApp::drain_queues`] once every queued job has run, and [`wait`] polls for anything else.
//! Dropping a [`TestApp`] fails the test if a job ended in a dead set it did not expect.

pub mod app;
pub mod forge;
pub mod github;
pub mod oidc;
pub mod plugin;
pub mod postgres;
pub mod process;
pub mod queues;
pub mod redis_server;
pub mod smtp;
pub mod tcp_proxy;
pub mod wait;
pub mod worker;

pub use app::TestApp;
