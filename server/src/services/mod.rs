//! The flows REST and the WebSocket share, and the handles they run on ([`state::AppState`]).

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod chat;
pub mod completion;
pub mod demo;
pub mod expiry;
pub mod feedback;
pub mod mail;
pub mod multi_file;
pub mod query;
pub mod reference;
pub mod state;
pub mod studies;
pub mod tokens;
pub mod user_config;
