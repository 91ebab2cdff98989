//! `POST /api/project/create`: a new project, active in the caller's session.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};

use crate::contract::accounts::parse_project_name;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::ProjectCreated;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::projects;
use crate::services::state::AppState;

/// Creates the project (owned by the caller), activates it in their session and sets the
/// `project_token` cookie; 201 with the token (= the project id).
#[utoipa::path(post, path = "/api/project/create", tag = "project", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::CreateProjectBody),
    responses(
        (status = 201, description = "Created; Set-Cookie project_token", body = crate::contract::responses::ProjectCreated),
        (status = 401, description = "Not authenticated, or no session", body = crate::contract::responses::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, HeaderMap, Reply<ProjectCreated>), ApiError> {
    let project_id = projects::create(&state, caller.user_id, &parse_project_name(&body)?).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookies::set(cookies::PROJECT_TOKEN, &project_id.to_string(), None, state.settings.cookie_secure));
    Ok((StatusCode::CREATED, headers, Reply(ProjectCreated { message: messages::PROJECT_CREATED.to_owned(), project_token: project_id })))
}
