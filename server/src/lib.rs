//! The Code4me-RS HTTP server: the Code4me V2 REST contract, WebSockets, docs, metrics and the website.
//!
//! Invariant: the server never runs a model; model work crosses the `llm` queue and telemetry writes
//! cross the `db` queue ([`pipeline`]). `main.rs` only parses settings and calls
//! [`startup::run`], so tests start the real server on port 0 and stop it cleanly.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod auth;
pub mod chat;
pub mod completion;
pub mod cookies;
pub mod db;
pub mod demo;
pub mod error;
pub mod expiry;
pub mod extract;
pub mod http_metrics;
pub mod mail;
pub mod messages;
pub mod openapi;
pub mod pages;
pub mod pipeline;
pub mod query;
pub mod rate_limit;
pub mod reference;
pub mod request_bounds;
pub mod requests;
pub mod router;
pub mod routes;
pub mod serve;
pub mod startup;
pub mod state;
pub mod studies;
pub mod tokens;
pub mod user_config;
pub mod website;
pub mod websocket;
