//! The Code4me-RS HTTP server: the Code4me V2 REST contract, WebSockets, docs, metrics and the website.
//!
//! Invariant: the server never runs a model; model work crosses the `llm` queue and telemetry writes
//! cross the `db` queue (both arrive with the pipeline work). `main.rs` only parses settings and calls
//! [`startup::run`], so tests start the real server on port 0 and stop it cleanly.

pub mod error;
pub mod http_metrics;
pub mod openapi;
pub mod router;
pub mod routes;
pub mod startup;
pub mod state;
pub mod website;
