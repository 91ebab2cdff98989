//! Who is calling: the `auth_token` cookie (or `Authorization: Bearer <token>` for non-browser
//! clients), the `session_token` and `project_token` cookies, resolved through Redis into the
//! callers of [`crate::services::callers`]; or an API key, already resolved and admitted by
//! [`crate::http::metering`], which the research endpoints accept.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use code4me_shared::domain::parse_token;
use code4me_shared::redis_keys::SessionValue;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::http::cookies;
pub use crate::services::callers::{AdminCaller, ApiKeyCaller, CurrentUser, KeyOrUser, ProjectCaller, ResearchCaller, SessionCaller};
use crate::services::callers::{no_project, no_session};
pub use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// The raw auth token of the request: the cookie, else a bearer token.
pub fn presented_token(headers: &HeaderMap) -> Option<Uuid> {
    let from_cookie = cookies::read(headers, cookies::AUTH_TOKEN);
    let from_header = || {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned())
    };
    from_cookie.filter(|c| !c.is_empty()).or_else(from_header).and_then(|t| parse_token(&t))
}

/// The owner of the request's auth token, read by the rate limiter in the same Redis round trip
/// as its counter ([`crate::http::rate_limit`]), so an authenticated request costs one round trip
/// instead of two. Read at the start of the request, exactly as the extractor would read it.
#[derive(Debug, Clone, Copy)]
pub struct PrefetchedAuthToken {
    /// The token presented.
    pub token: Uuid,
    /// Its owner; `None` when the token is not live.
    pub user_id: Option<Uuid>,
}

/// The owner of `token`: the prefetched answer when the rate limiter read it, else from Redis.
async fn owner_of(parts: &Parts, state: &AppState, token: Uuid) -> Result<Option<Uuid>, ApiError> {
    if let Some(prefetched) = parts.extensions.get::<PrefetchedAuthToken>().filter(|p| p.token == token) {
        return Ok(prefetched.user_id);
    }
    state.tokens.user_of_auth_token(token).await.map_err(ApiError::Unavailable)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = presented_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let user_id = owner_of(parts, state, token).await?.ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { user_id, auth_token: token })
    }
}

/// The caller and their live session's value (which lists the session's projects).
async fn resolve_session(parts: &Parts, state: &AppState) -> Result<(SessionCaller, SessionValue), ApiError> {
    let session_id = cookies::read(&parts.headers, cookies::SESSION_TOKEN).and_then(|t| parse_token(&t)).ok_or_else(no_session)?;
    let session = state.tokens.session(session_id).await.map_err(ApiError::Unavailable)?.ok_or_else(no_session)?;
    Ok((SessionCaller { user_id: session.user_token, session_id }, session))
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(resolve_session(parts, state).await?.0)
    }
}

impl FromRequestParts<AppState> for ProjectCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (SessionCaller { user_id, session_id }, session) = resolve_session(parts, state).await?;
        let project_id = cookies::read(&parts.headers, cookies::PROJECT_TOKEN).and_then(|t| parse_token(&t)).ok_or_else(no_project)?;
        if !session.project_tokens.contains(&project_id) {
            return Err(no_project());
        }
        Ok(Self { user_id, session_id, project_id })
    }
}

impl FromRequestParts<AppState> for ResearchCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let failed = || ApiError::Detail(StatusCode::UNAUTHORIZED, messages::AUTHENTICATION_FAILED.into());
        if let Some(key) = parts.extensions.get::<ApiKeyCaller>() {
            let is_admin = db::users::is_admin(&state.db, key.user_id).await.map_err(ApiError::database)?.ok_or_else(failed)?;
            return Ok(Self { user_id: key.user_id, is_admin });
        }
        let presented =
            cookies::read(&parts.headers, cookies::AUTH_TOKEN).is_some_and(|c| !c.is_empty()) || parts.headers.contains_key(AUTHORIZATION);
        if !presented {
            return Err(ApiError::Detail(StatusCode::UNAUTHORIZED, messages::AUTHENTICATION_REQUIRED.into()));
        }
        let token = presented_token(&parts.headers).ok_or_else(failed)?;
        let user_id = owner_of(parts, state, token).await?.ok_or_else(failed)?;
        let is_admin = db::users::is_admin(&state.db, user_id).await.map_err(ApiError::database)?.ok_or_else(failed)?;
        Ok(Self { user_id, is_admin })
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = ResearchCaller::from_request_parts(parts, state).await?;
        if !caller.is_admin {
            return Err(ApiError::Detail(StatusCode::FORBIDDEN, messages::ADMIN_REQUIRED.into()));
        }
        Ok(Self { user_id: caller.user_id })
    }
}

impl FromRequestParts<AppState> for KeyOrUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(key) = parts.extensions.get::<ApiKeyCaller>() {
            return Ok(Self { user_id: key.user_id, tier: Some(key.tier) });
        }
        let user = CurrentUser::from_request_parts(parts, state).await?;
        Ok(Self { user_id: user.user_id, tier: None })
    }
}

impl FromRequestParts<AppState> for OpenCaller {
    type Rejection = ApiError;

    /// The open APIs' caller: the admitted API key (its project, its tier's prompt bound), else
    /// the signed-in user (bounded by their tier as a key of theirs would be).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(key) = parts.extensions.get::<ApiKeyCaller>() {
            let max_prompt_chars = state.settings.tiers.limits(key.tier).max_prompt_chars;
            return Ok(Self {
                user_id: key.user_id,
                key_id: Some(key.key_id),
                project_id: key.project_id,
                max_prompt_chars: Some(max_prompt_chars),
                auth_token: None,
            });
        }
        // Neither a key nor a signed-in user: say how to get in (the generic 401 would not).
        let user = CurrentUser::from_request_parts(parts, state).await.map_err(|error| match error {
            ApiError::Unavailable(cause) => ApiError::Unavailable(cause),
            _ => ApiError::Detail(StatusCode::UNAUTHORIZED, messages::OPEN_API_AUTHENTICATION_REQUIRED.into()),
        })?;
        let tier = db::api_keys::tier_of(&state.db, user.user_id).await.map_err(ApiError::database)?;
        let tier = tier.as_deref().and_then(code4me_shared::tiers::Tier::parse).unwrap_or_default();
        let max_prompt_chars = state.settings.tiers.limits(tier).max_prompt_chars;
        Ok(Self {
            user_id: user.user_id,
            key_id: None,
            project_id: None,
            max_prompt_chars: Some(max_prompt_chars),
            auth_token: Some(user.auth_token),
        })
    }
}
