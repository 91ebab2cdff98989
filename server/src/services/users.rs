//! The user as the account endpoints find and show it.

use axum::http::StatusCode;
use chrono::SecondsFormat;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::responses::ResponseUser;
use crate::db;
use crate::db::users::{UserRow, default_preference};
use crate::services::state::AppState;

/// The contract's `ResponseUser` (password always masked; `preference` parsed once, so nested
/// values the plugin double-encoded stay strings).
pub fn response_user(user: &UserRow, auth_token: Option<Uuid>) -> ResponseUser {
    let preference =
        user.preference.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()).unwrap_or_else(|| Value::Object(default_preference()));
    ResponseUser {
        email: user.email.clone(),
        name: user.name.clone(),
        password: "**********".to_owned(),
        config_id: user.config_id,
        user_id: user.user_id,
        joined_at: user.joined_at.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        verified: user.verified.unwrap_or(false),
        preference,
        auth_token,
        is_admin: user.is_admin.unwrap_or(false),
    }
}

/// The caller's user row; `404 User not found` when the account is gone, `failure` as the 500.
pub async fn existing_user(state: &AppState, user_id: Uuid, failure: &'static str) -> Result<UserRow, ApiError> {
    db::users::by_id(&state.db, user_id).await.or_fail(failure)?.ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND))
}
