//! `/api/user/...`: accounts.

pub mod authenticate;
pub mod create;
pub mod delete;
pub mod get;
pub mod oauth;
pub mod reset_password;
pub mod update;
pub mod verify;
