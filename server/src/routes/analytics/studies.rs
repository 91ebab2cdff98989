//! `/api/analytics/studies/...` (admin): A/B studies over config rows — create, list, details,
//! activate, deactivate, and an evaluation that compares each arm with the baseline (the default
//! config) by acceptance: uplift, a 95 % interval of the difference, a two-proportion z-test, and a
//! warning while an arm has too few generations to say anything.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::analytics::stats::two_proportions;
use crate::analytics::{Params, bad_request};
use crate::auth::extract::AdminCaller;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::studies;

/// An arm needs at least this many generations before its comparison is worth reading.
pub const MIN_GENERATIONS_PER_ARM: i64 = 100;


fn study_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| bad_request("Invalid study ID format"))
}

fn not_found() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, "Study not found".into())
}

/// A study's row.
type StudyRow = (Uuid, String, Option<String>, String, DateTime<Utc>, Option<DateTime<Utc>>, bool, i64, DateTime<Utc>);

const STUDY_COLUMNS: &str = "s.study_id, s.name, s.description, u.name, s.starts_at, s.ends_at, coalesce(s.is_active, false), s.default_config_id, s.created_at";

async fn study(state: &AppState, id: Uuid) -> Result<StudyRow, ApiError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM study s JOIN \"user\" u ON u.user_id = s.created_by WHERE s.study_id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&state.db).await.map_err(ApiError::database)?.ok_or_else(not_found)
}

fn study_json(row: &StudyRow, config_ids: &[i64]) -> Value {
    let (id, name, description, creator, starts_at, ends_at, active, default, created) = row;
    json!({"study_id": id, "name": name, "description": description, "creator_name": creator, "starts_at": starts_at, "ends_at": ends_at,
           "is_active": active, "default_config_id": default, "config_ids": config_ids, "created_at": created})
}

fn parse_time(body: &Value, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad_request(format!("Invalid {name}: expected an ISO 8601 time such as 2026-01-31T12:00:00Z"))),
        Some(_) => Err(bad_request(format!("Invalid {name}: expected an ISO 8601 string"))),
    }
}

/// Creates a study; its arms are `config_ids` plus the default config (the baseline). A study
/// whose start has come (and whose end has not) is activated at once.
#[utoipa::path(post, path = "/api/analytics/studies/create", tag = "studies",
    request_body(content = crate::openapi::CreateStudyBody),
    responses(
        (status = 201, description = "`{study_id, name, is_active, message}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid field, or a config that does not exist", body = crate::openapi::Detail),
        (status = 403, description = "Not an admin", body = crate::openapi::Detail)
    ))]
pub async fn create(State(state): State<AppState>, admin: AdminCaller, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = body.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).ok_or_else(|| bad_request("Invalid name: required"))?;
    let description = body.get("description").and_then(Value::as_str);
    let starts_at = parse_time(&body, "starts_at")?.ok_or_else(|| bad_request("Invalid starts_at: required"))?;
    let ends_at = parse_time(&body, "ends_at")?;
    if ends_at.is_some_and(|end| end <= starts_at) {
        return Err(bad_request("Invalid ends_at: must be after starts_at"));
    }
    let default = body.get("default_config_id").and_then(Value::as_i64).ok_or_else(|| bad_request("Invalid default_config_id: an integer is required"))?;
    let mut arms: Vec<i64> = body
        .get("config_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().map(|id| id.as_i64().ok_or_else(|| bad_request("Invalid config_ids: integers expected"))).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| bad_request("Invalid config_ids: at least one config is required"))?;
    arms.push(default);
    arms.sort_unstable();
    arms.dedup();
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM config WHERE config_id = ANY($1)").bind(&arms).fetch_one(&state.db).await.map_err(ApiError::database)?;
    if known != arms.len() as i64 {
        return Err(bad_request(format!("Invalid config_ids: some of {arms:?} do not exist")));
    }
    let id = Uuid::new_v4();
    let mut tx = state.db.begin().await.map_err(ApiError::database)?;
    sqlx::query("INSERT INTO study (study_id, name, description, created_by, starts_at, ends_at, is_active, default_config_id) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)")
        .bind(id)
        .bind(name)
        .bind(description)
        .bind(admin.user_id)
        .bind(starts_at)
        .bind(ends_at)
        .bind(default)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::database)?;
    sqlx::query("INSERT INTO study_config (study_id, config_id) SELECT $1, unnest($2::bigint[])").bind(id).bind(&arms).execute(&mut *tx).await.map_err(ApiError::database)?;
    tx.commit().await.map_err(ApiError::database)?;
    let now = Utc::now();
    let active = starts_at <= now && ends_at.is_none_or(|end| end > now);
    if active {
        studies::activate(&state.db, id).await.map_err(ApiError::database)?;
        state.user_configs.forget_all();
    }
    Ok((StatusCode::CREATED, Json(json!({"study_id": id, "name": name, "is_active": active, "message": "Study created successfully"}))))
}

