//! One module per resource or action, mirroring the URL (`/api/user/create` → `routes/user/create.rs`).

pub mod admin;
pub mod agent;
pub mod ai;
pub mod analytics;
pub mod chat;
pub mod completion;
pub mod config;
pub mod editor;
pub mod health;
pub mod health_root;
pub mod keys;
pub mod metrics;
pub mod openai;
pub mod ping;
pub mod project;
pub mod session;
pub mod status;
pub mod usage;
pub mod user;
pub mod v1;
pub mod ws;
