//! `POST /api/project/create`: a new project, active in the caller's session.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use code4me_shared::domain::ProjectName;
use code4me_shared::redis_keys::ProjectValue;
use code4me_shared::validation::Fields;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::projects;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;

/// Creates the project (owned by the caller), activates it in their session and sets the
/// `project_token` cookie; 201 with the token (= the project id).
#[utoipa::path(post, path = "/api/project/create", tag = "project", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::CreateProjectBody),
    responses(
        (status = 201, description = "Created; Set-Cookie project_token", body = crate::openapi::ProjectCreated),
        (status = 401, description = "Not authenticated, or no session", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, HeaderMap, Json<Value>), ApiError> {
    let mut f = Fields::body(&body);
    let name = f.required("project_name", ProjectName::parse);
    f.finish()?;
    let Some(name) = name else { return Err(ApiError::Validation(Vec::new())) };
    let (session_token, session) = super::live_session(&state, &caller).await?;
    let project_id = Uuid::new_v4();
    projects::create(&state.db, project_id, name.as_str(), caller.user_id, session_token).await.or_fail(messages::PROJECT_CREATE_FAILED)?;
    state.tokens.attach_project(session_token, session, project_id, ProjectValue::default()).await.or_fail(messages::PROJECT_CREATE_FAILED)?;
    tracing::info!(user.id = %caller.user_id, project.id = %project_id, "project created");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookies::set(cookies::PROJECT_TOKEN, &project_id.to_string(), None, state.settings.cookie_secure));
    Ok((StatusCode::CREATED, headers, Json(json!({"message": messages::PROJECT_CREATED, "project_token": project_id}))))
}
