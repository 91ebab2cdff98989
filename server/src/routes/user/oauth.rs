//! The website's Google sign-in (ours; upstream's website posts Google's ID token to
//! `/api/user/authenticate`, which also works): `GET /api/user/oauth/providers`,
//! `GET /api/user/oauth/google/login`, `GET /api/user/oauth/google/callback`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::contract::error::ApiError;
use crate::http::cookies;
use crate::http::extract::QueryFields;
use crate::services::google_sign_in;
use crate::services::state::AppState;

/// Which sign-in providers the website should offer.
#[utoipa::path(get, path = "/api/user/oauth/providers", tag = "user", responses((status = 200, description = "The providers", body = Providers)))]
pub async fn providers(State(state): State<AppState>) -> Json<Providers> {
    Json(Providers { google: google_sign_in::offered(&state) })
}

/// Body of `GET /api/user/oauth/providers`.
#[derive(Serialize, ToSchema)]
pub struct Providers {
    /// Whether "Sign in with Google" works (client id and secret configured).
    google: bool,
}

/// Sends the browser to the provider (303), remembering the PKCE verifier and nonce.
#[utoipa::path(get, path = "/api/user/oauth/google/login", tag = "user",
    params(("return_to" = Option<String>, Query, description = "Site path to land on afterwards")),
    responses(
        (status = 303, description = "To the provider", headers(("Location" = String, description = "The provider's authorization page"))),
        (status = 404, description = "Google sign-in not configured", body = crate::contract::responses::Detail)
    ))]
pub async fn login(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Response, ApiError> {
    let redirect_to = google_sign_in::start(&state, query.get("return_to").and_then(Value::as_str)).await?;
    Ok(Redirect::to(&redirect_to).into_response())
}

/// Finishes the sign-in: exchange, verify, find or create the account, set the cookie, and send
/// the browser back to the site (303).
#[utoipa::path(get, path = "/api/user/oauth/google/callback", tag = "user",
    params(("code" = String, Query, description = "Authorization code"), ("state" = String, Query, description = "Flow state")),
    responses(
        (status = 303, description = "Signed in; Set-Cookie auth_token", headers(("Location" = String, description = "The site path to land on"))),
        (status = 401, description = "Invalid flow or token", body = crate::contract::responses::Message),
        (status = 404, description = "Google sign-in not configured", body = crate::contract::responses::Detail)
    ))]
pub async fn callback(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Response, ApiError> {
    let param = |name: &str| query.get(name).and_then(Value::as_str).map(str::to_owned);
    let (token, return_to) = google_sign_in::finish(&state, param("code"), param("state")).await?;
    let mut headers = HeaderMap::new();
    let cookie = cookies::set(cookies::AUTH_TOKEN, &token.to_string(), Some(state.settings.tokens.auth_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Redirect::to(&return_to)).into_response())
}
