//! `/api/analytics/usage/...`: how much the platform is used and how often its completions are
//! accepted — queries over time, acceptance rates with 95 % intervals, latency percentiles.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Filters, GRANULARITY_DOC, ModelScopeFilters, Params, ScopeFilters, bad_request, bucket, group_by};
use crate::analytics::stats::wilson;
use crate::contract::error::ApiError;
use crate::db::analytics::usage::{self, QueryKinds};
use crate::db::analytics::{Grain, GroupBy};
use crate::http::auth::ResearchCaller;
use crate::services::state::AppState;

/// `GET /api/analytics/usage/acceptance-rates`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptanceRatesResponse {
    /// One row per group, most generations first.
    pub data: Vec<GroupAcceptance>,
    /// What the rows are grouped by: `model`, `config`, `language` or `trigger`.
    pub group_by: &'static str,
    /// The rows covered.
    pub filters: ScopeFilters,
}

/// One group's acceptance rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupAcceptance {
    /// The model's, language's or trigger's name, or `config <id>`.
    pub group_name: String,
    /// Share of the group's completion generations accepted (0..1).
    pub acceptance_rate: f64,
    /// The group's completion generations.
    pub sample_size: i64,
    /// Wilson 95 % interval of the rate.
    pub confidence_interval: ConfidenceInterval,
}

/// A 95 % confidence interval.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ConfidenceInterval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl From<(f64, f64)> for ConfidenceInterval {
    fn from((lower, upper): (f64, f64)) -> Self {
        Self { lower, upper }
    }
}

/// Acceptance rate per model, config, language or trigger, with a Wilson 95 % interval.
#[utoipa::path(get, path = "/api/analytics/usage/acceptance-rates", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("group_by" = Option<String>, Query, pattern = "^\\s*(model|config|language|trigger)?\\s*$", description = "model (default), config (the user's current config), language or trigger")
    ),
    responses(
        (status = 200, description = "Acceptance per group", body = AcceptanceRatesResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail)
    ))]
pub async fn acceptance_rates(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<AcceptanceRatesResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let group = group_by(&params, &[GroupBy::Model, GroupBy::Config, GroupBy::Language, GroupBy::Trigger])?;
    let rows = usage::acceptance(&state.db, &filters.rows(), group).await.map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(|row| GroupAcceptance {
            acceptance_rate: row.accepted as f64 / row.generations as f64,
            sample_size: row.generations,
            confidence_interval: wilson(row.accepted, row.generations).expect("groups are never empty").into(),
            group_name: row.group_name,
        })
        .collect();
    Ok(Json(AcceptanceRatesResponse { data, group_by: group.name(), filters: filters.scope() }))
}

/// `GET /api/analytics/usage/latency-distribution`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyDistributionResponse {
    /// Generation-time percentiles per model, by model name.
    pub percentiles: Vec<LatencyPercentiles>,
    /// Up to 1,000 completion generations, fastest first.
    pub raw_data: Vec<LatencySample>,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's generation-time percentiles, in ms.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyPercentiles {
    /// The model's name.
    pub model_name: String,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One completion generation's latency.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencySample {
    /// The model's name.
    pub model_name: String,
    /// The user's current config; `null` when the user is gone.
    pub config_id: Option<i64>,
    /// Time the model took, in ms.
    pub generation_time: i32,
    /// Time the server took for the whole query, in ms; `null` when not recorded.
    pub total_serving_time: Option<i32>,
}

/// Generation-time percentiles per model, and up to 1,000 raw samples (fastest first).
#[utoipa::path(get, path = "/api/analytics/usage/latency-distribution", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("model_id" = Option<i64>, Query, description = "One model")
    ),
    responses(
        (status = 200, description = "Latency per model", body = LatencyDistributionResponse)
    ))]
pub async fn latency_distribution(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<LatencyDistributionResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let scope = filters.rows();
    let percentiles = usage::latency_percentiles(&state.db, &scope).await.map_err(ApiError::database)?;
    let raw = usage::latency_samples(&state.db, &scope).await.map_err(ApiError::database)?;
    Ok(Json(LatencyDistributionResponse {
        percentiles: percentiles
            .into_iter()
            .map(|row| LatencyPercentiles { model_name: row.model_name, p50: row.p50, p90: row.p90, p95: row.p95, p99: row.p99 })
            .collect(),
        raw_data: raw
            .into_iter()
            .map(|row| LatencySample {
                model_name: row.model_name,
                config_id: row.config_id,
                generation_time: row.generation_time,
                total_serving_time: row.total_serving_time,
            })
            .collect(),
        filters: filters.with_model(),
    }))
}

/// `GET /api/analytics/usage/queries-over-time`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueriesOverTimeResponse {
    /// Counts by bucket, then language, trigger and query type (empty combinations are left out).
    pub data: Vec<QueryCount>,
    /// The rows covered.
    pub filters: QueriesOverTimeFilters,
}

