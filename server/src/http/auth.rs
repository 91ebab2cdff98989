//! Who is calling: the `auth_token` cookie (or `Authorization: Bearer <token>` for non-browser
//! clients), resolved through Redis.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use code4me_shared::domain::parse_token;
use code4me_shared::redis_keys::SessionValue;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::http::cookies;
use crate::services::state::AppState;

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
    from_cookie.filter(|c| !c.is_empty()).or_else(from_header).and_then(|t| parse_token(&t))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts).ok_or_else(ApiError::unauthenticated)?;
        let user_id = state.tokens.user_of_auth_token(token).await.map_err(ApiError::Unavailable)?.ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { user_id, auth_token: token })
    }
}

/// The caller of an endpoint marked "S" in the contract: a live session (`session_token` cookie).
#[derive(Debug, Clone, Copy)]
pub struct SessionCaller {
    /// The session's user.
    pub user_id: Uuid,
    /// The session.
    pub session_id: Uuid,
}

impl SessionCaller {
    /// The caller and their live session's value (which lists the session's projects).
    async fn resolve(parts: &Parts, state: &AppState) -> Result<(Self, SessionValue), ApiError> {
        let no_session = || ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN);
        let session_id = cookies::read(&parts.headers, cookies::SESSION_TOKEN).and_then(|t| parse_token(&t)).ok_or_else(no_session)?;
        let session = state.tokens.session(session_id).await.map_err(ApiError::Unavailable)?.ok_or_else(no_session)?;
        Ok((Self { user_id: session.user_token, session_id }, session))
    }
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::resolve(parts, state).await?.0)
    }
}

/// The caller of an endpoint marked "S+P": a live session and a project active in it
/// (`project_token` cookie; the last one wins, as the plugin appends its own).
#[derive(Debug, Clone, Copy)]
pub struct ProjectCaller {
    /// The session's user.
    pub user_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// The active project.
    pub project_id: Uuid,
}

impl FromRequestParts<AppState> for ProjectCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (SessionCaller { user_id, session_id }, session) = SessionCaller::resolve(parts, state).await?;
        let project_id = cookies::read(&parts.headers, cookies::PROJECT_TOKEN).and_then(|t| parse_token(&t)).ok_or_else(no_project)?;
        if !session.project_tokens.contains(&project_id) {
            return Err(no_project());
        }
        Ok(Self { user_id, session_id, project_id })
    }
}

impl ProjectCaller {
    /// Checks again what the extractor checked — the session is live, still this user's, and the
    /// project still active in it — for a connection that outlives its first request (the
    /// WebSocket checks each message). The same 401s as the extractor; 503 when Redis is away.
    pub async fn recheck(&self, state: &AppState) -> Result<(), ApiError> {
        let session = state.tokens.session(self.session_id).await.map_err(ApiError::Unavailable)?;
        let Some(session) = session.filter(|s| s.user_token == self.user_id) else {
            return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN));
        };
        if !session.project_tokens.contains(&self.project_id) {
            return Err(no_project());
        }
        Ok(())
    }
}

fn no_project() -> ApiError {
    ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_PROJECT_TOKEN)
}

/// The caller of the research endpoints (analytics, studies, config): the `auth_token` cookie,
/// rejected as upstream's `auth_utils.py` does — `401 {"detail":"Authentication required"}` without
/// a token, `401 {"detail":"Authentication failed"}` for one that names no live user.
#[derive(Debug, Clone, Copy)]
pub struct ResearchCaller {
    /// The user.
    pub user_id: Uuid,
    /// Whether they may see everyone's data and manage studies and configs.
    pub is_admin: bool,
}

impl FromRequestParts<AppState> for ResearchCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented =
            cookies::read(&parts.headers, cookies::AUTH_TOKEN).is_some_and(|c| !c.is_empty()) || parts.headers.contains_key(AUTHORIZATION);
        if !presented {
            return Err(ApiError::Detail(StatusCode::UNAUTHORIZED, "Authentication required".into()));
        }
        let failed = || ApiError::Detail(StatusCode::UNAUTHORIZED, "Authentication failed".into());
        let token = presented_token(parts).ok_or_else(failed)?;
        let user_id = state.tokens.user_of_auth_token(token).await.map_err(ApiError::Unavailable)?.ok_or_else(failed)?;
        let is_admin: Option<Option<bool>> = sqlx::query_scalar("SELECT is_admin FROM \"user\" WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&state.db)
            .await
            .map_err(ApiError::database)?;
        let is_admin = is_admin.ok_or_else(failed)?.unwrap_or(false);
        Ok(Self { user_id, is_admin })
    }
}

/// A [`ResearchCaller`] who is an admin; others get `403 {"detail":"Admin privileges required"}`.
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller {
    /// The admin.
    pub user_id: Uuid,
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = ResearchCaller::from_request_parts(parts, state).await?;
        if !caller.is_admin {
            return Err(ApiError::Detail(StatusCode::FORBIDDEN, "Admin privileges required".into()));
        }
        Ok(Self { user_id: caller.user_id })
    }
}
