//! Code shared by the Code4me-RS server and worker: settings, connections, the Redis key schema,
//! secret redaction, the multi-file context algorithm, job payloads, the reply protocol, cancellation
//! and the queue configuration.
//!
//! Invariant: this crate depends on neither axum nor the server or worker crates; both processes
//! and the test harness build on it, never the other way round.

pub mod agent;
pub mod cancellation;
pub mod connect;
pub mod domain;
pub mod jobs;
pub mod logging;
pub mod multi_file;
pub mod providers;
pub mod pubsub;
pub mod queue;
pub mod redaction;
pub mod redis_keys;
pub mod reply;
pub mod retrieval;
pub mod settings;
pub mod shutdown;
pub mod survival;
pub mod telemetry_bounds;
pub mod tiers;
pub mod validation;
