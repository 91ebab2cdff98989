//! `/api/chat/...`: chat turns and the conversation history of the active project.

pub mod delete;
pub mod get;
pub mod request;
