//! Password reset: a mailed link (a single-use token in Redis) to a form that sets a new password
//! and signs every session of the account out.

use axum::http::StatusCode;
use code4me_shared::domain::{Email, Password, parse_token};
use code4me_shared::redis_keys::{self as keys, PasswordResetValue, key};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db;
use crate::services::mail;
use crate::services::state::AppState;

/// Mails a reset link to the account with this address (synchronously: the endpoint reports
/// delivery).
pub async fn request(state: &AppState, email: &Email) -> Result<(), ApiError> {
    let user = db::users::by_email(&state.db, email)
        .await
        .or_fail(messages::RESET_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND))?;
    send_mail(state, user.user_id, &user.email, &user.name).await.or_fail(messages::RESET_FAILED)
}

/// Creates a reset token and mails its link.
async fn send_mail(state: &AppState, user_id: Uuid, email: &str, name: &str) -> anyhow::Result<()> {
    let token = Uuid::new_v4();
    let value = serde_json::to_string(&PasswordResetValue { user_id, email: email.to_owned() })?;
    let ttl = state.settings.tokens.reset_password_ttl.as_secs().max(1);
    state.redis.clone().set_ex::<_, _, ()>(key(keys::PASSWORD_RESET, token), value, ttl).await?;
    let link = format!("{}/?token={token}", state.settings.reset_password_url.trim_end_matches('/'));
    state.mailer.send(mail::password_reset(email, name, &link)).await
}

/// The pending reset a link's token names, if it is still valid.
pub async fn pending(state: &AppState, token: &str) -> Result<Option<(Uuid, PasswordResetValue)>, ApiError> {
    let Some(token) = parse_token(token) else { return Ok(None) };
    let value = state.tokens.get_json::<PasswordResetValue>(&key(keys::PASSWORD_RESET, token)).await.map_err(ApiError::Unavailable)?;
    Ok(value.map(|v| (token, v)))
}

/// Why a new password was not set (each shown as a page by the route).
#[derive(Debug)]
pub enum ChangeRefused {
    /// The link is invalid, used or expired.
    InvalidLink,
    /// The form's password breaks a rule; the reason is shown on the form.
    Rejected(&'static str),
    /// The account is gone.
    UserGone,
    /// Something failed (logged).
    Failed,
    /// The link could not be checked (Redis unreachable): the error as any endpoint gives it.
    Unchecked(ApiError),
}

/// Sets the new password from the form; the link is used up and every session of the account is
/// signed out (whoever had the old password loses access).
pub async fn change(state: &AppState, token: &str, new_password: &str, confirm_password: Option<&str>) -> Result<(), ChangeRefused> {
    let Some((token_id, request)) = pending(state, token).await.map_err(ChangeRefused::Unchecked)? else {
        return Err(ChangeRefused::InvalidLink);
    };
    let password = Password::parse(new_password).map_err(|_| {
        ChangeRefused::Rejected("The password needs 8 to 50 characters with an upper-case letter, a lower-case letter and a digit, and no spaces.")
    })?;
    if confirm_password.is_some_and(|c| c != new_password) {
        return Err(ChangeRefused::Rejected("The two passwords differ."));
    }
    let failed = |e: anyhow::Error| {
        tracing::error!(error = format!("{e:#}"), "password reset failed");
        ChangeRefused::Failed
    };
    let hash = state.passwords.hash(password.expose()).await.map_err(failed)?;
    if !db::users::set_password(&state.db, request.user_id, &hash).await.map_err(|e| failed(e.into()))? {
        return Err(ChangeRefused::UserGone);
    }
    state.redis.clone().del::<_, ()>(key(keys::PASSWORD_RESET, token_id)).await.map_err(|e| failed(e.into()))?;
    state.tokens.revoke_user(request.user_id).await.map_err(failed)?;
    tracing::info!(user.id = %request.user_id, "password reset");
    Ok(())
}
