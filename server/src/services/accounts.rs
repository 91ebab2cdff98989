//! Accounts: sign-up, sign-in (password or Google ID token), the user as responses show it,
//! changes and deletion. Cookies are the routes' business; these flows return what to set.

use axum::http::StatusCode;
use bytes::Bytes;
use code4me_shared::domain::Email;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::contract::accounts::{Credentials, SignUp, UserUpdate};
use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::responses::{Authenticated, UserUpdated, UserWithConfig, to_body};
use crate::db;
use crate::db::users::{NewUser, UpdateError, UserChanges, UserRow, default_preference};
use crate::services::auth::oidc::Identity;
use crate::services::state::AppState;
use crate::services::users::{existing_user, response_user};
use crate::services::verification;

/// Verifies a Google ID token; every refusal (and Google sign-in being off) is the contract's
/// `401 Invalid or expired token!`, with the reason logged.
pub async fn verify_google(state: &AppState, token: &str) -> Result<Identity, ApiError> {
    let invalid = || ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN);
    let google = state.google.as_ref().ok_or_else(invalid)?;
    google.verify(token, None).await.map_err(|e| {
        tracing::info!(error = %e, "Google ID token refused");
        invalid()
    })
}

/// Creates the account and mails a verification link (in the background; a Google sign-up is
/// verified already); returns the new user's id.
pub async fn sign_up(state: &AppState, request: SignUp) -> Result<Uuid, ApiError> {
    let verified_by_google = match &request.google_token {
        None => false,
        Some(token) => {
            let identity = verify_google(state, token).await?;
            if identity.email != request.email.as_str() {
                return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN));
            }
            true
        }
    };
    if db::users::config_data(&state.db, request.config_id).await.or_fail(messages::USER_CREATE_FAILED)?.is_none() {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND));
    }
    let password_hash = state.passwords.hash(request.password.expose()).await.or_fail(messages::USER_CREATE_FAILED)?;
    let new_user = NewUser {
        email: &request.email,
        name: request.name.as_str(),
        password_hash: &password_hash,
        config_id: request.config_id,
        is_oauth_signup: request.google_token.is_some(),
        verified: verified_by_google,
        is_admin: false,
    };
    let user_id = db::users::insert(&state.db, &new_user)
        .await
        .or_fail(messages::USER_CREATE_FAILED)?
        .ok_or(ApiError::Message(StatusCode::CONFLICT, messages::USER_EXISTS))?;
    tracing::info!(user.id = %user_id, google = verified_by_google, "user created");
    if !verified_by_google {
        verification::spawn_mail(state.clone(), user_id, request.email.to_string(), request.name.as_str().to_owned());
    }
    Ok(user_id)
}

/// Checks the credentials; returns the user and the outcome message of the way they signed in.
pub async fn authenticate(state: &AppState, credentials: Credentials) -> Result<(UserRow, &'static str), ApiError> {
    match credentials {
        Credentials::Password { email, password } => {
            let user = db::users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)?;
            // Verify even when the address is unknown, so both failures take equally long.
            let matches =
                state.passwords.verify(&password, user.as_ref().map(|u| u.password.as_str())).await.or_fail(messages::AUTHENTICATE_FAILED)?;
            match user {
                Some(user) if matches => Ok((user, messages::AUTHENTICATED_PASSWORD)),
                _ => Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_CREDENTIALS)),
            }
        }
        Credentials::Google { token } => {
            let invalid = || ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN);
            let identity = verify_google(state, &token).await?;
            let email = Email::parse(&identity.email).map_err(|_| invalid())?;
            let user = db::users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)?.ok_or_else(invalid)?;
            Ok((user, messages::AUTHENTICATED_OAUTH))
        }
    }
}

/// Issues an auth token for `user` (to be set as the `auth_token` cookie) and builds the
/// authenticate response. While a study is active, a user without an arm gets one now (and the
/// arm's config).
pub async fn log_in(state: &AppState, user: &UserRow, message: &'static str) -> Result<(Uuid, Authenticated), ApiError> {
    let mut user = user.clone();
    if let Some(arm) = db::studies::assign_on_login(&state.db, user.user_id).await.or_fail(messages::AUTHENTICATE_FAILED)? {
        user.config_id = arm;
        state.user_configs.forget(user.user_id);
        state.profiles.changed();
    }
    let config = db::users::config_data(&state.db, user.config_id)
        .await
        .or_fail(messages::AUTHENTICATE_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND))?;
    let token = state.tokens.issue_auth_token(user.user_id).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user.user_id, "user authenticated");
    Ok((token, Authenticated { message: message.to_owned(), user: response_user(&user, Some(token)), config }))
}

