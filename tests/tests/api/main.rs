//! Black-box tests against the real server, PostgreSQL + pgvector and Redis. Modules mirror the
//! URL tree; test names are sentences.

mod analytics;
mod analytics_export;
mod analytics_rollups;
mod auth_matrix;
mod config;
mod contract_snapshots;
mod conventions_auth;
mod demo;
mod docs;
mod editor_rooms;
mod hardening;
mod health;
mod keys;
mod metrics;
mod migrations;
mod openai;
mod ownership;
mod ping;
mod pipeline;
mod project;
mod reliability;
mod request_conventions;
mod research;
mod retrieval;
mod secrets;
mod session;
mod studies;
mod suggestions;
mod tasks;
mod user;
mod website;
mod websocket;
mod worker;
mod worker_queues;
mod worker_writes;
