//! `GET /api/completion/{query_id}`: a past completion query's items.

use axum::extract::{Path, State};

use crate::contract::error::ApiError;
use crate::contract::responses::{CompletionsResponse, Message};
use crate::http::auth::SessionCaller;
use crate::http::reply::Reply;
use crate::services::completion;
use crate::services::state::AppState;

/// The query's completions, from PostgreSQL, or from its Redis record while its rows are still
/// queued. Only the query's owner may read it; anyone else gets the 404 of an id that does not
/// exist (upstream's 403 would tell them it does).
#[utoipa::path(get, path = "/api/completion/{query_id}", tag = "completion", security(("session_token" = [])),
    params(("query_id" = uuid::Uuid, Path, description = "meta_query_id")),
    responses(
        (status = 200, description = "The query's items", body = CompletionsResponse),
        (status = 401, description = "No live session", body = Message),
        (status = 404, description = "No such query of the caller's (another user's answers the same)", body = Message)
    ))]
pub async fn get(State(state): State<AppState>, caller: SessionCaller, Path(raw_id): Path<String>) -> Result<Reply<CompletionsResponse>, ApiError> {
    Ok(Reply(completion::stored(&state, caller, &raw_id).await?))
}