/// The caller's account and the HOCON config their plugin runs with, as the response's JSON body;
/// served from the per-server [`crate::services::profile_cache`] while no change was heard.
pub async fn profile(state: &AppState, user_id: Uuid) -> Result<Bytes, ApiError> {
    if let Some(body) = state.profiles.get(user_id) {
        return Ok(body);
    }
    let started = state.profiles.load_started();
    let user = existing_user(state, user_id, messages::USER_GET_FAILED).await?;
    let config = db::users::config_data(&state.db, user.config_id)
        .await
        .or_fail(messages::USER_GET_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND))?;
    let view = UserWithConfig { message: messages::USER_RETRIEVED.to_owned(), user: response_user(&user, None), config };
    let body = Bytes::from(serde_json::to_vec(&to_body(&view)).expect("a JSON value serialises"));
    state.profiles.store(user_id, started, body.clone());
    Ok(body)
}

/// Applies the changes (a new password only with the right previous one, when one is given);
/// returns the updated user.
pub async fn update(state: &AppState, user_id: Uuid, update: UserUpdate) -> Result<UserUpdated, ApiError> {
    let current = existing_user(state, user_id, messages::USER_UPDATE_FAILED).await?;
    let mut changes = UserChanges { name: update.name.map(|n| n.as_str().to_owned()), email: update.email, ..UserChanges::default() };
    if let Some(password) = update.password {
        if let Some(previous) = update.previous_password {
            let correct = state.passwords.verify(&previous, Some(&current.password)).await.or_fail(messages::USER_UPDATE_FAILED)?;
            if !correct {
                return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::PREVIOUS_PASSWORD_WRONG));
            }
        }
        changes.password_hash = Some(state.passwords.hash(password.expose()).await.or_fail(messages::USER_UPDATE_FAILED)?);
    }
    changes.preference = update.preference.map(stored_preference);
    let updated = db::users::update(&state.db, user_id, changes).await;
    state.profiles.changed();
    match updated {
        Ok(Some(user)) => Ok(UserUpdated { message: messages::USER_UPDATED.to_owned(), user: response_user(&user, None) }),
        Ok(None) => Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND)),
        Err(UpdateError::EmailTaken) => Err(ApiError::Message(StatusCode::CONFLICT, messages::USER_EXISTS)),
        Err(UpdateError::Database(e)) => Err(e).or_fail(messages::USER_UPDATE_FAILED),
    }
}

/// Upstream's stored form: the defaults overridden by the sent keys, with nested lists and
/// objects stored as JSON *strings* — the plugin decodes `enabled_modules` and `module_values`
/// from strings, so this double encoding is part of the contract.
fn stored_preference(sent: Map<String, Value>) -> String {
    let mut preference = default_preference();
    for (key, value) in sent {
        let value = match value {
            Value::Array(_) | Value::Object(_) => Value::String(value.to_string()),
            scalar => scalar,
        };
        preference.insert(key, value);
    }
    Value::Object(preference).to_string()
}

/// Revokes every token and API key of the user at once (upstream leaves tokens alive), then deletes the account;
/// with `delete_data` their queries, telemetry, sessions, chats and sole projects go too.
pub async fn delete(state: &AppState, user_id: Uuid, delete_data: bool) -> Result<(), ApiError> {
    state.tokens.revoke_user(user_id).await.map_err(ApiError::Unavailable)?;
    let cached_keys = crate::services::api_keys::cache_entries_of(state, user_id).await.or_fail(messages::USER_DELETE_FAILED)?;
    let deleted = db::users::delete(&state.db, user_id, delete_data).await.or_fail(messages::USER_DELETE_FAILED)?;
    state.profiles.changed();
    if !deleted {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    // The keys' rows went with the user; their cached copies go now, not within the minute.
    crate::services::api_keys::drop_cache_entries(state, cached_keys).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user_id, delete_data, "user deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_preference_values_are_stored_as_json_strings_over_the_defaults() {
        let sent = json!({"store_context": true, "enabled_modules": ["A", "B"], "module_values": {"k": "v"}});
        let Value::Object(sent) = sent else { unreachable!() };
        let stored: Value = serde_json::from_str(&stored_preference(sent)).expect("json");
        assert_eq!(stored["store_context"], json!(true));
        assert_eq!(stored["store_contextual_telemetry"], json!(true), "defaults kept");
        assert_eq!(stored["enabled_modules"], json!("[\"A\",\"B\"]"));
        assert_eq!(stored["module_values"], json!("{\"k\":\"v\"}"));
    }
}
