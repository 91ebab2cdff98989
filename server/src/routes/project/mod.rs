//! `/api/project/...`: IDE projects within a session.

pub mod activate;
pub mod create;
