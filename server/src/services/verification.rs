//! E-mail verification: the mailed link (a single-use token in Redis), its resend, and the check.

use axum::http::StatusCode;
use code4me_shared::domain::parse_token;
use code4me_shared::redis_keys::{self as keys, EmailVerificationValue, key};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::responses::VerificationStatus;
use crate::db;
use crate::services::mail;
use crate::services::state::AppState;
use crate::services::users::existing_user;

/// Creates a verification token and mails its link. Runs in the background after sign-up (the
/// response does not wait for SMTP); failures are logged, and the user can ask for a resend.
pub async fn send_mail(state: &AppState, user_id: Uuid, email: &str, name: &str) -> anyhow::Result<()> {
    let token = Uuid::new_v4();
    let value = serde_json::to_string(&EmailVerificationValue { user_id })?;
    let ttl = state.settings.tokens.email_verification_ttl.as_secs().max(1);
    state.redis.clone().set_ex::<_, _, ()>(key(keys::EMAIL_VERIFICATION, token), value, ttl).await?;
    let link = format!("{}/?token={token}", state.settings.verification_url.trim_end_matches('/'));
    state.mailer.send(mail::verification(email, name, &link)).await
}

/// [`send_mail`] on a background task, logging a failure.
pub fn spawn_mail(state: AppState, user_id: Uuid, email: String, name: String) {
    tokio::spawn(async move {
        if let Err(e) = send_mail(&state, user_id, &email, &name).await {
            tracing::error!(user.id = %user_id, error = format!("{e:#}"), "could not send the verification mail");
        }
    });
}

/// Whether the caller's address is verified.
pub async fn status(state: &AppState, user_id: Uuid) -> Result<VerificationStatus, ApiError> {
    let user = existing_user(state, user_id, messages::VERIFICATION_STATUS_FAILED).await?;
    Ok(VerificationStatus { message: messages::VERIFICATION_STATUS.to_owned(), user_is_verified: user.verified.unwrap_or(false) })
}

/// Mails the caller a new verification link.
pub async fn resend(state: &AppState, user_id: Uuid) -> Result<(), ApiError> {
    let user = existing_user(state, user_id, messages::VERIFICATION_SEND_FAILED).await?;
    send_mail(state, user.user_id, &user.email, &user.name).await.or_fail(messages::VERIFICATION_SEND_FAILED)
}

/// Follows the link: marks the address verified and uses the token up (upstream keeps it valid
/// until it expires).
pub async fn confirm(state: &AppState, raw_token: Option<String>) -> Result<(), ApiError> {
    let invalid = ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_VERIFICATION_TOKEN);
    let Some(token) = raw_token.and_then(|t| parse_token(&t)) else { return Err(invalid) };
    let redis_key = key(keys::EMAIL_VERIFICATION, token);
    let value: Option<EmailVerificationValue> = state.tokens.get_json(&redis_key).await.map_err(ApiError::Unavailable)?;
    let Some(EmailVerificationValue { user_id }) = value else { return Err(invalid) };
    let verified = db::users::set_verified(&state.db, user_id).await.or_fail(messages::VERIFY_FAILED)?;
    state.profiles.changed();
    if !verified {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    state.redis.clone().del::<_, ()>(&redis_key).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    tracing::info!(user.id = %user_id, "e-mail verified");
    Ok(())
}
