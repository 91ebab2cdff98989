//! `GET /api/completion/{query_id}`: a past completion query's items.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use code4me_shared::redis_keys::{self as keys, QueryRecordValue};
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::http::auth::SessionCaller;
use crate::services::state::AppState;

/// The query's completions, from PostgreSQL, or from its Redis record while its rows are still
/// queued. Only the query's owner may read it; anyone else gets the 404 of an id that does not
/// exist (upstream's 403 would tell them it does).
#[utoipa::path(get, path = "/api/completion/{query_id}", tag = "completion", security(("session_token" = [])),
    params(("query_id" = uuid::Uuid, Path, description = "meta_query_id")),
    responses(
        (status = 200, description = "The query's items", body = crate::openapi::CompletionsResponse),
        (status = 401, description = "No live session", body = crate::openapi::Message),
        (status = 404, description = "No such query of the caller's (another user's answers the same)", body = crate::openapi::Message)
    ))]
pub async fn get(State(state): State<AppState>, caller: SessionCaller, Path(raw_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND);
    let Ok(query_id) = uuid::Uuid::parse_str(&raw_id) else { return Err(not_found()) };
    let owner: Option<Option<uuid::Uuid>> =
        sqlx::query_scalar("SELECT user_id FROM meta_query WHERE meta_query_id = $1 AND query_type = 'completion'")
            .bind(query_id)
            .fetch_optional(&state.db)
            .await
            .or_fail(messages::COMPLETIONS_RETRIEVE_FAILED)?;
    let Some(owner) = owner else {
        let record: Option<QueryRecordValue> =
            state.tokens.get_json(&keys::key(keys::QUERY_RECORD, query_id)).await.map_err(ApiError::Unavailable)?;
        return match record.filter(|r| r.query_type == "completion" && r.user_id == caller.user_id) {
            Some(r) => Ok(Json(json!({"message": messages::COMPLETIONS_RETRIEVED, "data": r.response}))),
            None => Err(not_found()),
        };
    };
    if owner != Some(caller.user_id) {
        return Err(not_found());
    }
    let rows: Vec<(i64, String, String, i32, f64)> = sqlx::query_as(
        "SELECT g.model_id, m.model_name, g.completion, g.generation_time, g.confidence FROM had_generation g \
         JOIN model_name m ON m.model_id = g.model_id WHERE g.meta_query_id = $1 ORDER BY g.model_id",
    )
    .bind(query_id)
    .fetch_all(&state.db)
    .await
    .or_fail(messages::COMPLETIONS_RETRIEVE_FAILED)?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|(model_id, model_name, completion, generation_time, confidence)| {
            json!({"model_id": model_id, "model_name": model_name, "completion": completion, "generation_time": generation_time, "confidence": confidence})
        })
        .collect();
    Ok(Json(json!({"message": messages::COMPLETIONS_RETRIEVED, "data": {"meta_query_id": query_id, "completions": items}})))
}
