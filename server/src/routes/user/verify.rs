//! E-mail verification: `GET /api/user/verify/check`, `POST /api/user/verify/resend`, and the link
//! target `GET /api/user/verify/?token=` (an HTML page).

use axum::extract::State;
use axum::response::Html;

use crate::contract::accounts::parse_verification_token;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::{Message, VerificationStatus};
use crate::http::auth::CurrentUser;
use crate::http::extract::QueryFields;
use crate::http::pages;
use crate::http::reply::Reply;
use crate::services::state::AppState;
use crate::services::verification;

/// Whether the caller's address is verified.
#[utoipa::path(get, path = "/api/user/verify/check", tag = "user", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "`user_is_verified` tells", body = crate::contract::responses::VerificationStatus),
    (status = 401, description = "Not authenticated", body = crate::contract::responses::Message),
    (status = 404, description = "User gone", body = crate::contract::responses::Message)
))]
pub async fn check(State(state): State<AppState>, caller: CurrentUser) -> Result<Reply<VerificationStatus>, ApiError> {
    Ok(Reply(verification::status(&state, caller.user_id).await?))
}

/// Mails a new verification link.
#[utoipa::path(post, path = "/api/user/verify/resend", tag = "user", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Sent", body = crate::contract::responses::Message),
    (status = 401, description = "Not authenticated", body = crate::contract::responses::Message),
    (status = 404, description = "User gone", body = crate::contract::responses::Message)
))]
pub async fn resend(State(state): State<AppState>, caller: CurrentUser) -> Result<Reply<Message>, ApiError> {
    verification::resend(&state, caller.user_id).await?;
    Ok(Reply(Message::new(messages::VERIFICATION_SENT)))
}

/// The link from the mail: marks the address verified and shows a page. The token is single-use
/// (upstream keeps it valid until it expires).
#[utoipa::path(get, path = "/api/user/verify", tag = "user",
    params(("token" = String, Query, description = "Token from the verification mail")),
    responses(
        (status = 200, description = "HTML: verified", content_type = "text/html"),
        (status = 401, description = "Invalid or expired token", body = crate::contract::responses::Message),
        (status = 404, description = "User gone", body = crate::contract::responses::Message),
        (status = 422, description = "`token` missing", body = crate::openapi::ValidationError)
    ))]
pub async fn confirm(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Html<String>, ApiError> {
    verification::confirm(&state, parse_verification_token(&query)?).await?;
    Ok(Html(pages::verification_succeeded()))
}
