//! Black-box tests against the real server, PostgreSQL + pgvector and Redis. Modules mirror the
//! URL tree; test names are sentences.

mod docs;
mod health;
mod metrics;
mod migrations;
mod ping;
mod request_conventions;
mod website;
mod worker;
