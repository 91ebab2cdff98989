//! `/api/analytics/models/...`: models side by side — overall metrics, use over time, and how
//! each does by language, trigger, document size and caret position.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::analytics::{ACCEPTANCE_RATE, Filters, GENERATIONS, GENERATIONS_IN_SCOPE, Params, bad_request};
use crate::auth::extract::ResearchCaller;
use crate::error::ApiError;
use crate::state::AppState;


/// `model_ids=1,5` → `[1, 5]`; absent → all models.
fn model_ids(params: &Params) -> Result<Option<Vec<i64>>, ApiError> {
    let Some(raw) = params.get("model_ids").map(|r| r.trim()).filter(|r| !r.is_empty()) else { return Ok(None) };
    raw.split(',')
        .map(|id| id.trim().parse::<i64>().map_err(|_| bad_request(format!("Invalid model_ids: {raw:?} (expected comma-separated integers)"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One model's row in the comparison.
type ComparisonRow = (i64, String, bool, i64, f64, f64, f64, f64, f64, f64, f64, i64, i64);

/// Per model: volume, acceptance, generation-time percentiles, confidence and its spread, tokens
/// per completion, users and active days.
#[utoipa::path(get, path = "/api/analytics/models/comparison", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_ids" = Option<String>, Query, description = "Comma-separated model ids; default all")
    ),
    responses(
        (status = 200, description = "`{data: [{model_id, model_name, is_instruction_tuned, metrics: {total_generations, acceptance_rate, avg_generation_time, p50_generation_time, p95_generation_time, avg_confidence, confidence_std, avg_logprob_length, unique_users, active_days}}], filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn comparison(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let ids = model_ids(&params)?;
    let sql = format!(
        "SELECT hg.model_id, m.model_name, m.is_instruction_tuned, count(*)::bigint, \
                {ACCEPTANCE_RATE}, avg(hg.generation_time)::float8, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY hg.generation_time), \
                avg(hg.confidence), stddev_pop(hg.confidence), avg(cardinality(hg.logprobs))::float8, \
                count(DISTINCT mq.user_id)::bigint, count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint \
         {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} AND ($5::bigint[] IS NULL OR hg.model_id = ANY($5)) \
         GROUP BY 1, 2, 3 ORDER BY 1"
    );
    let rows: Vec<ComparisonRow> = filters.query(sql)
        .bind(&ids)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, instruct, total, acceptance, avg_time, p50, p95, confidence, spread, tokens, users, days)| {
            json!({
                "model_id": id,
                "model_name": name,
                "is_instruction_tuned": instruct,
                "metrics": {
                    "total_generations": total,
                    "acceptance_rate": acceptance,
                    "avg_generation_time": avg_time,
                    "p50_generation_time": p50,
                    "p95_generation_time": p95,
                    "avg_confidence": confidence,
                    "confidence_std": spread,
                    "avg_logprob_length": tokens,
                    "unique_users": users,
                    "active_days": days,
                },
            })
        })
        .collect();
    let mut filters_json = filters.json();
    let extra = filters_json.as_object_mut().expect("object");
    extra.insert("model_ids".into(), json!(ids));
    Ok(Json(json!({"data": data, "filters": filters_json})))
}

/// Each model's use per time bucket.
#[utoipa::path(get, path = "/api/analytics/models/model-usage-trends", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("granularity" = Option<String>, Query, description = "hour (1h), day (1d, default), week (1w) or month")
    ),
    responses(
        (status = 200, description = "`{data: [{time_bucket, model_id, model_name, usage_count, acceptance_rate, unique_users}], filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn usage_trends(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    // Upstream passes its default "1d" straight to date_trunc, which PostgreSQL rejects (500).
    let unit = match params.get("granularity").map_or("day", |g| g.trim()) {
        "hour" | "1h" => "hour",
        "day" | "1d" => "day",
        "week" | "1w" => "week",
        "month" => "month",
        other => return Err(bad_request(format!("Invalid granularity: {other:?} (expected hour, day, week or month)"))),
    };
    let sql = format!(
        "SELECT date_trunc($5, mq.\"timestamp\", 'UTC') AS bucket, hg.model_id, m.model_name, count(*)::bigint, \
                {ACCEPTANCE_RATE}, count(DISTINCT mq.user_id)::bigint \
         {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1, 2, 3 ORDER BY 1, 2"
    );
    let rows: Vec<(DateTime<Utc>, i64, String, i64, f64, i64)> = filters.query(sql)
        .bind(unit)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(bucket, id, name, count, acceptance, users)| {
            json!({"time_bucket": bucket, "model_id": id, "model_name": name, "usage_count": count, "acceptance_rate": acceptance, "unique_users": users})
        })
        .collect();
    let mut filters_json = filters.json();
    let extra = filters_json.as_object_mut().expect("object");
    extra.insert("granularity".into(), json!(unit));
    Ok(Json(json!({"data": data, "filters": filters_json})))
}

/// One context segment's row.
type SegmentRow = (String, String, String, String, String, i64, f64, f64, f64);

/// Per model, language, trigger, document size and caret position: acceptance, generation time
/// and confidence, for segments with at least five generations.
#[utoipa::path(get, path = "/api/analytics/models/performance-by-context", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "`{data: [{model_name, language, trigger_type, context: {document_size, document_position}, metrics: {sample_size, acceptance_rate, avg_generation_time, avg_confidence}}], filters}`", body = crate::openapi::Detail)
    ))]
