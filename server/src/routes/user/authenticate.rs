//! `POST /api/user/authenticate`: log in with e-mail and password, or with a Google ID token.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use code4me_shared::domain::Email;
use code4me_shared::validation::{Fields, Issue, Rejection};
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, UserRow};
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;

/// How the caller proves who they are. Dispatch is on `provider == "google"` with a non-empty
/// token — the plugin always sends `provider:"no_provider", token:""` with its e-mail and password
/// (upstream mis-dispatches some of these bodies).
enum Credentials {
    Password { email: Email, password: String },
    Google { token: String },
}

fn parse(body: &Value) -> Result<Credentials, Vec<Issue>> {
    let mut f = Fields::body(body);
    let provider = f.optional("provider", |s| Ok(s.to_owned())).flatten();
    let token = f.optional("token", |s| Ok(s.to_owned())).flatten().filter(|t| !t.is_empty());
    if let (Some("google"), Some(token)) = (provider.as_deref(), token) {
        f.finish()?;
        return Ok(Credentials::Google { token });
    }
    let email = f.required("email", Email::parse);
    let password = f.required("password", |s| if s.is_empty() { Err(Rejection::too_short(1)) } else { Ok(s.to_owned()) });
    match (email, password, f.finish()) {
        (Some(email), Some(password), Ok(())) => Ok(Credentials::Password { email, password }),
        (.., Err(issues)) => Err(issues),
        _ => Err(Vec::new()),
    }
}

/// Verifies the credentials, issues an auth token (cookie `auth_token`) and returns the user with
/// the HOCON config their plugin runs with.
#[utoipa::path(
    post,
    path = "/api/user/authenticate",
    tag = "user",
    request_body(content = crate::openapi::AuthenticateBody),
    responses(
        (status = 200, description = "Authenticated; Set-Cookie auth_token", body = crate::openapi::Authenticated),
        (status = 401, description = "Wrong e-mail/password, or an invalid Google token", body = crate::openapi::Message),
        (status = 404, description = "The user's config is missing", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn authenticate(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let (user, message) = match parse(&body)? {
        Credentials::Password { email, password } => {
            let user = users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)?;
            // Verify even when the address is unknown, so both failures take equally long.
            let matches =
                state.passwords.verify(&password, user.as_ref().map(|u| u.password.as_str())).await.or_fail(messages::AUTHENTICATE_FAILED)?;
            match user {
                Some(user) if matches => (user, messages::AUTHENTICATED_PASSWORD),
                _ => return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_CREDENTIALS)),
            }
        }
        Credentials::Google { token } => {
            let invalid = ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN);
            let identity = super::verify_google(&state, &token).await?;
            let email = Email::parse(&identity.email).map_err(|_| ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN))?;
            let user = users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)?.ok_or(invalid)?;
            (user, messages::AUTHENTICATED_OAUTH)
        }
    };
    log_in(&state, &user, message).await
}

/// Issues a token for `user` and builds the authenticate response (also used by the browser flow).
pub async fn log_in(state: &AppState, user: &UserRow, message: &'static str) -> Result<(HeaderMap, Json<Value>), ApiError> {
    // While a study is active, a user without an arm gets one now (and the arm's config below).
    let mut user = user.clone();
    if let Some(arm) = crate::services::studies::assign_on_login(&state.db, user.user_id).await.or_fail(messages::AUTHENTICATE_FAILED)? {
        user.config_id = arm;
        state.user_configs.forget(user.user_id);
    }
    let config = users::config_data(&state.db, user.config_id)
        .await
        .or_fail(messages::AUTHENTICATE_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND))?;
    let token = state.tokens.issue_auth_token(user.user_id).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user.user_id, "user authenticated");
    let mut headers = HeaderMap::new();
    let cookie = cookies::set(cookies::AUTH_TOKEN, &token.to_string(), Some(state.settings.tokens.auth_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Json(json!({"message": message, "user": user.to_response(Some(token)), "config": config}))))
}
