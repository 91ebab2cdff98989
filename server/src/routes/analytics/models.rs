//! `/api/analytics/models/...`: models side by side — overall metrics, use over time, and how
//! each does by language, trigger, document size and caret position.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Filters, ModelScopeFilters, Params, ScopeFilters, bad_request, shown};
use crate::analytics::span::{self, Span};
use crate::contract::error::ApiError;
use crate::db::analytics::models::{self as rows, TrendBuckets};
use crate::http::auth::ResearchCaller;
use crate::services::state::AppState;

/// `model_ids=1,5` → `[1, 5]`; absent → all models.
fn model_ids(params: &Params) -> Result<Option<Vec<i64>>, ApiError> {
    let Some(raw) = params.get("model_ids").map(|r| r.trim()).filter(|r| !r.is_empty()) else { return Ok(None) };
    raw.split(',')
        .map(|id| id.trim().parse::<i64>().map_err(|_| bad_request(format!("Invalid model_ids: {raw:?} (expected comma-separated integers)"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `GET /api/analytics/models/comparison`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelComparisonResponse {
    /// One row per model with completion generations, by model id.
    pub data: Vec<ModelComparison>,
    /// The rows covered.
    pub filters: ModelComparisonFilters,
}

/// One model in the comparison.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelComparison {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Whether it is instruction-tuned.
    pub is_instruction_tuned: bool,
    /// Its completion generations in the window.
    pub metrics: ModelMetrics,
}

/// A model's completion generations in the window; generation times in ms.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelMetrics {
    /// Completion generations.
    pub total_generations: i64,
    /// Share accepted (0..1).
    pub acceptance_rate: f64,
    /// Mean generation time.
    pub avg_generation_time: f64,
    /// Median generation time.
    pub p50_generation_time: f64,
    /// 95th percentile of generation time.
    pub p95_generation_time: f64,
    /// Mean confidence (0..1).
    pub avg_confidence: f64,
    /// Population standard deviation of confidence.
    pub confidence_std: f64,
    /// Mean tokens per completion (log-probabilities recorded).
    pub avg_logprob_length: f64,
    /// Distinct users.
    pub unique_users: i64,
    /// Distinct UTC days with a generation.
    pub active_days: i64,
}

/// `filters` of the model comparison.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelComparisonFilters {
    /// The window and the user.
    #[serde(flatten)]
    pub scope: ScopeFilters,
    /// The models compared; `null` for all.
    pub model_ids: Option<Vec<i64>>,
}

/// Per model: volume, acceptance, generation-time percentiles, confidence and its spread, tokens
/// per completion, users and active days.
#[utoipa::path(get, path = "/api/analytics/models/comparison", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_ids" = Option<String>, Query, pattern = "^\\s*(-?[0-9]{1,18}(\\s*,\\s*-?[0-9]{1,18})*)?\\s*$", description = "Comma-separated model ids; default all")
    ),
    responses(
        (status = 200, description = "Metrics per model", body = ModelComparisonResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail)
    ))]
pub async fn comparison(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<ModelComparisonResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let ids = model_ids(&params)?;
    let data = rows::comparison(&state.db, &filters.rows(), ids.as_deref())
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|row| ModelComparison {
            model_id: row.model_id,
            model_name: row.model_name,
            is_instruction_tuned: row.is_instruction_tuned,
            metrics: ModelMetrics {
                total_generations: row.total_generations,
                acceptance_rate: row.acceptance_rate,
                avg_generation_time: row.avg_generation_time,
                p50_generation_time: row.p50_generation_time,
                p95_generation_time: row.p95_generation_time,
                avg_confidence: row.avg_confidence,
                confidence_std: row.confidence_std,
                avg_logprob_length: row.avg_logprob_length,
                unique_users: row.unique_users,
                active_days: row.active_days,
            },
        })
        .collect();
    Ok(Json(ModelComparisonResponse { data, filters: ModelComparisonFilters { scope: filters.scope(), model_ids: ids } }))
}

/// `GET /api/analytics/models/model-usage-trends`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelUsageTrendsResponse {
    /// One row per bucket and model, oldest first.
    pub data: Vec<ModelUsageBucket>,
    /// The rows covered.
    pub filters: ModelUsageTrendsFilters,
}

