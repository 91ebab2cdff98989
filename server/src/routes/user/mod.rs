//! `/api/user/...`: accounts.

pub mod authenticate;
pub mod create;
pub mod delete;
pub mod get;
pub mod oauth;
pub mod reset_password;
pub mod update;
pub mod verify;

use axum::http::StatusCode;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, UserRow};
use crate::services::auth::google::GoogleIdentity;
use crate::services::state::AppState;

/// The caller's user row; `404 User not found` when the account is gone, `failure` as the 500.
pub async fn existing_user(state: &AppState, user_id: Uuid, failure: &'static str) -> Result<UserRow, ApiError> {
    users::by_id(&state.db, user_id).await.or_fail(failure)?.ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND))
}

/// Verifies a Google ID token; every refusal (and Google sign-in being off) is the contract's
/// `401 Invalid or expired token!`, with the reason logged.
pub async fn verify_google(state: &AppState, token: &str) -> Result<GoogleIdentity, ApiError> {
    let invalid = || ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN);
    let google = state.google.as_ref().ok_or_else(invalid)?;
    google.verify(token, None).await.map_err(|e| {
        tracing::info!(error = %e, "Google ID token refused");
        invalid()
    })
}
