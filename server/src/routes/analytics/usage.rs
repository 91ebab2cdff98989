//! `/api/analytics/usage/...`: how much the platform is used and how often its completions are
//! accepted — queries over time, acceptance rates with 95 % intervals, latency percentiles.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::analytics::stats::wilson;
use crate::analytics::{
    ACCEPTANCE_RATE, Filters, GENERATIONS, GENERATIONS_IN_SCOPE, GRANULARITY_DOC, GroupBy, ModelScopeFilters, Params, ScopeFilters, WITH_QUERY,
    bad_request, bucket,
};
use crate::auth::extract::ResearchCaller;
use crate::error::ApiError;
use crate::state::AppState;

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
    params(crate::analytics::ScopeParams,
        ("group_by" = Option<String>, Query, pattern = "^\\s*(model|config|language|trigger)?\\s*$", description = "model (default), config (the user's current config), language or trigger")
    ),
    responses(
        (status = 200, description = "Acceptance per group", body = AcceptanceRatesResponse),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn acceptance_rates(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<AcceptanceRatesResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let group = GroupBy::parse(params.get("group_by"), &[GroupBy::Model, GroupBy::Config, GroupBy::Language, GroupBy::Trigger])?;
    let (key, _, joins) = group.sql();
    let sql = format!(
        "SELECT {key}, (count(*) FILTER (WHERE hg.was_accepted))::bigint, count(*)::bigint {GENERATIONS} {joins} \
         WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1 ORDER BY 3 DESC, 1"
    );
    let rows: Vec<(String, i64, i64)> = filters.query(sql).fetch_all(&state.db).await.map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(|(group_name, accepted, n)| GroupAcceptance {
            group_name,
            acceptance_rate: accepted as f64 / n as f64,
            sample_size: n,
            confidence_interval: wilson(accepted, n).expect("groups are never empty").into(),
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
    params(crate::analytics::ScopeParams,
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
    let percentiles_sql = format!(
        "SELECT m.model_name, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY hg.generation_time), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY hg.generation_time) \
         {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1 ORDER BY 1"
    );
    let percentiles: Vec<(String, f64, f64, f64, f64)> = filters.query(percentiles_sql).fetch_all(&state.db).await.map_err(ApiError::database)?;
    let raw_sql = format!(
        "SELECT m.model_name, u.config_id, hg.generation_time, mq.total_serving_time {GENERATIONS} {WITH_QUERY} \
         LEFT JOIN \"user\" u ON u.user_id = hg.user_id WHERE {GENERATIONS_IN_SCOPE} ORDER BY hg.generation_time LIMIT 1000"
    );
    let raw: Vec<(String, Option<i64>, i32, Option<i32>)> = filters.query(raw_sql).fetch_all(&state.db).await.map_err(ApiError::database)?;
    Ok(Json(LatencyDistributionResponse {
        percentiles: percentiles.into_iter().map(|(model_name, p50, p90, p95, p99)| LatencyPercentiles { model_name, p50, p90, p95, p99 }).collect(),
        raw_data: raw
            .into_iter()
            .map(|(model_name, config_id, generation_time, total_serving_time)| LatencySample {
                model_name,
                config_id,
                generation_time,
                total_serving_time,
            })
            .collect(),
        filters: filters.with_model(),
    }))
}

/// A time bucket's count for one language, trigger and query type.
type BucketRow = (DateTime<Utc>, Option<String>, Option<String>, String, i64);

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
    params(crate::analytics::ScopeParams,
        ("granularity" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = GRANULARITY_DOC),
        ("query_type" = Option<String>, Query, pattern = "^\\s*(completion|chat)?\\s*$", description = "completion or chat"),
        ("language" = Option<String>, Query, description = "A language name, e.g. Python"),
        ("trigger_type" = Option<String>, Query, description = "A trigger name, e.g. manual")
    ),
    responses(
        (status = 200, description = "Query counts per bucket", body = QueriesOverTimeResponse),
        (status = 400, description = "Invalid parameter, or more than 10,000 buckets in the window", body = crate::openapi::Detail)
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
    .bind(&granularity.interval)
    .bind(&trigger)
    .fetch_all(&state.db)
    .await
    .map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(|(time_bucket, language, trigger_type, query_type, count)| QueryCount { time_bucket, language, trigger_type, query_type, count })
        .collect();
    let filters = QueriesOverTimeFilters { scope: filters.scope(), granularity: granularity.name, query_type, language, trigger_type: trigger };
    Ok(Json(QueriesOverTimeResponse { data, filters }))
}

/// One user's behaviour row.
type BehaviourRow = (uuid::Uuid, String, Option<f64>, Option<f64>, Option<f64>, i64, i64, Option<f64>, i64);

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
    params(crate::analytics::ScopeParams),
    responses(
        (status = 200, description = "Behaviour per user", body = UserBehaviorResponse)
    ))]
pub async fn user_behavior(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<UserBehaviorResponse>, ApiError> {
    let filters = Filters::parse_without_model(caller, &params)?;
    let sql = format!(
        "WITH acceptance AS (SELECT hg.user_id, {ACCEPTANCE_RATE} AS rate \
             {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1) \
         SELECT u.user_id, u.name, avg(bt.typing_speed)::float8, avg(bt.time_since_last_shown)::float8, avg(bt.time_since_last_accepted)::float8, \
                count(DISTINCT mq.session_id)::bigint, count(*)::bigint, a.rate, count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint \
         FROM meta_query mq JOIN \"user\" u ON u.user_id = mq.user_id \
         LEFT JOIN behavioral_telemetry bt ON bt.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         LEFT JOIN acceptance a ON a.user_id = mq.user_id \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3) \
         GROUP BY u.user_id, u.name, a.rate ORDER BY 7 DESC, 2"
    );
    let rows: Vec<BehaviourRow> = filters.query(sql).fetch_all(&state.db).await.map_err(ApiError::database)?;
    let data = rows
        .into_iter()
        .map(
            |(
                user_id,
                user_name,
                avg_typing_speed,
                avg_time_since_shown,
                avg_time_since_accepted,
                session_count,
                total_queries,
                acceptance_rate,
                active_days,
            )| {
                UserBehavior {
                    user_id,
                    user_name,
                    avg_typing_speed,
                    avg_time_since_shown,
                    avg_time_since_accepted,
                    session_count,
                    total_queries,
                    acceptance_rate,
                    active_days,
                }
            },
        )
        .collect();
    Ok(Json(UserBehaviorResponse { data, filters: filters.scope() }))
}
