//! Account workflows shared by several endpoints: verification and password-reset mails.

use code4me_shared::redis_keys::{self as keys, EmailVerificationValue, PasswordResetValue, key};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::services::mail;
use crate::services::state::AppState;

/// Creates a verification token and mails its link. Runs in the background after sign-up (the
/// response does not wait for SMTP); failures are logged, and the user can ask for a resend.
pub async fn send_verification(state: &AppState, user_id: Uuid, email: &str, name: &str) -> anyhow::Result<()> {
    let token = Uuid::new_v4();
    let value = serde_json::to_string(&EmailVerificationValue { user_id })?;
    let ttl = state.settings.tokens.email_verification_ttl.as_secs().max(1);
    state.redis.clone().set_ex::<_, _, ()>(key(keys::EMAIL_VERIFICATION, token), value, ttl).await?;
    let link = format!("{}/?token={token}", state.settings.verification_url.trim_end_matches('/'));
    state.mailer.send(mail::verification(email, name, &link)).await
}

/// [`send_verification`] on a background task, logging a failure.
pub fn spawn_verification(state: AppState, user_id: Uuid, email: String, name: String) {
    tokio::spawn(async move {
        if let Err(e) = send_verification(&state, user_id, &email, &name).await {
            tracing::error!(user.id = %user_id, error = format!("{e:#}"), "could not send the verification mail");
        }
    });
}

/// Creates a reset token and mails its link (synchronously: the endpoint reports delivery).
pub async fn send_password_reset(state: &AppState, user_id: Uuid, email: &str, name: &str) -> anyhow::Result<()> {
    let token = Uuid::new_v4();
    let value = serde_json::to_string(&PasswordResetValue { user_id, email: email.to_owned() })?;
    let ttl = state.settings.tokens.reset_password_ttl.as_secs().max(1);
    state.redis.clone().set_ex::<_, _, ()>(key(keys::PASSWORD_RESET, token), value, ttl).await?;
    let link = format!("{}/?token={token}", state.settings.reset_password_url.trim_end_matches('/'));
    state.mailer.send(mail::password_reset(email, name, &link)).await
}
