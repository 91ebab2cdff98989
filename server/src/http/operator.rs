//! Who may read the operators' detailed health report: an admin (cookie or bearer auth token, as
//! every admin endpoint), or a monitor presenting `Authorization: Bearer <HEALTH_TOKEN>`, so a
//! monitoring system needs no user account (and still gets in while Redis, which holds the auth
//! tokens, is down).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::contract::error::ApiError;
use crate::http::auth::AdminCaller;
use crate::services::state::AppState;

/// A caller allowed to read `/api/health/detailed`.
#[derive(Debug, Clone, Copy)]
pub enum Operator {
    /// A signed-in admin.
    Admin(AdminCaller),
    /// Whoever holds `HEALTH_TOKEN`.
    Monitor,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    /// The health token first (it needs neither Redis nor PostgreSQL); any other bearer or cookie
    /// is judged as an admin's: 401 `{"detail"}` when absent or unknown, 403 for a non-admin.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let (Some(expected), Some(presented)) = (&state.settings.health.token, bearer(parts))
            && same_secret(presented, expected.expose_secret())
        {
            return Ok(Self::Monitor);
        }
        AdminCaller::from_request_parts(parts, state).await.map(Self::Admin)
    }
}

/// The `Authorization: Bearer <value>` of the request, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

/// Compares in constant time, digests rather than the texts so neither the content nor the
/// length of the token leaks through timing.
fn same_secret(presented: &str, expected: &str) -> bool {
    let (presented, expected) = (Sha256::digest(presented.as_bytes()), Sha256::digest(expected.as_bytes()));
    bool::from(presented[..].ct_eq(&expected[..]))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-tokeN", "s3cret-token"));
        assert!(!same_secret("s3cret", "s3cret-token"));
        assert!(!same_secret("", "s3cret-token"));
    }
}
