//! `/api/analytics/studies/...` (admin): A/B studies over config rows — create, list, details,
//! activate, deactivate. Their evaluation is in `study_evaluation.rs`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::params::{self, Params, bad_request};
use crate::contract::error::ApiError;
use crate::db::analytics::studies as arms_db;
use crate::db::studies::{self, StudyRow};
use crate::http::auth::AdminCaller;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;
use crate::services::studies::{self as study_flows, StudyDraft};

/// The study id in a path; a 400 when it is not a UUID.
pub(super) fn study_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| bad_request("Invalid study ID format"))
}

/// A study.
#[derive(Debug, Serialize, ToSchema)]
pub struct Study {
    /// The study.
    pub study_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it tests.
    pub description: Option<String>,
    /// The admin who created it.
    pub creator_name: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; `null` while open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is the active study.
    pub is_active: bool,
    /// The baseline arm, where users go when it ends.
    pub default_config_id: i64,
    /// Its arms (the baseline included), ascending.
    pub config_ids: Vec<i64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Study {
    fn new(row: StudyRow, config_ids: Vec<i64>) -> Self {
        Self {
            study_id: row.study_id,
            name: row.name,
            description: row.description,
            creator_name: row.creator_name,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            is_active: row.is_active,
            default_config_id: row.default_config_id,
            config_ids,
            created_at: row.created_at,
        }
    }
}

/// The body's time field `name`, when present: any ISO 8601 form [`params::parse_time`] reads
/// (upstream's study form sends `2026-01-31T12:00`), no zone meaning UTC.
fn parse_time(body: &Value, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => params::parse_time(name, raw).map(Some),
        Some(_) => Err(bad_request(format!("Invalid {name}: expected an ISO 8601 string"))),
    }
}

/// `201` of `POST /api/analytics/studies/create`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyCreatedResponse {
    /// The new study.
    pub study_id: Uuid,
    /// Its name.
    pub name: String,
    /// Whether it was activated at once.
    pub is_active: bool,
    /// `Study created successfully`.
    pub message: &'static str,
}

/// Creates a study; its arms are `config_ids` plus the default config (the baseline). A study
/// whose start has come (and whose end has not) is activated at once.
#[utoipa::path(post, path = "/api/analytics/studies/create", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    request_body(content = crate::openapi::CreateStudyBody),
    responses(
        (status = 201, description = "Created", body = StudyCreatedResponse),
        (status = 400, description = "Invalid field, or a config that does not exist", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn create(
    State(state): State<AppState>,
    admin: AdminCaller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<StudyCreatedResponse>), ApiError> {
    let name =
        body.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| bad_request("Invalid name: required"))?;
    let description = body.get("description").and_then(Value::as_str);
    let starts_at = parse_time(&body, "starts_at")?.ok_or_else(|| bad_request("Invalid starts_at: required"))?;
    let ends_at = parse_time(&body, "ends_at")?;
    if ends_at.is_some_and(|end| end <= starts_at) {
        return Err(bad_request("Invalid ends_at: must be after starts_at"));
    }
    let default =
        body.get("default_config_id").and_then(Value::as_i64).ok_or_else(|| bad_request("Invalid default_config_id: an integer is required"))?;
    let config_ids: Vec<i64> = body
        .get("config_ids")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter().map(|id| id.as_i64().ok_or_else(|| bad_request("Invalid config_ids: integers expected"))).collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("Invalid config_ids: at least one config is required"))?;
    let draft = StudyDraft { name, description, starts_at, ends_at, default_config_id: default, config_ids };
    let created = study_flows::create(&state, admin.user_id, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(StudyCreatedResponse {
            study_id: created.study_id,
            name: name.to_owned(),
            is_active: created.is_active,
            message: "Study created successfully",
        }),
    ))
}

/// `GET /api/analytics/studies/list`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyListResponse {
    /// The studies, newest first.
    pub studies: Vec<ListedStudy>,
}

/// A study in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedStudy {
    /// The study.
    #[serde(flatten)]
    pub study: Study,
    /// Users ever assigned an arm of it.
    pub assigned_users_count: i64,
}

