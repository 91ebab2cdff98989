//! Authentication services: password hashing, Google ID tokens and the browser sign-in (the
//! extractors that check tokens on requests are [`crate::http::auth`]).

pub mod browser;
pub mod google;
pub mod password;
