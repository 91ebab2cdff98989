//! `/api/analytics/calibration/...`: how well a model's confidence predicts acceptance — the
//! reliability diagram with its expected calibration error, the Brier score with Murphy's
//! decomposition (upstream's SQL for it cannot run), the confidence histogram, and a per-model
//! summary.

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Filters, ModelScopeFilters, Params, ScopeFilters, bounded, group_by};
use crate::analytics::calibration::{Bin, brier, expected_calibration_error};
use crate::contract::error::ApiError;
use crate::db::analytics::GroupBy;
use crate::db::analytics::calibration as rows;
use crate::http::auth::ResearchCaller;
use crate::services::state::AppState;

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
    let sums = rows::bins(&state.db, &filters.rows(), group, bins).await.map_err(ApiError::database)?;
    let mut groups: Vec<Binned> = Vec::new();
    for row in sums {
        let same = groups.last().is_some_and(|g| g.name == row.group_name && g.model_id == row.model_id);
        if !same {
            groups.push(Binned {
                name: row.group_name,
                model_id: row.model_id,
                bins: Vec::new(),
                confidence_min: row.confidence_min,
                confidence_max: row.confidence_max,
                confidence_square_sum: 0.0,
            });
        }
        let group = groups.last_mut().expect("just pushed");
        let bin = Bin { count: row.count, confidence_sum: row.confidence_sum, accepted: row.accepted, squared_error_sum: row.squared_error_sum };
        group.bins.push((row.bin, bin));
        group.confidence_min = group.confidence_min.min(row.confidence_min);
        group.confidence_max = group.confidence_max.max(row.confidence_max);
        group.confidence_square_sum += row.confidence_square_sum;
    }
    Ok(groups)
}

/// A range of confidence (0..1).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ConfidenceRange {
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

/// The confidences bin `bin` of `bins` covers.
fn range(bin: i32, bins: i32) -> ConfidenceRange {
    ConfidenceRange { min: f64::from(bin - 1) / f64::from(bins), max: f64::from(bin) / f64::from(bins) }
}

/// `GET /api/analytics/calibration/reliability-diagram`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReliabilityDiagramResponse {
    /// One diagram per model with completion generations.
    pub data: Vec<ModelReliability>,
    /// Bins asked for (5..=20).
    pub bins: i32,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's reliability diagram.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelReliability {
    /// The model.
    pub model_id: Option<i64>,
    /// Its name.
    pub model_name: String,
    /// The bins with generations, in order (empty bins are left out).
    pub bins: Vec<ReliabilityBin>,
    /// Completion generations.
    pub total_samples: i64,
    /// Expected calibration error: the generation-weighted mean of |acceptance − confidence| over
    /// the bins (0..1); `null` without generations.
    pub expected_calibration_error: Option<f64>,
}

/// One confidence bin of a reliability diagram.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReliabilityBin {
    /// 1..=bins.
    pub bin_number: i32,
    /// Completion generations in the bin.
    pub sample_size: i64,
    /// Their mean confidence (0..1).
    pub avg_predicted_confidence: f64,
    /// Share of them accepted (0..1).
    pub empirical_accuracy: f64,
    /// The confidences the bin covers.
    pub bin_range: ConfidenceRange,
}

/// Per model: for each confidence bin, mean confidence against acceptance, and the ECE.
#[utoipa::path(get, path = "/api/analytics/calibration/reliability-diagram", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("bins" = Option<i64>, Query, minimum = 5, maximum = 20, description = "5..=20, default 10")
    ),
    responses(
        (status = 200, description = "A reliability diagram per model", body = ReliabilityDiagramResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Detail),
        (status = 422, description = "bins out of range", body = crate::openapi::ValidationError)
    ))]
pub async fn reliability_diagram(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<ReliabilityDiagramResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let bins = i32::try_from(bounded(&params, "bins", 10, 5, 20)?).expect("bounded");
    let data = binned(&state, &filters, GroupBy::Model, bins)
        .await?
        .into_iter()
        .map(|model| ModelReliability {
            bins: model
                .bins
                .iter()
                .map(|&(bin_number, bin)| ReliabilityBin {
                    bin_number,
                    sample_size: bin.count,
                    avg_predicted_confidence: bin.confidence_sum / bin.count as f64,
                    empirical_accuracy: bin.accepted as f64 / bin.count as f64,
                    bin_range: range(bin_number, bins),
                })
                .collect(),
            total_samples: model.count(),
            expected_calibration_error: expected_calibration_error(&model.totals()),
            model_id: model.model_id,
            model_name: model.name,
        })
        .collect();
    Ok(Json(ReliabilityDiagramResponse { data, bins, filters: filters.with_model() }))
}