/// Studies, newest first; inactive ones only with `include_inactive=true`.
#[utoipa::path(get, path = "/api/analytics/studies/list", tag = "studies",
    params(("include_inactive" = Option<bool>, Query, description = "Also list inactive studies (default false)")),
    responses((status = 200, description = "`{studies: [{study_id, name, description, creator_name, starts_at, ends_at, is_active, default_config_id, config_ids, assigned_users_count, created_at}]}`", body = crate::openapi::Detail))
)]
pub async fn list(State(state): State<AppState>, _admin: AdminCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let include_inactive = params.get("include_inactive").is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
    let sql = format!(
        "SELECT {STUDY_COLUMNS}, (SELECT count(*) FROM config_assignment_history h WHERE h.study_id = s.study_id)::bigint, \
                ARRAY(SELECT config_id FROM study_config c WHERE c.study_id = s.study_id ORDER BY config_id) \
         FROM study s JOIN \"user\" u ON u.user_id = s.created_by WHERE $1 OR coalesce(s.is_active, false) ORDER BY s.created_at DESC"
    );
    type ListRow = (Uuid, String, Option<String>, String, DateTime<Utc>, Option<DateTime<Utc>>, bool, i64, DateTime<Utc>, i64, Vec<i64>);
    let rows: Vec<ListRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(include_inactive).fetch_all(&state.db).await.map_err(ApiError::database)?;
    let studies: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, description, creator, starts_at, ends_at, active, default, created, assigned, arms)| {
            let mut study = study_json(&(id, name, description, creator, starts_at, ends_at, active, default, created), &arms);
            study["assigned_users_count"] = json!(assigned);
            study
        })
        .collect();
    Ok(Json(json!({"studies": studies})))
}

/// A study with, per arm, its users and the share of them who queried during the study.
#[utoipa::path(get, path = "/api/analytics/studies/{study_id}/details", tag = "studies",
    params(("study_id" = String, Path, description = "The study")),
    responses(
        (status = 200, description = "`{study: {...}, assignments: [{config_id, user_count, engagement_rate}]}`", body = crate::openapi::Detail),
        (status = 400, description = "Not a UUID", body = crate::openapi::Detail),
        (status = 404, description = "No such study", body = crate::openapi::Detail)
    ))]
pub async fn details(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = study_id(&raw)?;
    let row = study(&state, id).await?;
    let arms = studies::arms(&state.db, id).await.map_err(ApiError::database)?;
    let assignments: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT h.assigned_config_id, count(*)::bigint, \
                (count(*) FILTER (WHERE EXISTS (SELECT 1 FROM meta_query mq WHERE mq.user_id = h.user_id \
                     AND mq.\"timestamp\" >= s.starts_at AND mq.\"timestamp\" <= coalesce(s.ends_at, now()))))::bigint \
         FROM config_assignment_history h JOIN study s ON s.study_id = h.study_id WHERE h.study_id = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::database)?;
    let assignments: Vec<Value> =
        assignments.into_iter().map(|(config, users, engaged)| json!({"config_id": config, "user_count": users, "engagement_rate": engaged as f64 / users as f64})).collect();
    Ok(Json(json!({"study": study_json(&row, &arms), "assignments": assignments})))
}

/// Activates a study (any other active study ends) and puts every verified user on their arm.
#[utoipa::path(post, path = "/api/analytics/studies/{study_id}/activate", tag = "studies",
    params(("study_id" = String, Path, description = "The study")),
    responses(
        (status = 200, description = "`{message, study_id, assigned_users}`", body = crate::openapi::Detail),
        (status = 404, description = "No such study", body = crate::openapi::Detail)
    ))]
pub async fn activate(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = study_id(&raw)?;
    let (_, name, ..) = study(&state, id).await?;
    let assigned = studies::activate(&state.db, id).await.map_err(ApiError::database)?;
    state.user_configs.forget_all();
    Ok(Json(json!({"message": format!("Study '{name}' activated successfully"), "study_id": id, "assigned_users": assigned})))
}

/// Ends an active study; its users go back to its default config (their arms are kept, so
/// re-activating puts each back on the same one).
#[utoipa::path(post, path = "/api/analytics/studies/{study_id}/deactivate", tag = "studies",
    params(("study_id" = String, Path, description = "The study")),
    responses(
        (status = 200, description = "`{message, users_reset, default_config_id}`", body = crate::openapi::Detail),
        (status = 404, description = "No such active study", body = crate::openapi::Detail)
    ))]
pub async fn deactivate(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = study_id(&raw)?;
    let (_, name, _, _, _, _, _, default, _) = study(&state, id).await?;
    let reset = studies::deactivate(&state.db, id).await.map_err(ApiError::database)?.ok_or_else(|| ApiError::Detail(StatusCode::NOT_FOUND, "Active study not found".into()))?;
    state.user_configs.forget_all();
    Ok(Json(json!({"message": format!("Study '{name}' deactivated successfully"), "users_reset": reset, "default_config_id": default})))
}

/// One arm's totals during the study.
type ArmRow = (i64, i64, i64, i64, i64, i64, Option<f64>, Option<f64>, i64, Option<f64>);