/// Queries of one language, trigger and query type in one time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryCount {
    /// Start of the bucket (buckets are aligned to 2000-01-01T00:00:00Z).
    pub time_bucket: DateTime<Utc>,
    /// The language's name; `null` when the query has no contextual telemetry.
    pub language: Option<String>,
    /// The trigger's name; `null` when the query has no contextual telemetry.
    pub trigger_type: Option<String>,
    /// `completion` or `chat`.
    pub query_type: String,
    /// Queries.
    pub count: i64,
}

/// `filters` of queries over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueriesOverTimeFilters {
    /// The window and the user.
    #[serde(flatten)]
    pub scope: ScopeFilters,
    /// The bucket width as `Nm`, `Nh` or `Nd` (`6h`).
    pub granularity: String,
    /// `completion` or `chat`; `null` for both.
    pub query_type: Option<String>,
    /// The one language counted; `null` for all.
    pub language: Option<String>,
    /// The one trigger counted; `null` for all.
    pub trigger_type: Option<String>,
}

/// Query counts per time bucket, language, trigger and query type.
#[utoipa::path(get, path = "/api/analytics/usage/queries-over-time", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams,
        ("granularity" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = GRANULARITY_DOC),
        ("query_type" = Option<String>, Query, pattern = "^\\s*(completion|chat)?\\s*$", description = "completion or chat"),
        ("language" = Option<String>, Query, description = "A language name, e.g. Python"),
        ("trigger_type" = Option<String>, Query, description = "A trigger name, e.g. manual")
    ),
    responses(
        (status = 200, description = "Query counts per bucket", body = QueriesOverTimeResponse),
        (status = 400, description = "Invalid parameter, or more than 10,000 buckets in the window", body = crate::contract::responses::Detail)
    ))]
pub async fn queries_over_time(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<QueriesOverTimeResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let granularity = bucket(&params, filters.window.length())?;
    let query_type = params.get("query_type").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if let Some(kind) = query_type.as_deref().filter(|t| !matches!(*t, "completion" | "chat")) {
        return Err(bad_request(format!("Invalid query_type: {kind:?} (expected completion or chat)")));
    }
    let language = params.get("language").map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    let trigger = params.get("trigger_type").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let kinds = QueryKinds { query_type: query_type.as_deref(), language: language.as_deref(), trigger_type: trigger.as_deref() };
    let rows = usage::queries_over_time(&state.db, &filters.rows(), &granularity.interval(), Grain::for_buckets(granularity.seconds()), kinds)
        .await
        .map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(|row| QueryCount {
            time_bucket: row.time_bucket,
            language: row.language,
            trigger_type: row.trigger_type,
            query_type: row.query_type,
            count: row.count,
        })
        .collect();
    let filters = QueriesOverTimeFilters { scope: filters.scope(), granularity: granularity.name(), query_type, language, trigger_type: trigger };
    Ok(Json(QueriesOverTimeResponse { data, filters }))
}

/// `GET /api/analytics/usage/user-behavior`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBehaviorResponse {
    /// One row per user with queries, most queries first.
    pub data: Vec<UserBehavior>,
    /// The rows covered.
    pub filters: ScopeFilters,
}

/// One user's behaviour in the window; the means are `null` without behavioural telemetry.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBehavior {
    /// The user.
    pub user_id: uuid::Uuid,
    /// Their display name.
    pub user_name: String,
    /// Mean typing speed the plugin reported.
    pub avg_typing_speed: Option<f64>,
    /// Mean time since the last completion was shown, in ms.
    pub avg_time_since_shown: Option<f64>,
    /// Mean time since the last completion was accepted, in ms.
    pub avg_time_since_accepted: Option<f64>,
    /// Distinct sessions with a query.
    pub session_count: i64,
    /// Queries.
    pub total_queries: i64,
    /// Share of their completion generations accepted (0..1); `null` without any.
    pub acceptance_rate: Option<f64>,
    /// Distinct UTC days with a query.
    pub active_days: i64,
}

/// Per user: typing speed, time since the last shown and accepted completion, sessions, queries,
/// acceptance and active days.
#[utoipa::path(get, path = "/api/analytics/usage/user-behavior", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams),
    responses(
        (status = 200, description = "Behaviour per user", body = UserBehaviorResponse)
    ))]
pub async fn user_behavior(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<UserBehaviorResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let rows = usage::user_behavior(&state.db, &filters.rows()).await.map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(|row| UserBehavior {
            user_id: row.user_id,
            user_name: row.user_name,
            avg_typing_speed: row.avg_typing_speed,
            avg_time_since_shown: row.avg_time_since_shown,
            avg_time_since_accepted: row.avg_time_since_accepted,
            session_count: row.session_count,
            total_queries: row.total_queries,
            acceptance_rate: row.acceptance_rate,
            active_days: row.active_days,
        })
        .collect();
    Ok(Json(UserBehaviorResponse { data, filters: filters.scope() }))
}