/// `GET /api/analytics/calibration/brier-score`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrierScoreResponse {
    /// One row per group with completion generations.
    pub data: Vec<GroupBrierScore>,
    /// What the rows are grouped by: `model`, `config` or `language`.
    pub group_by: &'static str,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One group's Brier score with Murphy's decomposition (over 10 confidence bins).
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBrierScore {
    /// The model's or language's name, or `config <id>`.
    pub group_name: String,
    /// The model, when grouped by model; `null` otherwise.
    pub model_id: Option<i64>,
    /// Completion generations.
    pub sample_size: i64,
    /// Mean squared difference between confidence and acceptance (0..1; lower is better).
    pub brier_score: f64,
    /// Share accepted (0..1).
    pub base_rate: f64,
    /// Mean confidence (0..1).
    pub avg_confidence: f64,
    /// base_rate × (1 − base_rate).
    pub uncertainty: f64,
    /// 1 − brier_score / uncertainty; `null` when the uncertainty is 0.
    pub skill_score: Option<f64>,
    /// Reliability term (lower is better).
    pub reliability_component: f64,
    /// Resolution term (higher is better).
    pub resolution_component: f64,
}

/// Brier score with its reliability, resolution and uncertainty, per model, config or language.
#[utoipa::path(get, path = "/api/analytics/calibration/brier-score", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("group_by" = Option<String>, Query, pattern = "^\\s*(model|config|language)?\\s*$", description = "model (default), config (the user's current config) or language")
    ),
    responses(
        (status = 200, description = "Brier score per group", body = BrierScoreResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail)
    ))]
pub async fn brier_score(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<BrierScoreResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let group = group_by(&params, &[GroupBy::Model, GroupBy::Config, GroupBy::Language])?;
    let data = binned(&state, &filters, group, DECOMPOSITION_BINS)
        .await?
        .into_iter()
        .filter_map(|g| {
            let b = brier(&g.totals())?;
            Some(GroupBrierScore {
                sample_size: g.count(),
                brier_score: b.score,
                base_rate: b.base_rate,
                avg_confidence: g.mean_confidence(),
                uncertainty: b.uncertainty,
                skill_score: b.skill_score,
                reliability_component: b.reliability,
                resolution_component: b.resolution,
                group_name: g.name,
                model_id: g.model_id,
            })
        })
        .collect();
    Ok(Json(BrierScoreResponse { data, group_by: group.name(), filters: filters.with_model() }))
}

/// `GET /api/analytics/calibration/confidence-distribution`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfidenceDistributionResponse {
    /// One histogram per model with completion generations.
    pub data: Vec<ModelConfidenceDistribution>,
    /// Bins asked for (10..=50).
    pub bins: i32,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's confidence histogram.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelConfidenceDistribution {
    /// The model.
    pub model_id: Option<i64>,
    /// Its name.
    pub model_name: String,
    /// The bins with generations, in order (empty bins are left out).
    pub histogram: Vec<ConfidenceBin>,
    /// Completion generations.
    pub total_predictions: i64,
    /// Summary of the histogram.
    pub statistics: ConfidenceStatistics,
}

/// One bin of a confidence histogram.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfidenceBin {
    /// 1..=bins.
    pub bin_number: i32,
    /// Completion generations in the bin.
    pub frequency: i64,
    /// Their mean confidence (0..1).
    pub avg_bin_confidence: f64,
    /// Share of them accepted (0..1).
    pub bin_acceptance_rate: f64,
    /// The confidences the bin covers.
    pub range: ConfidenceRange,
}

/// Summary of a confidence histogram.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfidenceStatistics {
    /// Mean confidence (0..1).
    pub mean_confidence: f64,
    /// Midpoint of the fullest bin (the first of equals), standing for the most common confidence.
    pub mode_confidence: Option<f64>,
    /// That bin's number.
    pub most_frequent_bin: Option<i32>,
}

