//! The flows REST and the WebSocket share, and the handles they run on ([`state::AppState`]).

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod callers;
pub mod chat;
pub mod completion;
pub mod configs;
pub mod demo;
pub mod expiry;
pub mod feedback;
pub mod google_sign_in;
pub mod health;
pub mod mail;
pub mod models;
pub mod multi_file;
pub mod password_reset;
pub mod projects;
pub mod query;
pub mod reference;
pub mod sessions;
pub mod state;
pub mod studies;
pub mod tokens;
pub mod user_config;
pub mod users;
pub mod verification;