/// Per arm, over the queries each served (its exposure) from the study's participants during the
/// study: usage and acceptance, and against the baseline the acceptance uplift, a 95 % interval of
/// the difference, the z-test's p-value, and a warning while an arm is too small.
#[utoipa::path(get, path = "/api/analytics/studies/{study_id}/evaluation", tag = "studies",
    params(("study_id" = String, Path, description = "The study")),
    responses(
        (status = 200, description = "`{study, results: [{config_id, is_baseline, metrics: {...}, vs_baseline?: {...}}], warnings, min_generations_per_arm}`", body = crate::openapi::Detail),
        (status = 404, description = "No such study", body = crate::openapi::Detail)
    ))]
pub async fn evaluation(State(state): State<AppState>, _admin: AdminCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = study_id(&raw)?;
    let (_, name, _, _, starts_at, ends_at, _, default, _) = study(&state, id).await?;
    let rows: Vec<ArmRow> = sqlx::query_as(
        "WITH arms AS (SELECT config_id FROM study_config WHERE study_id = $1), \
              members AS (SELECT user_id, assigned_config_id FROM config_assignment_history WHERE study_id = $1), \
              served AS (SELECT mq.* FROM meta_query mq JOIN members m ON m.user_id = mq.user_id AND m.assigned_config_id = mq.config_id \
                         WHERE mq.\"timestamp\" >= $2 AND mq.\"timestamp\" <= coalesce($3, now())) \
         SELECT a.config_id, \
                (SELECT count(*) FROM members m WHERE m.assigned_config_id = a.config_id)::bigint, \
                (SELECT count(DISTINCT user_id) FROM served s WHERE s.config_id = a.config_id)::bigint, \
                (SELECT count(*) FROM served s WHERE s.config_id = a.config_id)::bigint, \
                (SELECT count(*) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id WHERE s.config_id = a.config_id AND s.query_type = 'completion')::bigint, \
                (SELECT count(*) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id WHERE s.config_id = a.config_id AND s.query_type = 'completion' AND hg.was_accepted)::bigint, \
                (SELECT avg(hg.generation_time)::float8 FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id WHERE s.config_id = a.config_id), \
                (SELECT avg(hg.confidence) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id WHERE s.config_id = a.config_id AND s.query_type = 'completion'), \
                (SELECT count(DISTINCT session_id) FROM served s WHERE s.config_id = a.config_id)::bigint, \
                (SELECT avg(total_serving_time)::float8 FROM served s WHERE s.config_id = a.config_id) \
         FROM arms a ORDER BY a.config_id",
    )
    .bind(id)
    .bind(starts_at)
    .bind(ends_at)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::database)?;
    let baseline = rows.iter().find(|r| r.0 == default).copied();
    let mut warnings: Vec<String> = Vec::new();
    let results: Vec<Value> = rows
        .iter()
        .map(|&(config, users, active, queries, generations, accepted, generation_time, confidence, sessions, serving)| {
            if generations < MIN_GENERATIONS_PER_ARM {
                warnings.push(format!(
                    "config {config} has {generations} generations; at least {MIN_GENERATIONS_PER_ARM} per arm are needed before its comparison means much"
                ));
            }
            let rate = (generations > 0).then(|| accepted as f64 / generations as f64);
            let mut result = json!({
                "config_id": config,
                "is_baseline": config == default,
                "metrics": {
                    "total_users": users, "active_users": active,
                    "activation_rate": if users > 0 { active as f64 / users as f64 } else { 0.0 },
                    "total_queries": queries, "total_generations": generations, "acceptance_rate": rate, "total_accepted": accepted,
                    "avg_generation_time": generation_time, "avg_confidence": confidence, "total_sessions": sessions, "avg_serving_time": serving,
                },
            });
            if let Some(base) = baseline.filter(|_| config != default) {
                let comparison = two_proportions(accepted, generations, base.5, base.4);
                let base_rate = (base.4 > 0).then(|| base.5 as f64 / base.4 as f64);
                let uplift = rate.zip(base_rate).filter(|(_, b)| *b > 0.0).map(|(r, b)| (r - b) / b * 100.0);
                let time_change = generation_time.zip(base.6).filter(|(_, b)| *b > 0.0).map(|(t, b)| (t - b) / b * 100.0);
                result["vs_baseline"] = json!({
                    "acceptance_rate_uplift_pct": uplift,
                    "acceptance_rate_difference": comparison.map(|c| c.difference),
                    "difference_95ci": comparison.map(|c| json!({"lower": c.interval.0, "upper": c.interval.1})),
                    "z": comparison.map(|c| c.z),
                    "p_value": comparison.map(|c| c.p_value),
                    "is_significant": comparison.is_some_and(|c| c.p_value < 0.05),
                    "is_better_acceptance": comparison.is_some_and(|c| c.difference > 0.0),
                    "generation_time_change_pct": time_change,
                    "is_faster": time_change.is_some_and(|c| c < 0.0),
                });
            }
            result
        })
        .collect();
    Ok(Json(json!({
        "study": {"study_id": id, "name": name, "starts_at": starts_at, "ends_at": ends_at, "default_config_id": default},
        "results": results,
        "warnings": warnings,
        "min_generations_per_arm": MIN_GENERATIONS_PER_ARM,
    })))
}
