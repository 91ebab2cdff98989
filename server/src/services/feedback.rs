//! `POST /api/completion/feedback`: acceptance and ground truth of a completion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use code4me_shared::jobs::{DbWrite, FeedbackRecord};
use code4me_shared::redaction::redact;
use code4me_shared::redis_keys::{self as keys, QueryRecordValue};
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::requests::FeedbackCompletion;
use crate::http::auth::ProjectCaller;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;

/// Records feedback through the `db` queue. Unlike upstream it never answers 404 because the
/// query's rows are still being written: ownership comes from the query's record in Redis (kept
/// an hour) or from PostgreSQL, and feedback that overtakes its query's rows is applied when they
/// land. Another user's query answers the 404 of one that does not exist (upstream's 403 would
/// tell them it does).
#[utoipa::path(post, path = "/api/completion/feedback", tag = "completion", security(("session_token" = [], "project_token" = [])),
    request_body(content = crate::openapi::FeedbackBody),
    responses(
        (status = 200, description = "Recorded", body = crate::openapi::Message),
        (status = 401, description = "No live session, or the project is not active in it", body = crate::openapi::Message),
        (status = 404, description = "No such query of the caller's (another user's answers the same), or the model did not answer it", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError),
        (status = 503, description = "Redis unreachable; not recorded")
    ))]
pub async fn feedback(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    Ok(Json(record(&state, caller, body).await?))
}

/// Checks and queues one feedback body; the response body (REST and WebSocket).
pub async fn record(state: &AppState, caller: ProjectCaller, body: Value) -> Result<Value, ApiError> {
    let request = FeedbackCompletion::parse(body)?;
    let query_id = request.meta_query_id;
    let not_found = ApiError::Message(StatusCode::NOT_FOUND, messages::GENERATION_NOT_FOUND);
    let record: Option<QueryRecordValue> = state.tokens.get_json(&keys::key(keys::QUERY_RECORD, query_id)).await.map_err(ApiError::Unavailable)?;
    let (owner, answered) = match record.filter(|r| r.query_type == "completion") {
        Some(record) => (Some(record.user_id), record.answered.contains(&request.model_id)),
        None => {
            let row: Option<(Option<uuid::Uuid>, bool)> = sqlx::query_as(
                "SELECT mq.user_id, EXISTS (SELECT 1 FROM had_generation g WHERE g.meta_query_id = mq.meta_query_id AND g.model_id = $2) \
                 FROM meta_query mq WHERE mq.meta_query_id = $1 AND mq.query_type = 'completion'",
            )
            .bind(query_id)
            .bind(request.model_id)
            .fetch_optional(&state.db)
            .await
            .or_fail(messages::FEEDBACK_FAILED)?;
            let Some((owner, answered)) = row else { return Err(not_found) };
            (owner, answered)
        }
    };
    if owner != Some(caller.user_id) || !answered {
        return Err(not_found);
    }
    let record = FeedbackRecord {
        query_id,
        model_id: request.model_id,
        was_accepted: request.was_accepted,
        ground_truth: request.ground_truth.as_deref().map(|t| redact(t).into_owned()),
        received_at: chrono::Utc::now(),
    };
    state.pipeline.record(DbWrite::Feedback(record)).await.map_err(ApiError::Unavailable)?;
    Ok(json!({"message": messages::FEEDBACK_RECORDED, "data": {"meta_query_id": query_id, "model_id": request.model_id}}))
}
