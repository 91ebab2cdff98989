//! `DELETE /api/user/delete?delete_data=`: delete the account, optionally with its data.

use axum::extract::State;
use axum::http::{HeaderMap, header};

use crate::contract::accounts::parse_delete_data;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::Message;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::QueryFields;
use crate::http::reply::Reply;
use crate::services::accounts;
use crate::services::state::AppState;

/// Revokes every token of the user at once (upstream leaves them alive), then deletes the account;
/// with `delete_data=true` their queries, telemetry, sessions, chats and sole projects go too.
#[utoipa::path(
    delete,
    path = "/api/user/delete",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    params(("delete_data" = Option<bool>, Query, description = "Also delete the user's data (default false)")),
    responses(
        (status = 200, description = "Deleted; cookies cleared", body = crate::contract::responses::Message),
        (status = 401, description = "Not authenticated", body = crate::contract::responses::Message),
        (status = 404, description = "User gone", body = crate::contract::responses::Message),
        (status = 422, description = "`delete_data` is not a boolean", body = crate::openapi::ValidationError)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: CurrentUser,
    QueryFields(query): QueryFields,
) -> Result<(HeaderMap, Reply<Message>), ApiError> {
    accounts::delete(&state, caller.user_id, parse_delete_data(&query)?).await?;
    let secure = state.settings.cookie_secure;
    let mut headers = HeaderMap::new();
    for name in [cookies::AUTH_TOKEN, cookies::SESSION_TOKEN, cookies::PROJECT_TOKEN] {
        headers.append(header::SET_COOKIE, cookies::clear(name, secure));
    }
    Ok((headers, Reply(Message::new(messages::USER_DELETED))))
}
