//! The website's Google sign-in (ours; upstream's website posts Google's ID token to
//! `/api/user/authenticate`, which also works): the authorization-code flow with PKCE and a nonce
//! ([`crate::services::auth::browser`]), its state in Redis for ten minutes and used once, and the
//! account found or created for the verified address.

use axum::http::StatusCode;
use code4me_shared::domain::Email;
use code4me_shared::redis_keys::{self as keys, OAuthFlowValue, key};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, NewUser, UserRow};
use crate::services::auth::browser;
use crate::services::state::AppState;

/// How long a started sign-in may take.
const FLOW_TTL_SECONDS: u64 = 600;

/// Whether "Sign in with Google" works (client id and secret configured).
pub fn offered(state: &AppState) -> bool {
    state.google.is_some() && state.settings.google.client_secret.is_some()
}

fn callback_url(state: &AppState) -> String {
    format!("{}/api/user/oauth/google/callback", state.settings.public_url)
}

/// Only same-site paths: an open redirect would let a link send users anywhere after sign-in.
fn safe_return_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn unauthorized() -> ApiError {
    ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN)
}

fn not_configured() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, messages::GOOGLE_NOT_CONFIGURED.into())
}

/// Starts a sign-in, remembering the PKCE verifier, the nonce and where to land afterwards;
/// returns the provider's page to send the browser to.
pub async fn start(state: &AppState, return_to: Option<&str>) -> Result<String, ApiError> {
    let (Some(google), Some(secret)) = (&state.google, &state.settings.google.client_secret) else { return Err(not_configured()) };
    let started = browser::start(google, secret, &callback_url(state)).await.map_err(ApiError::Unavailable)?;
    let flow = OAuthFlowValue { pkce_verifier: started.pkce_verifier, nonce: started.nonce, return_to: safe_return_path(return_to) };
    let value = serde_json::to_string(&flow).map_err(|e| ApiError::Internal(e.into()))?;
    state
        .redis
        .clone()
        .set_ex::<_, _, ()>(key(keys::OAUTH_STATE, &started.state), value, FLOW_TTL_SECONDS)
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(started.redirect_to)
}

/// Finishes a sign-in: exchange, verify, find or create the account, issue an auth token.
/// Returns the token (for the `auth_token` cookie) and the site path to land on.
pub async fn finish(state: &AppState, code: Option<String>, flow_state: Option<String>) -> Result<(Uuid, String), ApiError> {
    let (Some(google), Some(secret)) = (&state.google, &state.settings.google.client_secret) else { return Err(not_configured()) };
    let (Some(code), Some(flow_state)) = (code, flow_state) else { return Err(unauthorized()) };
    let flow_key = key(keys::OAUTH_STATE, &flow_state);
    let flow: Option<OAuthFlowValue> = state.tokens.get_json(&flow_key).await.map_err(ApiError::Unavailable)?;
    let Some(flow) = flow else { return Err(unauthorized()) };
    // One use only, whatever happens next.
    state.redis.clone().del::<_, ()>(&flow_key).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let id_token = browser::exchange(google, secret, &callback_url(state), code, flow.pkce_verifier).await.map_err(|e| {
        tracing::info!(error = format!("{e:#}"), "Google code exchange refused");
        unauthorized()
    })?;
    let identity = google.verify(&id_token, Some(&flow.nonce)).await.map_err(|e| {
        tracing::info!(error = %e, "Google ID token refused");
        unauthorized()
    })?;
    let email = Email::parse(&identity.email).map_err(|_| unauthorized())?;
    let user = match users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)? {
        Some(user) => user,
        None => create_google_user(state, &email, identity.name.as_deref()).await?,
    };
    let token = state.tokens.issue_auth_token(user.user_id).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user.user_id, "signed in with Google");
    Ok((token, flow.return_to))
}

/// A first Google sign-in creates the account (verified: Google vouched for the address). It gets
/// an unusable random password; the user can set one through the reset flow.
async fn create_google_user(state: &AppState, email: &Email, name: Option<&str>) -> Result<UserRow, ApiError> {
    let fallback = email.as_str().split('@').next().unwrap_or("user");
    let mut display: String = name.unwrap_or(fallback).chars().take(50).collect();
    while display.chars().count() < 3 {
        display.push('_');
    }
    let random = format!("{}Aa1", Uuid::new_v4().simple());
    let hash = state.passwords.hash(&random).await.or_fail(messages::USER_CREATE_FAILED)?;
    let new_user = NewUser { email, name: &display, password_hash: &hash, config_id: 1, is_oauth_signup: true, verified: true, is_admin: false };
    users::insert(&state.db, &new_user).await.or_fail(messages::USER_CREATE_FAILED)?;
    users::by_email(&state.db, email).await.or_fail(messages::USER_CREATE_FAILED)?.ok_or_else(unauthorized)
}

#[cfg(test)]
mod tests {
    use super::safe_return_path;

    #[test]
    fn only_same_site_paths_are_accepted_as_return_targets() {
        assert_eq!(safe_return_path(Some("/studies")), "/studies");
        for evil in ["https://evil.example", "//evil.example", "/\\evil.example", "evil"] {
            assert_eq!(safe_return_path(Some(evil)), "/", "{evil}");
        }
        assert_eq!(safe_return_path(None), "/");
    }
}
