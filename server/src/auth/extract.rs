//! Who is calling: the `auth_token` cookie (or `Authorization: Bearer <token>` for non-browser
//! clients), resolved through Redis.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::cookies;
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of an endpoint marked "A" in the contract.
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser {
    /// The user.
    pub user_id: Uuid,
    /// The token they presented.
    pub auth_token: Uuid,
}

/// The raw auth token of the request: the cookie, else a bearer token.
pub fn presented_token(parts: &Parts) -> Option<Uuid> {
    let from_cookie = cookies::read(&parts.headers, cookies::AUTH_TOKEN);
    let from_header = || {
        parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned())
    };
    from_cookie.filter(|c| !c.is_empty()).or_else(from_header).and_then(|t| Uuid::parse_str(&t).ok())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts).ok_or_else(ApiError::unauthenticated)?;
        let user_id = state.tokens.user_of_auth_token(token).await.map_err(ApiError::Unavailable)?.ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { user_id, auth_token: token })
    }
}
