//! `PUT /api/admin/users/{user_id}/tier`: an admin sets a user's tier.

use axum::Json;
use axum::extract::{Path, State};

use crate::contract::api_keys::TierChanged;
use crate::contract::error::ApiError;
use crate::http::auth::AdminCaller;
use crate::http::extract::JsonBody;
use crate::services::admin;
use crate::services::state::AppState;

/// Sets the tier; the user's keys get its quotas from their next request.
#[utoipa::path(put, path = "/api/admin/users/{user_id}/tier", tag = "keys", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("user_id" = String, Path, description = "The user")),
    request_body(content = crate::openapi::TierBody),
    responses(
        (status = 200, description = "The tier now", body = TierChanged),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail),
        (status = 404, description = "No such user", body = crate::contract::responses::Detail),
        (status = 422, description = "`tier` is not free, pro or enterprise", body = crate::openapi::ValidationError)
    ))]
pub async fn set_tier(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<TierChanged>, ApiError> {
    Ok(Json(admin::set_tier(&state, &user_id, &body).await?))
}