/// Per model: how often each confidence occurs, and how often each bin was accepted.
#[utoipa::path(get, path = "/api/analytics/calibration/confidence-distribution", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model"),
        ("bins" = Option<i64>, Query, minimum = 10, maximum = 50, description = "10..=50, default 20")
    ),
    responses(
        (status = 200, description = "A confidence histogram per model", body = ConfidenceDistributionResponse),
        (status = 422, description = "bins out of range", body = crate::openapi::ValidationError)
    ))]
pub async fn confidence_distribution(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<ConfidenceDistributionResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let bins = i32::try_from(bounded(&params, "bins", 20, 10, 50)?).expect("bounded");
    let data = binned(&state, &filters, GroupBy::Model, bins)
        .await?
        .into_iter()
        .map(|model| {
            let histogram = model
                .bins
                .iter()
                .map(|&(bin_number, bin)| ConfidenceBin {
                    bin_number,
                    frequency: bin.count,
                    avg_bin_confidence: bin.confidence_sum / bin.count as f64,
                    bin_acceptance_rate: bin.accepted as f64 / bin.count as f64,
                    range: range(bin_number, bins),
                })
                .collect();
            // The first of the fullest bins; its midpoint stands for the most common confidence.
            let mode = model.bins.iter().rev().max_by_key(|(_, bin)| bin.count).map(|(number, _)| *number);
            ModelConfidenceDistribution {
                histogram,
                total_predictions: model.count(),
                statistics: ConfidenceStatistics {
                    mean_confidence: model.mean_confidence(),
                    mode_confidence: mode.map(|n| (f64::from(n) - 0.5) / f64::from(bins)),
                    most_frequent_bin: mode,
                },
                model_id: model.model_id,
                model_name: model.name,
            }
        })
        .collect();
    Ok(Json(ConfidenceDistributionResponse { data, bins, filters: filters.with_model() }))
}

/// `GET /api/analytics/calibration/calibration-summary`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalibrationSummaryResponse {
    /// One row per model with completion generations, best calibrated (lowest Brier score) first.
    pub data: Vec<ModelCalibration>,
    /// The rows covered.
    pub filters: ScopeFilters,
}

/// How well one model's confidence predicts acceptance.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCalibration {
    /// The model.
    pub model_id: Option<i64>,
    /// Its name.
    pub model_name: String,
    /// Completion generations.
    pub total_predictions: i64,
    /// Mean confidence (0..1).
    pub avg_confidence: f64,
    /// Share accepted (0..1).
    pub acceptance_rate: f64,
    /// avg_confidence − acceptance_rate (−1..1).
    pub confidence_gap: f64,
    /// The gap is above 0.05.
    pub is_overconfident: bool,
    /// The gap is below −0.05.
    pub is_underconfident: bool,
    /// Brier score (0..1; lower is better).
    pub brier_score: f64,
    /// Population standard deviation of confidence.
    pub confidence_std: f64,
    /// Lowest and highest confidence.
    pub confidence_range: ConfidenceRange,
}

/// Per model: confidence against acceptance, over- or under-confidence (a gap beyond 0.05), Brier
/// score and the spread of confidence; best calibrated (lowest Brier) first.
#[utoipa::path(get, path = "/api/analytics/calibration/calibration-summary", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams),
    responses(
        (status = 200, description = "Calibration per model", body = CalibrationSummaryResponse)
    ))]
pub async fn calibration_summary(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<CalibrationSummaryResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let mut data: Vec<ModelCalibration> = binned(&state, &filters, GroupBy::Model, DECOMPOSITION_BINS)
        .await?
        .into_iter()
        .filter_map(|model| {
            let b = brier(&model.totals())?;
            let mean = model.mean_confidence();
            let variance = (model.confidence_square_sum / model.count() as f64 - mean * mean).max(0.0);
            let gap = mean - model.acceptance();
            Some(ModelCalibration {
                total_predictions: model.count(),
                avg_confidence: mean,
                acceptance_rate: model.acceptance(),
                confidence_gap: gap,
                is_overconfident: gap > 0.05,
                is_underconfident: gap < -0.05,
                brier_score: b.score,
                confidence_std: variance.sqrt(),
                confidence_range: ConfidenceRange { min: model.confidence_min, max: model.confidence_max },
                model_id: model.model_id,
                model_name: model.name,
            })
        })
        .collect();
    data.sort_by(|a, b| a.brier_score.total_cmp(&b.brier_score));
    Ok(Json(CalibrationSummaryResponse { data, filters: filters.scope() }))
}
