//! `POST /api/user/authenticate`: log in with e-mail and password, or with a Google ID token.

use axum::extract::State;
use axum::http::{HeaderMap, header};

use crate::contract::accounts::Credentials;
use crate::contract::error::ApiError;
use crate::contract::responses::Authenticated;
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::accounts;
use crate::services::state::AppState;

/// Verifies the credentials, issues an auth token (cookie `auth_token`) and returns the user with
/// the HOCON config their plugin runs with.
#[utoipa::path(
    post,
    path = "/api/user/authenticate",
    tag = "user",
    request_body(content = crate::openapi::AuthenticateBody),
    responses(
        (status = 200, description = "Authenticated; Set-Cookie auth_token", body = crate::contract::responses::Authenticated),
        (status = 401, description = "Wrong e-mail/password, or an invalid Google token", body = crate::contract::responses::Message),
        (status = 404, description = "The user's config is missing", body = crate::contract::responses::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn authenticate(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<(HeaderMap, Reply<Authenticated>), ApiError> {
    let (user, message) = accounts::authenticate(&state, Credentials::parse(&body)?).await?;
    let (token, response) = accounts::log_in(&state, &user, message).await?;
    let mut headers = HeaderMap::new();
    let cookie = cookies::set(cookies::AUTH_TOKEN, &token.to_string(), Some(state.settings.tokens.auth_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Reply(response)))
}
