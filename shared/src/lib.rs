//! Code shared by the Code4me-RS server and worker: settings, connections, and (with later work)
//! wire types, job payloads and the Redis key schema.
//!
//! Invariant: this crate depends on neither axum nor the server or worker crates; both processes
//! and the test harness build on it, never the other way round.

pub mod connect;
pub mod domain;
pub mod redis_keys;
pub mod logging;
pub mod settings;
pub mod shutdown;
pub mod validation;
