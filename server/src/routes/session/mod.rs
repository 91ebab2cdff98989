//! `/api/session/...`: the plugin's working session.

pub mod acquire;
pub mod deactivate;