/// Studies, newest first; inactive ones only with `include_inactive=true`.
#[utoipa::path(get, path = "/api/analytics/studies/list", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("include_inactive" = Option<bool>, Query, description = "Also list inactive studies (default false)")),
    responses((status = 200, description = "The studies", body = StudyListResponse))
)]
pub async fn list(State(state): State<AppState>, _admin: AdminCaller, Query(params): Query<Params>) -> Result<Json<StudyListResponse>, ApiError> {
    let include_inactive = params.get("include_inactive").is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
    let listed = studies::list(&state.db, include_inactive)
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|row| ListedStudy { study: Study::new(row.study, row.config_ids), assigned_users_count: row.assigned_users_count })
        .collect();
    Ok(Json(StudyListResponse { studies: listed }))
}

/// `GET /api/analytics/studies/{study_id}/details`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyDetailsResponse {
    /// The study.
    pub study: Study,
    /// Per arm with assigned users, by config id.
    pub assignments: Vec<ArmAssignment>,
}

/// An arm's assigned users.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArmAssignment {
    /// The arm's config.
    pub config_id: i64,
    /// Users assigned to it.
    pub user_count: i64,
    /// Share of them who queried during the study (0..1).
    pub engagement_rate: f64,
}

/// A study with, per arm, its users and the share of them who queried during the study.
#[utoipa::path(get, path = "/api/analytics/studies/{study_id}/details", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("study_id" = Uuid, Path, description = "The study")),
    responses(
        (status = 200, description = "The study and its arms", body = StudyDetailsResponse),
        (status = 400, description = "Not a UUID", body = crate::contract::responses::Detail),
        (status = 404, description = "No such study", body = crate::contract::responses::Detail)
    ))]
pub async fn details(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<StudyDetailsResponse>, ApiError> {
    let id = study_id(&raw)?;
    let row = study_flows::find(&state, id).await?;
    let arms = studies::arms(&state.db, id).await.map_err(ApiError::database)?;
    let assignments = arms_db::assignments(&state.db, id)
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|arm| ArmAssignment {
            config_id: arm.config_id,
            user_count: arm.user_count,
            engagement_rate: arm.engaged as f64 / arm.user_count as f64,
        })
        .collect();
    Ok(Json(StudyDetailsResponse { study: Study::new(row, arms), assignments }))
}

/// `POST /api/analytics/studies/{study_id}/activate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyActivatedResponse {
    /// `Study '<name>' activated successfully`.
    pub message: String,
    /// The study.
    pub study_id: Uuid,
    /// Verified users put on an arm.
    pub assigned_users: usize,
}

/// Activates a study (any other active study ends) and puts every verified user on their arm.
#[utoipa::path(post, path = "/api/analytics/studies/{study_id}/activate", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("study_id" = Uuid, Path, description = "The study")),
    responses(
        (status = 200, description = "Activated", body = StudyActivatedResponse),
        (status = 400, description = "Not a UUID", body = crate::contract::responses::Detail),
        (status = 404, description = "No such study", body = crate::contract::responses::Detail)
    ))]
pub async fn activate(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<StudyActivatedResponse>, ApiError> {
    let id = study_id(&raw)?;
    let (study, assigned) = study_flows::activate(&state, id).await?;
    Ok(Json(StudyActivatedResponse { message: format!("Study '{}' activated successfully", study.name), study_id: id, assigned_users: assigned }))
}

/// `POST /api/analytics/studies/{study_id}/deactivate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyDeactivatedResponse {
    /// `Study '<name>' deactivated successfully`.
    pub message: String,
    /// Users moved back to the default config.
    pub users_reset: u64,
    /// The study's default config.
    pub default_config_id: i64,
}

/// Ends an active study; its users go back to its default config (their arms are kept, so
/// re-activating puts each back on the same one).
#[utoipa::path(post, path = "/api/analytics/studies/{study_id}/deactivate", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("study_id" = Uuid, Path, description = "The study")),
    responses(
        (status = 200, description = "Deactivated", body = StudyDeactivatedResponse),
        (status = 400, description = "Not a UUID", body = crate::contract::responses::Detail),
        (status = 404, description = "No such active study", body = crate::contract::responses::Detail)
    ))]
pub async fn deactivate(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(raw): Path<String>,
) -> Result<Json<StudyDeactivatedResponse>, ApiError> {
    let id = study_id(&raw)?;
    let (study, reset) = study_flows::deactivate(&state, id).await?;
    Ok(Json(StudyDeactivatedResponse {
        message: format!("Study '{}' deactivated successfully", study.name),
        users_reset: reset,
        default_config_id: study.default_config_id,
    }))
}
