//! `POST /api/completion/feedback`: acceptance and ground truth of a completion.

use axum::extract::State;

use crate::contract::error::ApiError;
use crate::contract::requests::FeedbackCompletion;
use crate::contract::responses::{FeedbackRecorded, Message};
use crate::http::auth::ProjectCaller;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::feedback;
use crate::services::state::AppState;

/// Records feedback through the `db` queue. Unlike upstream it never answers 404 because the
/// query's rows are still being written: ownership comes from the query's record in Redis (kept
/// an hour) or from PostgreSQL, and feedback that overtakes its query's rows is applied when they
/// land. Another user's query answers the 404 of one that does not exist (upstream's 403 would
/// tell them it does).
#[utoipa::path(post, path = "/api/completion/feedback", tag = "completion", security(("session_token" = [], "project_token" = [])),
    request_body(content = crate::openapi::FeedbackBody),
    responses(
        (status = 200, description = "Recorded", body = Message),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 404, description = "No such query of the caller's (another user's answers the same), or the model did not answer it", body = Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError),
        (status = 503, description = "Redis unreachable; not recorded")
    ))]
pub async fn feedback(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Reply<FeedbackRecorded>, ApiError> {
    Ok(Reply(feedback::record(&state, caller, FeedbackCompletion::parse(body)?).await?))
}
