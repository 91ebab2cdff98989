//! `/api/analytics/usage/...`: how much the platform is used and how often its completions are
//! accepted — queries over time, acceptance rates with 95 % intervals, latency percentiles.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::analytics::stats::wilson;
use crate::analytics::{ACCEPTANCE_RATE, Filters, GENERATIONS, GENERATIONS_IN_SCOPE, GroupBy, Params, bad_request, bucket};
use crate::auth::extract::ResearchCaller;
use crate::error::ApiError;
use crate::state::AppState;


/// Acceptance rate per model, config, language or trigger, with a Wilson 95 % interval.
#[utoipa::path(get, path = "/api/analytics/usage/acceptance-rates", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("group_by" = Option<String>, Query, description = "model (default), config (the user's current config), language or trigger")
    ),
    responses(
        (status = 200, description = "`{data: [{group_name, acceptance_rate, sample_size, confidence_interval: {lower, upper}}], group_by, filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn acceptance_rates(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let group = GroupBy::parse(params.get("group_by"), &[GroupBy::Model, GroupBy::Config, GroupBy::Language, GroupBy::Trigger])?;
    let (key, _, joins) = group.sql();
    let sql = format!(
        "SELECT {key}, (count(*) FILTER (WHERE hg.was_accepted))::bigint, count(*)::bigint {GENERATIONS} {joins} \
         WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1 ORDER BY 3 DESC, 1"
    );
    let rows: Vec<(String, i64, i64)> = filters.query(sql)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(name, accepted, n)| {
            let (lower, upper) = wilson(accepted, n).expect("groups are never empty");
            json!({
                "group_name": name,
                "acceptance_rate": accepted as f64 / n as f64,
                "sample_size": n,
                "confidence_interval": {"lower": lower, "upper": upper},
            })
        })
        .collect();
    let filters_json = filters.json();
    Ok(Json(json!({"data": data, "group_by": group.name(), "filters": filters_json})))
}

/// Generation-time percentiles per model, and up to 1,000 raw samples (fastest first).
#[utoipa::path(get, path = "/api/analytics/usage/latency-distribution", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "`{percentiles: [{model_name, p50, p90, p95, p99}], raw_data: [{model_name, config_id, generation_time, total_serving_time}], filters}`", body = crate::openapi::Detail)
    ))]
pub async fn latency_distribution(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let percentiles_sql = format!(
        "SELECT m.model_name, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY hg.generation_time) \
         {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1 ORDER BY 1"
    );
    let percentiles: Vec<(String, f64, f64, f64, f64)> = filters.query(percentiles_sql)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let raw_sql = format!(
        "SELECT m.model_name, u.config_id, hg.generation_time, mq.total_serving_time {GENERATIONS} \
         LEFT JOIN \"user\" u ON u.user_id = mq.user_id WHERE {GENERATIONS_IN_SCOPE} ORDER BY hg.generation_time LIMIT 1000"
    );
    let raw: Vec<(String, Option<i64>, i32, Option<i32>)> = filters.query(raw_sql)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(json!({
        "percentiles": percentiles.into_iter().map(|(model_name, p50, p90, p95, p99)| json!({"model_name": model_name, "p50": p50, "p90": p90, "p95": p95, "p99": p99})).collect::<Vec<_>>(),
        "raw_data": raw.into_iter().map(|(model_name, config_id, generation_time, total)| json!({"model_name": model_name, "config_id": config_id, "generation_time": generation_time, "total_serving_time": total})).collect::<Vec<_>>(),
        "filters": filters.json(),
    })))
}

/// A time bucket's count for one language, trigger and query type.
type BucketRow = (DateTime<Utc>, Option<String>, Option<String>, String, i64);

