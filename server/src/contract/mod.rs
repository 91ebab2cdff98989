//! The wire contract both front doors (REST and the WebSocket) speak: the message strings, the
//! error outcomes with their statuses and bodies, and the parsed request bodies.

pub mod accounts;
pub mod agent;
pub mod api_keys;
pub mod configs;
pub mod editor;
pub mod editor_files;
pub mod error;
pub mod health;
pub mod log_report;
pub mod messages;
pub mod openai;
pub mod parse;
pub mod requests;
pub mod responses;
pub mod suggestions;
pub mod tasks;
