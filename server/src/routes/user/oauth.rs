//! The website's sign-in with a provider (ours; upstream's website posts Google's ID token to
//! `/api/user/authenticate`, which also works): `GET /api/user/oauth/providers`,
//! `GET /api/user/oauth/{provider}/login`, `GET /api/user/oauth/{provider}/callback` for
//! `google`, `github` and `microsoft`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::http::cookies;
use crate::http::extract::QueryFields;
use crate::services::sign_in::{self, Provider};
use crate::services::state::AppState;

/// Which sign-in providers the website should offer.
#[utoipa::path(get, path = "/api/user/oauth/providers", tag = "user", responses((status = 200, description = "The providers", body = Providers)))]
pub async fn providers(State(state): State<AppState>) -> Json<Providers> {
    Json(Providers {
        google: sign_in::offered(&state, Provider::Google),
        github: sign_in::offered(&state, Provider::GitHub),
        microsoft: sign_in::offered(&state, Provider::Microsoft),
    })
}

/// Body of `GET /api/user/oauth/providers`.
#[derive(Serialize, ToSchema)]
pub struct Providers {
    /// Whether "Sign in with Google" works (client id and secret configured).
    google: bool,
    /// Whether "Sign in with GitHub" works (client id and secret configured).
    github: bool,
    /// Whether "Sign in with Microsoft" works (client id and secret configured).
    microsoft: bool,
}

/// The provider a URL names; an unknown one is a 404 like any unknown path.
fn provider(name: &str) -> Result<Provider, ApiError> {
    Provider::parse(name).ok_or_else(|| ApiError::Detail(StatusCode::NOT_FOUND, messages::NOT_FOUND.into()))
}

/// Sends the browser to the provider (303), remembering the PKCE verifier and nonce.
#[utoipa::path(get, path = "/api/user/oauth/{provider}/login", tag = "user",
    params(
        ("provider" = String, Path, description = "`google`, `github` or `microsoft`"),
        ("return_to" = Option<String>, Query, description = "Site path to land on afterwards")
    ),
    responses(
        (status = 303, description = "To the provider", headers(("Location" = String, description = "The provider's authorization page"))),
        (status = 404, description = "Unknown provider, or its sign-in is not configured", body = crate::contract::responses::Detail)
    ))]
pub async fn login(State(state): State<AppState>, Path(name): Path<String>, QueryFields(query): QueryFields) -> Result<Response, ApiError> {
    let redirect_to = sign_in::start(&state, provider(&name)?, query.get("return_to").and_then(Value::as_str)).await?;
    Ok(Redirect::to(&redirect_to).into_response())
}

/// Finishes the sign-in: exchange, verify the address, find or create the account, set the
/// cookie, and send the browser back to the site (303).
#[utoipa::path(get, path = "/api/user/oauth/{provider}/callback", tag = "user",
    params(
        ("provider" = String, Path, description = "`google`, `github` or `microsoft`"),
        ("code" = String, Query, description = "Authorization code"),
        ("state" = String, Query, description = "Flow state")
    ),
    responses(
        (status = 303, description = "Signed in; Set-Cookie auth_token", headers(("Location" = String, description = "The site path to land on"))),
        (status = 401, description = "Missing, unknown, reused or another provider's state; refused code; unverified e-mail", body = crate::contract::responses::Message),
        (status = 404, description = "Unknown provider, or its sign-in is not configured", body = crate::contract::responses::Detail)
    ))]
pub async fn callback(State(state): State<AppState>, Path(name): Path<String>, QueryFields(query): QueryFields) -> Result<Response, ApiError> {
    let param = |name: &str| query.get(name).and_then(Value::as_str).map(str::to_owned);
    let (token, return_to) = sign_in::finish(&state, provider(&name)?, param("code"), param("state")).await?;
    let mut headers = HeaderMap::new();
    let cookie = cookies::set(cookies::AUTH_TOKEN, &token.to_string(), Some(state.settings.tokens.auth_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Redirect::to(&return_to)).into_response())
}
