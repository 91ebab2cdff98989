//! Feedback on a completion — accepted or not, and what the user finally typed — shared by
//! `POST /api/completion/feedback` and the WebSocket's `completion_feedback`.
//!
//! Unlike upstream it never answers 404 because the query's rows are still being written:
//! ownership comes from the query's record in Redis (kept an hour) or from PostgreSQL, and feedback
//! that overtakes its query's rows is applied when they land. Another user's query answers the 404
//! of one that does not exist (upstream's 403 would tell them it does).

use axum::http::StatusCode;
use code4me_shared::jobs::telemetry::{DbWrite, FeedbackRecord};
use code4me_shared::redaction::redact;
use code4me_shared::redis_keys::{self as keys, QueryRecordValue};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::requests::FeedbackCompletion;
use crate::contract::responses::{FeedbackRecorded, FeedbackTarget};
use crate::db;
use crate::services::callers::ProjectCaller;
use crate::services::state::AppState;

/// Checks that the caller's query was answered by the model and queues the feedback on the `db`
/// queue.
pub async fn record(state: &AppState, caller: ProjectCaller, request: FeedbackCompletion) -> Result<FeedbackRecorded, ApiError> {
    let query_id = request.meta_query_id;
    let not_found = ApiError::Message(StatusCode::NOT_FOUND, messages::GENERATION_NOT_FOUND);
    let record: Option<QueryRecordValue> = state.tokens.get_json(&keys::key(keys::QUERY_RECORD, query_id)).await.map_err(ApiError::Unavailable)?;
    let (owner, answered) = match record.filter(|r| r.query_type == "completion") {
        Some(record) => (Some(record.user_id), record.answered.contains(&request.model_id)),
        None => {
            let stored = db::queries::completion_answered(&state.db, query_id, request.model_id).await.or_fail(messages::FEEDBACK_FAILED)?;
            let Some(stored) = stored else { return Err(not_found) };
            (stored.user_id, stored.answered)
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
    Ok(FeedbackRecorded {
        message: messages::FEEDBACK_RECORDED.to_owned(),
        data: FeedbackTarget { meta_query_id: query_id, model_id: request.model_id },
    })
}