pub async fn performance_by_context(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let sql = format!(
        "SELECT m.model_name, pl.language_name, tt.trigger_type_name, \
                CASE WHEN ct.document_char_length IS NULL THEN 'unknown' WHEN ct.document_char_length < 1000 THEN 'small' \
                     WHEN ct.document_char_length < 10000 THEN 'medium' WHEN ct.document_char_length < 100000 THEN 'large' ELSE 'xlarge' END, \
                CASE WHEN ct.relative_document_position IS NULL THEN 'unknown' WHEN ct.relative_document_position < 0.25 THEN 'beginning' \
                     WHEN ct.relative_document_position < 0.75 THEN 'middle' ELSE 'end' END, \
                count(*)::bigint, {ACCEPTANCE_RATE}, avg(hg.generation_time)::float8, avg(hg.confidence) \
         {GENERATIONS} JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         JOIN programming_language pl ON pl.language_id = ct.language_id JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1, 2, 3, 4, 5 HAVING count(*) >= 5 ORDER BY 1, 2, 3, 4, 5"
    );
    let rows: Vec<SegmentRow> = filters.query(sql)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(model, language, trigger, size, position, n, acceptance, time, confidence)| {
            json!({
                "model_name": model,
                "language": language,
                "trigger_type": trigger,
                "context": {"document_size": size, "document_position": position},
                "metrics": {"sample_size": n, "acceptance_rate": acceptance, "avg_generation_time": time, "avg_confidence": confidence},
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "filters": filters.json()})))
}

/// One model's ground-truth row.
type TruthRow = (i64, String, i64, f64, f64, f64, f64, f64, f64);

/// Per model, over completions whose query has a ground truth (the latest one, recorded in the
/// window): how often the completion equals it (ignoring surrounding whitespace), lengths,
/// confidence and acceptance.
#[utoipa::path(get, path = "/api/analytics/models/ground-truth-analysis", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "`{data: [{model_id, model_name, total_with_ground_truth, exact_match_rate, avg_completion_length, avg_ground_truth_length, avg_confidence_with_truth, acceptance_rate_with_truth, avg_length_diff}], filters}`", body = crate::openapi::Detail)
    ))]
pub async fn ground_truth_analysis(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let rows: Vec<TruthRow> = filters
        .query(format!(
            "WITH truth AS (SELECT DISTINCT ON (completion_query_id) completion_query_id, ground_truth FROM ground_truth \
                            WHERE truth_timestamp BETWEEN $1 AND $2 ORDER BY completion_query_id, truth_timestamp DESC) \
             SELECT hg.model_id, m.model_name, count(*)::bigint, \
                    avg(CASE WHEN btrim(hg.completion, E' \\t\\r\\n') = btrim(t.ground_truth, E' \\t\\r\\n') THEN 1.0 ELSE 0.0 END)::float8, \
                    avg(char_length(hg.completion))::float8, avg(char_length(t.ground_truth))::float8, avg(hg.confidence), \
                    {ACCEPTANCE_RATE}, \
                    avg(abs(char_length(hg.completion) - char_length(t.ground_truth)))::float8 \
             FROM truth t JOIN had_generation hg ON hg.meta_query_id = t.completion_query_id \
             JOIN meta_query mq ON mq.meta_query_id = hg.meta_query_id JOIN model_name m ON m.model_id = hg.model_id \
             WHERE ($3::uuid IS NULL OR mq.user_id = $3) AND ($4::bigint IS NULL OR hg.model_id = $4) GROUP BY 1, 2 ORDER BY 1"
        ))
        .fetch_all(&state.db)
    .await
    .map_err(ApiError::database)?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, n, exact, completion_len, truth_len, confidence, acceptance, diff)| {
            json!({"model_id": id, "model_name": name, "total_with_ground_truth": n, "exact_match_rate": exact,
                   "avg_completion_length": completion_len, "avg_ground_truth_length": truth_len, "avg_confidence_with_truth": confidence,
                   "acceptance_rate_with_truth": acceptance, "avg_length_diff": diff})
        })
        .collect();
    Ok(Json(json!({"data": data, "filters": filters.json()})))
}
