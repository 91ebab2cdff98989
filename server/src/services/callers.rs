//! Who is calling, once [`crate::http::auth`] has checked the request's tokens: the identities the
//! services act for. The same values reach a service from a REST request and from a WebSocket frame.

use axum::http::StatusCode;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::services::state::AppState;

/// The authenticated caller of an endpoint marked "A" in the contract.
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser {
    /// The user.
    pub user_id: Uuid,
    /// The token they presented.
    pub auth_token: Uuid,
}

/// The caller of an endpoint marked "S" in the contract: a live session (`session_token` cookie).
#[derive(Debug, Clone, Copy)]
pub struct SessionCaller {
    /// The session's user.
    pub user_id: Uuid,
    /// The session.
    pub session_id: Uuid,
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

impl ProjectCaller {
    /// Checks again what the extractor checked — the session is live, still this user's, and the
    /// project still active in it — for a connection that outlives its first request (the
    /// WebSocket checks each message). The same 401s as the extractor; 503 when Redis is away.
    pub async fn recheck(&self, state: &AppState) -> Result<(), ApiError> {
        let session = state.tokens.session(self.session_id).await.map_err(ApiError::Unavailable)?;
        let Some(session) = session.filter(|s| s.user_token == self.user_id) else {
            return Err(no_session());
        };
        if !session.project_tokens.contains(&self.project_id) {
            return Err(no_project());
        }
        Ok(())
    }
}

/// `401 {"message": INVALID_SESSION_TOKEN}`.
pub fn no_session() -> ApiError {
    ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN)
}

/// `401 {"message": INVALID_PROJECT_TOKEN}`.
pub fn no_project() -> ApiError {
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

/// A [`ResearchCaller`] who is an admin; others get `403 {"detail":"Admin privileges required"}`.
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller {
    /// The admin.
    pub user_id: Uuid,
}

/// A request authenticated with an API key (`Authorization: Bearer c4m_…`), admitted by the
/// quota check ([`crate::http::metering`] puts it in the request's extensions).
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyCaller {
    /// The key's owner.
    pub user_id: Uuid,
    /// The key.
    pub key_id: Uuid,
    /// The project the key is bound to.
    pub project_id: Option<Uuid>,
    /// The owner's tier.
    pub tier: code4me_shared::tiers::Tier,
}

/// A caller who may use either door: an API key (already admitted, tier known) or the
/// `auth_token` cookie / bearer token of a signed-in user.
#[derive(Debug, Clone, Copy)]
pub struct KeyOrUser {
    /// The user.
    pub user_id: Uuid,
    /// The tier, when the key told it (a signed-in user's is read from PostgreSQL).
    pub tier: Option<code4me_shared::tiers::Tier>,
}
