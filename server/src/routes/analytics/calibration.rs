//! `/api/analytics/calibration/...`: how well a model's confidence predicts acceptance — the
//! reliability diagram with its expected calibration error, the Brier score with Murphy's
//! decomposition (upstream's SQL for it cannot run), the confidence histogram, and a per-model
//! summary.

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use crate::analytics::calibration::{Bin, brier, expected_calibration_error};
use crate::analytics::{Filters, GENERATIONS, GENERATIONS_IN_SCOPE, GroupBy, Params, bounded};
use crate::auth::extract::ResearchCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// Bins of the Brier decomposition and the summary.
const DECOMPOSITION_BINS: i32 = 10;

/// One group's bins, in bin order, with its confidence extremes and sum of squares.
struct Binned {
    name: String,
    model_id: Option<i64>,
    bins: Vec<(i32, Bin)>,
    confidence_min: f64,
    confidence_max: f64,
    confidence_square_sum: f64,
}

impl Binned {
    fn totals(&self) -> Vec<Bin> {
        self.bins.iter().map(|(_, bin)| *bin).collect()
    }

    fn count(&self) -> i64 {
        self.bins.iter().map(|(_, b)| b.count).sum()
    }

    fn mean_confidence(&self) -> f64 {
        self.bins.iter().map(|(_, b)| b.confidence_sum).sum::<f64>() / self.count() as f64
    }

    fn acceptance(&self) -> f64 {
        self.bins.iter().map(|(_, b)| b.accepted).sum::<i64>() as f64 / self.count() as f64
    }
}

/// Completion generations in the window, per group and confidence bin (`1..=bins`; a confidence of
/// exactly 1 falls in the last bin, not in an extra one as with upstream's `width_bucket`).
async fn binned(state: &AppState, filters: &Filters, group: GroupBy, bins: i32) -> Result<Vec<Binned>, ApiError> {
    let (key, model_id, joins) = group.sql();
    let sql = format!(
        "SELECT {key} AS group_name, {model_id} AS model_id, \
                GREATEST(LEAST(width_bucket(hg.confidence, 0, 1, $5), $5), 1) AS bin, \
                count(*)::bigint, sum(hg.confidence), (count(*) FILTER (WHERE hg.was_accepted))::bigint, \
                sum(power(hg.confidence - CASE WHEN hg.was_accepted THEN 1 ELSE 0 END, 2)), \
                min(hg.confidence), max(hg.confidence), sum(hg.confidence * hg.confidence) \
         {GENERATIONS} {joins} WHERE {GENERATIONS_IN_SCOPE} \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    );
    type Row = (String, Option<i64>, i32, i64, f64, i64, f64, f64, f64, f64);
    let rows: Vec<Row> = filters.query(sql)
        .bind(bins)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let mut groups: Vec<Binned> = Vec::new();
    for (name, model_id, bin, count, confidence_sum, accepted, squared_error_sum, min, max, squares) in rows {
        let same = groups.last().is_some_and(|g| g.name == name && g.model_id == model_id);
        if !same {
            groups.push(Binned { name, model_id, bins: Vec::new(), confidence_min: min, confidence_max: max, confidence_square_sum: 0.0 });
        }
        let group = groups.last_mut().expect("just pushed");
        group.bins.push((bin, Bin { count, confidence_sum, accepted, squared_error_sum }));
        group.confidence_min = group.confidence_min.min(min);
        group.confidence_max = group.confidence_max.max(max);
        group.confidence_square_sum += squares;
    }
    Ok(groups)
}

fn range(bin: i32, bins: i32) -> Value {
    json!({"min": f64::from(bin - 1) / f64::from(bins), "max": f64::from(bin) / f64::from(bins)})
}

/// Per model: for each confidence bin, mean confidence against acceptance, and the ECE.
#[utoipa::path(get, path = "/api/analytics/calibration/reliability-diagram", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("bins" = Option<i64>, Query, description = "5..=20, default 10")
    ),
    responses(
        (status = 200, description = "`{data: [{model_id, model_name, bins: [{bin_number, sample_size, avg_predicted_confidence, empirical_accuracy, bin_range}], total_samples, expected_calibration_error}], bins, filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail),
        (status = 401, description = "Not signed in", body = crate::openapi::Detail),
        (status = 422, description = "bins out of range", body = crate::openapi::ValidationError)
    ))]
pub async fn reliability_diagram(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let bins = i32::try_from(bounded(&params, "bins", 10, 5, 20)?).expect("bounded");
    let data: Vec<Value> = binned(&state, &filters, GroupBy::Model, bins)
        .await?
        .into_iter()
        .map(|model| {
            let rows: Vec<Value> = model
                .bins
                .iter()
                .map(|(number, bin)| {
                    json!({
                        "bin_number": number,
                        "sample_size": bin.count,
                        "avg_predicted_confidence": bin.confidence_sum / bin.count as f64,
                        "empirical_accuracy": bin.accepted as f64 / bin.count as f64,
                        "bin_range": range(*number, bins),
                    })
                })
                .collect();
            json!({
                "model_id": model.model_id,
                "model_name": model.name,
                "bins": rows,
                "total_samples": model.count(),
                "expected_calibration_error": expected_calibration_error(&model.totals()),
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "bins": bins, "filters": filters.json()})))
}