/// One model's completion generations in one time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelUsageBucket {
    /// Start of the bucket (UTC `date_trunc`).
    pub time_bucket: DateTime<Utc>,
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completion generations.
    pub usage_count: i64,
    /// Share accepted (0..1).
    pub acceptance_rate: f64,
    /// Distinct users.
    pub unique_users: i64,
}

/// `filters` of the model usage trends.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelUsageTrendsFilters {
    /// The window and the user.
    #[serde(flatten)]
    pub scope: ScopeFilters,
    /// The bucket: `hour`, `day`, `week` or `month`, or a width as `Nm`, `Nh` or `Nd` (`6h`).
    pub granularity: String,
}

/// Each model's use per time bucket.
#[utoipa::path(get, path = "/api/analytics/models/model-usage-trends", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("granularity" = Option<String>, Query, pattern = "^\\s*(hour|day|week|month|1w|[0-9]+[mhd])?\\s*$", description = "hour (1h), day (1d, default), week (1w) or month (calendar units, UTC), or any other whole number of minutes, hours or days (`Nm`, `Nh`, `Nd`, such as `6h`); at most 10,000 buckets in the window (400 otherwise)")
    ),
    responses(
        (status = 200, description = "Use per bucket and model", body = ModelUsageTrendsResponse),
        (status = 400, description = "Invalid parameter, or more than 10,000 buckets in the window", body = crate::contract::responses::Detail)
    ))]
pub async fn usage_trends(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<ModelUsageTrendsResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let granularity = TrendBucket::parse(&params, filters.window.length())?;
    // Calendar units truncate in UTC; other widths are bins aligned to 2000-01-01T00:00:00Z.
    let interval;
    let buckets = match granularity {
        TrendBucket::Calendar(unit) => TrendBuckets::Calendar(unit),
        TrendBucket::Width(width) => {
            interval = width.interval();
            TrendBuckets::Bins(&interval, width.seconds())
        }
    };
    let data = rows::usage_trends(&state.db, &filters.rows(), buckets)
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|row| ModelUsageBucket {
            time_bucket: row.time_bucket,
            model_id: row.model_id,
            model_name: row.model_name,
            usage_count: row.usage_count,
            acceptance_rate: row.acceptance_rate,
            unique_users: row.unique_users,
        })
        .collect();
    Ok(Json(ModelUsageTrendsResponse { data, filters: ModelUsageTrendsFilters { scope: filters.scope(), granularity: granularity.name() } }))
}

/// `granularity` of the model usage trends: a calendar unit, or a width as elsewhere.
#[derive(Debug, Clone, Copy)]
enum TrendBucket {
    /// `hour`, `day`, `week` or `month` (also `1h`, `1d`, `1w`), for `date_trunc`.
    Calendar(&'static str),
    /// Any other `Nm`, `Nh` or `Nd`, for `date_bin`.
    Width(Span),
}

impl TrendBucket {
    /// Reads `granularity` (default `day`; upstream passes its default "1d" straight to
    /// date_trunc, which PostgreSQL rejects: 500), bounded to [`span::MAX_BUCKETS`] buckets over
    /// a window of `window`.
    fn parse(params: &Params, window: chrono::Duration) -> Result<Self, ApiError> {
        let raw = params.get("granularity").map(|g| g.trim()).filter(|g| !g.is_empty()).unwrap_or("day");
        let invalid = |reason: String| bad_request(format!("Invalid granularity: {}: {reason}", shown(raw)));
        let bucket = match raw {
            "hour" | "1h" => Self::Calendar("hour"),
            "day" | "1d" => Self::Calendar("day"),
            "week" | "1w" => Self::Calendar("week"),
            "month" => Self::Calendar("month"),
            other => Self::Width(
                Span::parse(other)
                    .map_err(|_| invalid("expected hour, day, week, month, or a whole number of minutes, hours or days such as 6h".into()))?,
            ),
        };
        // A month is counted as its shortest, so the bound never lets too many through.
        let seconds = match bucket {
            Self::Calendar("hour") => 3600,
            Self::Calendar("day") => 86_400,
            Self::Calendar("week") => 7 * 86_400,
            Self::Calendar(_) => 28 * 86_400,
            Self::Width(width) => width.seconds(),
        };
        span::check_buckets(window, seconds, &bucket.name()).map_err(|reason| invalid(reason.to_string()))?;
        Ok(bucket)
    }

