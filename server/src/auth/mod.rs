//! Authentication: password hashing, token validation, Google ID tokens and the browser sign-in.

pub mod browser;
pub mod extract;
pub mod google;
pub mod password;