/// Query counts per time bucket, language, trigger and query type.
#[utoipa::path(get, path = "/api/analytics/usage/queries-over-time", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("granularity" = Option<String>, Query, description = "5m, 15m, 1h (default) or 1d"),
        ("query_type" = Option<String>, Query, description = "completion or chat"),
        ("language" = Option<String>, Query, description = "A language name, e.g. Python"),
        ("trigger_type" = Option<String>, Query, description = "A trigger name, e.g. manual")
    ),
    responses(
        (status = 200, description = "`{data: [{time_bucket, language, trigger_type, query_type, count}], filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn queries_over_time(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let (granularity, interval) = bucket(&params)?;
    let query_type = params.get("query_type").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if let Some(kind) = query_type.as_deref().filter(|t| !matches!(*t, "completion" | "chat")) {
        return Err(bad_request(format!("Invalid query_type: {kind:?} (expected completion or chat)")));
    }
    let language = params.get("language").map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    let trigger = params.get("trigger_type").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let rows: Vec<BucketRow> = sqlx::query_as(
        "SELECT date_bin($6::interval, mq.\"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, pl.language_name, \
                tt.trigger_type_name, mq.query_type, count(*)::bigint \
         FROM meta_query mq \
         LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         LEFT JOIN programming_language pl ON pl.language_id = ct.language_id \
         LEFT JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3) \
           AND ($4::text IS NULL OR mq.query_type = $4) AND ($5::text IS NULL OR pl.language_name = $5) \
           AND ($7::text IS NULL OR tt.trigger_type_name = $7) \
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    )
    .bind(filters.window.start)
    .bind(filters.window.end)
    .bind(filters.user)
    .bind(&query_type)
    .bind(&language)
    .bind(interval)
    .bind(&trigger)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(bucket, language, trigger, kind, count)| json!({"time_bucket": bucket, "language": language, "trigger_type": trigger, "query_type": kind, "count": count}))
        .collect();
    let mut filters_json = filters.json();
    let extra = filters_json.as_object_mut().expect("object");
    extra.insert("granularity".into(), json!(granularity));
    extra.insert("query_type".into(), json!(query_type));
    extra.insert("language".into(), json!(language));
    extra.insert("trigger_type".into(), json!(trigger));
    Ok(Json(json!({"data": data, "filters": filters_json})))
}

/// One user's behaviour row.
type BehaviourRow = (uuid::Uuid, String, Option<f64>, Option<f64>, Option<f64>, i64, i64, Option<f64>, i64);

/// Per user: typing speed, time since the last shown and accepted completion, sessions, queries,
/// acceptance and active days.
#[utoipa::path(get, path = "/api/analytics/usage/user-behavior", tag = "analytics",
    params(crate::analytics::ScopeParams),
    responses(
        (status = 200, description = "`{data: [{user_id, user_name, avg_typing_speed, avg_time_since_shown, avg_time_since_accepted, session_count, total_queries, acceptance_rate, active_days}], filters}`", body = crate::openapi::Detail)
    ))]
pub async fn user_behavior(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let sql = format!(
        "WITH acceptance AS (SELECT mq.user_id, {ACCEPTANCE_RATE} AS rate \
             {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1) \
         SELECT u.user_id, u.name, avg(bt.typing_speed)::float8, avg(bt.time_since_last_shown)::float8, avg(bt.time_since_last_accepted)::float8, \
                count(DISTINCT mq.session_id)::bigint, count(*)::bigint, a.rate, count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint \
         FROM meta_query mq JOIN \"user\" u ON u.user_id = mq.user_id \
         LEFT JOIN behavioral_telemetry bt ON bt.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         LEFT JOIN acceptance a ON a.user_id = mq.user_id \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3) \
         GROUP BY u.user_id, u.name, a.rate ORDER BY 7 DESC, 2"
    );
    let rows: Vec<BehaviourRow> = filters.query(sql)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, typing, shown, accepted, sessions, queries, rate, days)| {
            json!({"user_id": id, "user_name": name, "avg_typing_speed": typing, "avg_time_since_shown": shown, "avg_time_since_accepted": accepted,
                   "session_count": sessions, "total_queries": queries, "acceptance_rate": rate, "active_days": days})
        })
        .collect();
    let filters_json = filters.json();
    Ok(Json(json!({"data": data, "filters": filters_json})))
}
