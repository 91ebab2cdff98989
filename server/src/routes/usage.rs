//! `GET /api/usage`: the caller's metered use and quotas (an admin may ask about any user);
//! `GET /api/usage/quota`: the quotas alone, cheaply (what a client checks before a batch).

use axum::extract::State;
use axum::{Extension, Json};

use crate::contract::api_keys::{QuotaState, UsageReport};
use crate::contract::error::ApiError;
use crate::http::auth::{KeyOrUser, ResearchCaller};
use crate::http::extract::QueryFields;
use crate::services::state::AppState;
use crate::services::usage;

/// Totals and a per-day series by endpoint and model over the period, and the quotas now.
#[utoipa::path(get, path = "/api/usage", tag = "keys", security(("auth_token" = []), ("bearer" = [])),
    params(
        ("period" = Option<String>, Query, description = "`day` (default: today), `week` (7 days) or `month` (30 days), in UTC"),
        ("user_id" = Option<String>, Query, description = "Another user (admins only)")
    ),
    responses(
        (status = 200, description = "The usage report", body = UsageReport),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail),
        (status = 403, description = "`user_id` of another user without admin rights", body = crate::contract::responses::Detail),
        (status = 404, description = "No such user", body = crate::contract::responses::Detail),
        (status = 422, description = "Unknown period or malformed `user_id`", body = crate::openapi::ValidationError)
    ))]
pub async fn report(State(state): State<AppState>, caller: ResearchCaller, QueryFields(query): QueryFields) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(usage::report(&state, caller.user_id, caller.is_admin, &query).await?))
}

/// The caller's quotas now: tier, each window's limit, use, remainder and reset.
#[utoipa::path(get, path = "/api/usage/quota", tag = "keys", security(("auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The quotas", body = QuotaState),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Message)
    ))]
pub async fn quota(State(state): State<AppState>, caller: KeyOrUser, admitted: Option<Extension<QuotaState>>) -> Result<Json<QuotaState>, ApiError> {
    Ok(Json(usage::quota(&state, caller, admitted.map(|Extension(quota)| quota)).await?))
}
