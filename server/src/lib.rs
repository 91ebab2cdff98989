//! The Code4me-RS HTTP server: the Code4me V2 REST contract, WebSockets, docs, metrics and the website.
//!
//! Invariant: the server never runs a model; model work crosses the `llm` queue and telemetry writes
//! cross the `db` queue ([`pipeline`]). `main.rs` only parses settings and calls
//! [`startup::run`], so tests start the real server on port 0 and stop it cleanly.
//!
//! Layers, each importing only the ones below it (`scripts/check_layers.py` enforces it):
//! - [`router`], [`startup`], [`openapi`]: the route table, middleware order and the document;
//! - [`routes`] (REST and WebSocket handlers: extract, call one service, map the result) and
//!   [`http`] (extractors, cookies, the error response, rate limits, bounds, metrics, the accept
//!   loop, the website);
//! - [`services`]: the flows REST and the WebSocket share, with the state they run on;
//! - [`db`]: every SQL statement.
//!
//! Beside them: [`contract`] (message strings, the error outcome, request and response bodies;
//! any layer uses it), [`pipeline`] (the queue client services use) and [`analytics`] (the
//! research endpoints' statistics).

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
