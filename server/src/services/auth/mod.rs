//! Authentication services: password hashing, OpenID ID tokens (Google, Microsoft), GitHub's user
//! API and the browser sign-in (the extractors that check tokens on requests are [`crate::http::auth`]).

pub mod browser;
pub mod github;
pub mod oidc;
pub mod password;