    /// As the answer echoes it: the unit, or the width (`6h`).
    fn name(self) -> String {
        match self {
            Self::Calendar(unit) => unit.to_owned(),
            Self::Width(width) => width.name(),
        }
    }
}

/// `GET /api/analytics/models/performance-by-context`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceByContextResponse {
    /// One row per segment with at least five completion generations.
    pub data: Vec<ContextPerformance>,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's completion generations in one context segment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextPerformance {
    /// The model's name.
    pub model_name: String,
    /// The language's name.
    pub language: String,
    /// The trigger's name.
    pub trigger_type: String,
    /// Where in what size of document.
    pub context: ContextSegment,
    /// How the model did there.
    pub metrics: ContextMetrics,
}

/// A document size and caret position class.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextSegment {
    /// `small` (< 1,000 characters), `medium` (< 10,000), `large` (< 100,000), `xlarge` or `unknown`.
    pub document_size: String,
    /// `beginning` (relative position < 0.25), `middle` (< 0.75), `end` or `unknown`.
    pub document_position: String,
}

/// A segment's completion generations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextMetrics {
    /// Completion generations (at least 5).
    pub sample_size: i64,
    /// Share accepted (0..1).
    pub acceptance_rate: f64,
    /// Mean generation time, in ms.
    pub avg_generation_time: f64,
    /// Mean confidence (0..1).
    pub avg_confidence: f64,
}

/// Per model, language, trigger, document size and caret position: acceptance, generation time
/// and confidence, for segments with at least five generations.
#[utoipa::path(get, path = "/api/analytics/models/performance-by-context", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "Metrics per segment", body = PerformanceByContextResponse)
    ))]
pub async fn performance_by_context(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<PerformanceByContextResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let data = rows::performance_by_context(&state.db, &filters.rows())
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|row| ContextPerformance {
            model_name: row.model_name,
            language: row.language,
            trigger_type: row.trigger_type,
            context: ContextSegment { document_size: row.document_size, document_position: row.document_position },
            metrics: ContextMetrics {
                sample_size: row.sample_size,
                acceptance_rate: row.acceptance_rate,
                avg_generation_time: row.avg_generation_time,
                avg_confidence: row.avg_confidence,
            },
        })
        .collect();
    Ok(Json(PerformanceByContextResponse { data, filters: filters.with_model() }))
}

/// `GET /api/analytics/models/ground-truth-analysis`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroundTruthAnalysisResponse {
    /// One row per model with ground truths, by model id.
    pub data: Vec<GroundTruthStats>,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's completions against their ground truth; lengths in characters.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroundTruthStats {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completions whose query has a ground truth.
    pub total_with_ground_truth: i64,
    /// Share equal to the ground truth, ignoring surrounding whitespace (0..1).
    pub exact_match_rate: f64,
    /// Mean completion length.
    pub avg_completion_length: f64,
    /// Mean ground-truth length.
    pub avg_ground_truth_length: f64,
    /// Mean confidence of these completions (0..1).
    pub avg_confidence_with_truth: f64,
    /// Share of these completions accepted (0..1).
    pub acceptance_rate_with_truth: f64,
    /// Mean absolute difference between completion and ground-truth length.
    pub avg_length_diff: f64,
}

/// Per model, over completions whose query has a ground truth (the latest one, recorded in the
/// window): how often the completion equals it (ignoring surrounding whitespace), lengths,
/// confidence and acceptance.
#[utoipa::path(get, path = "/api/analytics/models/ground-truth-analysis", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "Ground-truth statistics per model", body = GroundTruthAnalysisResponse)
    ))]
pub async fn ground_truth_analysis(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<GroundTruthAnalysisResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let data = rows::ground_truth(&state.db, &filters.rows())
        .await
        .map_err(ApiError::database)?
        .into_iter()
        .map(|row| GroundTruthStats {
            model_id: row.model_id,
            model_name: row.model_name,
            total_with_ground_truth: row.total_with_ground_truth,
            exact_match_rate: row.exact_match_rate,
            avg_completion_length: row.avg_completion_length,
            avg_ground_truth_length: row.avg_ground_truth_length,
            avg_confidence_with_truth: row.avg_confidence_with_truth,
            acceptance_rate_with_truth: row.acceptance_rate_with_truth,
            avg_length_diff: row.avg_length_diff,
        })
        .collect();
    Ok(Json(GroundTruthAnalysisResponse { data, filters: filters.with_model() }))
}
