//! The A/B study flows the admin endpoints run: creating a study (its configs checked, activated
//! at once when its start has come), activating and deactivating one. Whoever's config changes is
//! re-read on their next query: the per-user config cache is cleared after each change.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::db::studies::{self, NewStudy, StudyRow};
use crate::services::state::AppState;

fn bad_request(message: String) -> ApiError {
    ApiError::Detail(StatusCode::BAD_REQUEST, message)
}

fn not_found() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, "Study not found".into())
}

/// The study `study_id`; a 404 when there is none.
pub async fn find(state: &AppState, study_id: Uuid) -> Result<StudyRow, ApiError> {
    studies::find(&state.db, study_id).await.map_err(ApiError::database)?.ok_or_else(not_found)
}

/// A study as an admin asks for it, its fields already read.
#[derive(Debug, Clone)]
pub struct StudyDraft<'a> {
    /// Its name (not blank).
    pub name: &'a str,
    /// What it tests.
    pub description: Option<&'a str>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends (after `starts_at`); `None` for open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    /// The baseline arm.
    pub default_config_id: i64,
    /// The other arms (at least one; the baseline may repeat among them).
    pub config_ids: Vec<i64>,
}

/// A study just created.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    /// Its id.
    pub study_id: Uuid,
    /// Whether it was activated at once.
    pub is_active: bool,
}

/// Stores `draft`, created by `admin`, with its arms (`config_ids` plus the baseline, each once;
/// a 400 when one is not a config row); a study whose start has come (and whose end has not) is
/// activated at once.
pub async fn create(state: &AppState, admin: Uuid, draft: StudyDraft<'_>) -> Result<Created, ApiError> {
    let mut arms = draft.config_ids;
    arms.push(draft.default_config_id);
    arms.sort_unstable();
    arms.dedup();
    let known = studies::existing_configs(&state.db, &arms).await.map_err(ApiError::database)?;
    if known != arms.len() as i64 {
        return Err(bad_request(format!("Invalid config_ids: some of {arms:?} do not exist")));
    }
    let study_id = Uuid::new_v4();
    let study = NewStudy {
        study_id,
        name: draft.name,
        description: draft.description,
        created_by: admin,
        starts_at: draft.starts_at,
        ends_at: draft.ends_at,
        default_config_id: draft.default_config_id,
        arms: &arms,
    };
    studies::insert(&state.db, study).await.map_err(ApiError::database)?;
    let now = Utc::now();
    let is_active = draft.starts_at <= now && draft.ends_at.is_none_or(|end| end > now);
    if is_active {
        studies::activate(&state.db, study_id).await.map_err(ApiError::database)?;
        state.user_configs.forget_all();
        state.profiles.changed();
    }
    Ok(Created { study_id, is_active })
}

/// Activates the study `study_id` (any other active study ends) and puts every verified user on
/// their arm; returns the study and how many users are assigned, or a 404.
pub async fn activate(state: &AppState, study_id: Uuid) -> Result<(StudyRow, usize), ApiError> {
    let study = find(state, study_id).await?;
    let assigned = studies::activate(&state.db, study_id).await.map_err(ApiError::database)?;
    state.user_configs.forget_all();
    state.profiles.changed();
    Ok((study, assigned))
}

/// Ends the active study `study_id`; its users go back to its default config. Returns the study
/// and how many users were reset, or a 404 when there is no such study or it is not active.
pub async fn deactivate(state: &AppState, study_id: Uuid) -> Result<(StudyRow, u64), ApiError> {
    let study = find(state, study_id).await?;
    let reset = studies::deactivate(&state.db, study_id)
        .await
        .map_err(ApiError::database)?
        .ok_or_else(|| ApiError::Detail(StatusCode::NOT_FOUND, "Active study not found".into()))?;
    state.user_configs.forget_all();
    state.profiles.changed();
    Ok((study, reset))
}
