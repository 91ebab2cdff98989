//! `DELETE /api/user/delete?delete_data=`: delete the account, optionally with its data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use code4me_shared::validation::Fields;
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::QueryFields;
use crate::services::state::AppState;

/// Revokes every token of the user at once (upstream leaves them alive), then deletes the account;
/// with `delete_data=true` their queries, telemetry, sessions, chats and sole projects go too.
#[utoipa::path(
    delete,
    path = "/api/user/delete",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    params(("delete_data" = Option<bool>, Query, description = "Also delete the user's data (default false)")),
    responses(
        (status = 200, description = "Deleted; cookies cleared", body = crate::openapi::Message),
        (status = 401, description = "Not authenticated", body = crate::openapi::Message),
        (status = 404, description = "User gone", body = crate::openapi::Message),
        (status = 422, description = "`delete_data` is not a boolean", body = crate::openapi::ValidationError)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: CurrentUser,
    QueryFields(query): QueryFields,
) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let mut f = Fields::at(&query, vec![json!("query")]);
    let delete_data = f.boolean("delete_data");
    f.finish()?;
    let delete_data = delete_data.flatten().unwrap_or(false);
    state.tokens.revoke_user(caller.user_id).await.map_err(ApiError::Unavailable)?;
    let deleted = users::delete(&state.db, caller.user_id, delete_data).await.or_fail(messages::USER_DELETE_FAILED)?;
    if !deleted {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    tracing::info!(user.id = %caller.user_id, delete_data, "user deleted");
    let secure = state.settings.cookie_secure;
    let mut headers = HeaderMap::new();
    for name in [cookies::AUTH_TOKEN, cookies::SESSION_TOKEN, cookies::PROJECT_TOKEN] {
        headers.append(header::SET_COOKIE, cookies::clear(name, secure));
    }
    Ok((headers, Json(json!({"message": messages::USER_DELETED}))))
}