/// Brier score with its reliability, resolution and uncertainty, per model, config or language.
#[utoipa::path(get, path = "/api/analytics/calibration/brier-score", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("group_by" = Option<String>, Query, description = "model (default), config (the user's current config) or language")
    ),
    responses(
        (status = 200, description = "`{data: [{group_name, model_id, sample_size, brier_score, base_rate, avg_confidence, uncertainty, skill_score, reliability_component, resolution_component}], group_by, filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn brier_score(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let group = GroupBy::parse(params.get("group_by"), &[GroupBy::Model, GroupBy::Config, GroupBy::Language])?;
    let data: Vec<Value> = binned(&state, &filters, group, DECOMPOSITION_BINS)
        .await?
        .into_iter()
        .filter_map(|g| {
            let b = brier(&g.totals())?;
            Some(json!({
                "group_name": g.name,
                "model_id": g.model_id,
                "sample_size": g.count(),
                "brier_score": b.score,
                "base_rate": b.base_rate,
                "avg_confidence": g.mean_confidence(),
                "uncertainty": b.uncertainty,
                "skill_score": b.skill_score,
                "reliability_component": b.reliability,
                "resolution_component": b.resolution,
            }))
        })
        .collect();
    Ok(Json(json!({"data": data, "group_by": group.name(), "filters": filters.json()})))
}

/// Per model: how often each confidence occurs, and how often each bin was accepted.
#[utoipa::path(get, path = "/api/analytics/calibration/confidence-distribution", tag = "analytics",
    params(crate::analytics::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("bins" = Option<i64>, Query, description = "10..=50, default 20")
    ),
    responses(
        (status = 200, description = "`{data: [{model_id, model_name, histogram: [{bin_number, frequency, avg_bin_confidence, bin_acceptance_rate, range}], total_predictions, statistics: {mean_confidence, mode_confidence, most_frequent_bin}}], bins, filters}`", body = crate::openapi::Detail),
        (status = 422, description = "bins out of range", body = crate::openapi::ValidationError)
    ))]
pub async fn confidence_distribution(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let bins = i32::try_from(bounded(&params, "bins", 20, 10, 50)?).expect("bounded");
    let data: Vec<Value> = binned(&state, &filters, GroupBy::Model, bins)
        .await?
        .into_iter()
        .map(|model| {
            let histogram: Vec<Value> = model
                .bins
                .iter()
                .map(|(number, bin)| {
                    json!({
                        "bin_number": number,
                        "frequency": bin.count,
                        "avg_bin_confidence": bin.confidence_sum / bin.count as f64,
                        "bin_acceptance_rate": bin.accepted as f64 / bin.count as f64,
                        "range": range(*number, bins),
                    })
                })
                .collect();
            // The first of the fullest bins; its midpoint stands for the most common confidence.
            let mode = model.bins.iter().rev().max_by_key(|(_, bin)| bin.count).map(|(number, _)| *number);
            json!({
                "model_id": model.model_id,
                "model_name": model.name,
                "histogram": histogram,
                "total_predictions": model.count(),
                "statistics": {
                    "mean_confidence": model.mean_confidence(),
                    "mode_confidence": mode.map(|n| (f64::from(n) - 0.5) / f64::from(bins)),
                    "most_frequent_bin": mode,
                },
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "bins": bins, "filters": filters.json()})))
}

/// Per model: confidence against acceptance, over- or under-confidence (a gap beyond 0.05), Brier
/// score and the spread of confidence; best calibrated (lowest Brier) first.
#[utoipa::path(get, path = "/api/analytics/calibration/calibration-summary", tag = "analytics",
    params(crate::analytics::ScopeParams),
    responses(
        (status = 200, description = "`{data: [{model_id, model_name, total_predictions, avg_confidence, acceptance_rate, confidence_gap, is_overconfident, is_underconfident, brier_score, confidence_std, confidence_range}], filters}`", body = crate::openapi::Detail)
    ))]
pub async fn calibration_summary(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let mut rows: Vec<(f64, Value)> = binned(&state, &filters, GroupBy::Model, DECOMPOSITION_BINS)
        .await?
        .into_iter()
        .filter_map(|model| {
            let b = brier(&model.totals())?;
            let mean = model.mean_confidence();
            let variance = (model.confidence_square_sum / model.count() as f64 - mean * mean).max(0.0);
            let gap = mean - model.acceptance();
            Some((
                b.score,
                json!({
                    "model_id": model.model_id,
                    "model_name": model.name,
                    "total_predictions": model.count(),
                    "avg_confidence": mean,
                    "acceptance_rate": model.acceptance(),
                    "confidence_gap": gap,
                    "is_overconfident": gap > 0.05,
                    "is_underconfident": gap < -0.05,
                    "brier_score": b.score,
                    "confidence_std": variance.sqrt(),
                    "confidence_range": {"min": model.confidence_min, "max": model.confidence_max},
                }),
            ))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let filters_json = filters.json();
    Ok(Json(json!({"data": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "filters": filters_json})))
}
