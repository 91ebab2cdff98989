//! The Code4me-RS HTTP server: the Code4me V2 REST contract, WebSockets, docs, metrics and the website.
//!
//! Invariant: the server never runs a model; model work crosses the `llm` queue and telemetry writes
//! cross the `db` queue ([`pipeline`]). `main.rs` only parses settings and calls
//! [`startup::run`], so tests start the real server on port 0 and stop it cleanly.

pub mod analytics;
pub mod contract;
pub mod db;
pub mod http;
pub mod openapi;
pub mod pipeline;
pub mod router;
pub mod routes;
pub mod services;
pub mod startup;

// Old paths the analytics modules still use (helper A2 moves them in another branch); removed when
// that branch lands.
pub use contract::error;
pub use db::studies;
pub use http::extract;
pub use services::state;
/// Old path of the caller extractors (now [`http::auth`]).
pub mod auth {
    pub use crate::http::auth as extract;
}
