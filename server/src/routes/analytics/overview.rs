//! `/api/analytics/overview/...`: the dashboard's headline numbers with their trend against the
//! previous window, the activity timeline, and user engagement.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::params::{Filters, GRANULARITY_DOC, Params, bad_request, bucket, shown, user_scope};
use crate::analytics::Window;
use crate::analytics::span::Span;
use crate::contract::error::ApiError;
use crate::db::analytics::Grain;
use crate::db::analytics::overview::{self, EngagementRow, ModelTotals, QueryTotals};
use crate::http::auth::ResearchCaller;
use crate::services::state::AppState;

/// The last `time_window` up to now, and whose rows.
struct Recent {
    /// The window's canonical name (`6h`).
    name: String,
    length: Duration,
    filters: Filters,
}

impl Recent {
    /// `time_window`: any whole number of minutes, hours or days (`Nm`, `Nh`, `Nd`, at most
    /// [`crate::analytics::span::MAX_DAYS`] days; upstream offers a few per endpoint, `default` first among them).
    fn parse(caller: ResearchCaller, params: &Params, default: &str) -> Result<Self, ApiError> {
        let raw = params.get("time_window").map(|w| w.trim()).filter(|w| !w.is_empty()).unwrap_or(default);
        let window = Span::parse(raw).map_err(|reason| bad_request(format!("Invalid time_window: {}: {reason}", shown(raw))))?;
        let (name, length) = (window.name(), window.duration());
        Ok(Self { name, length, filters: Filters::over(Window::last(length), user_scope(caller, params)?) })
    }
}

/// The dashboard's totals over one window.
#[derive(Debug, Clone, Default)]
struct Totals {
    /// Its queries.
    queries: QueryTotals,
    /// Completion generations per model, in no particular order.
    models: Vec<ModelTotals>,
}

impl Totals {
    fn generations(&self) -> i64 {
        self.models.iter().map(|m| m.generations).sum()
    }

    fn accepted(&self) -> i64 {
        self.models.iter().map(|m| m.accepted).sum()
    }

    /// Share of the window's completion generations accepted; `None` without any.
    fn acceptance(&self) -> Option<f64> {
        let n = self.generations();
        (n > 0).then(|| self.accepted() as f64 / n as f64)
    }

    /// Mean generation time in ms; `None` without generations.
    fn generation_ms(&self) -> Option<f64> {
        let n = self.generations();
        (n > 0).then(|| self.models.iter().map(|m| m.generation_ms).sum::<f64>() / n as f64)
    }

    /// The five models with the highest acceptance (then the most generations).
    fn top_models(&self) -> Vec<DashboardModel> {
        let mut ranked: Vec<DashboardModel> = self
            .models
            .iter()
            .map(|m| DashboardModel {
                model_id: m.model_id,
                model_name: m.model_name.clone(),
                usage_count: m.generations,
                acceptance_rate: m.accepted as f64 / m.generations as f64,
            })
            .collect();
        ranked.sort_by(|a, b| b.acceptance_rate.total_cmp(&a.acceptance_rate).then(b.usage_count.cmp(&a.usage_count)));
        ranked.truncate(5);
        ranked
    }
}

/// The window's totals: one pass over its queries and one over its generations grouped by model
/// (the overall figures and the top models are summed from the groups).
async fn totals(state: &AppState, filters: &Filters) -> Result<Totals, ApiError> {
    let scope = filters.rows();
    let (queries, models) =
        tokio::try_join!(overview::query_totals(&state.db, &scope), overview::model_totals(&state.db, &scope)).map_err(ApiError::database)?;
    Ok(Totals { queries, models })
}

/// Percentage change from `previous` to `current`; `None` when there was nothing before.
fn change_pct(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous * 100.0)
}

/// Which way a number moved against the previous window.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrendDirection {
    /// It grew.
    Up,
    /// It shrank.
    Down,
    /// Unchanged, or nothing to compare with.
    Stable,
}

fn direction(change: Option<f64>) -> TrendDirection {
    match change {
        Some(c) if c > 0.0 => TrendDirection::Up,
        Some(c) if c < 0.0 => TrendDirection::Down,
        _ => TrendDirection::Stable,
    }
}

/// The window a response covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Period {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End: now.
    pub end: DateTime<Utc>,
}

impl From<Window> for Period {
    fn from(Window { start, end }: Window) -> Self {
        Self { start, end }
    }
}

/// `GET /api/analytics/overview/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardResponse {
    /// The window as `Nm`, `Nh` or `Nd` (`7d`).
    pub time_window: String,
    /// The window's bounds.
    pub period: Period,
    /// Totals over the window.
    pub overview: DashboardOverview,
    /// Change against the window of the same length just before.
    pub trends: DashboardTrends,
    /// Up to 5 models, highest acceptance rate first.
    pub top_models: Vec<DashboardModel>,
    /// Up to 10 languages, most queries first.
    pub top_languages: Vec<DashboardLanguage>,
}

/// The dashboard's totals over its window.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOverview {
    /// Queries (completions and chats).
    pub total_queries: i64,
    /// Completion queries.
    pub completion_queries: i64,
    /// Chat queries.
    pub chat_queries: i64,
    /// Distinct users who queried.
    pub active_users: i64,
    /// Distinct sessions that queried.
    pub total_sessions: i64,
    /// Share of completion generations accepted (0..1); `null` without any.
    pub overall_acceptance_rate: Option<f64>,
    /// Mean generation time of completions, in ms; `null` without any.
    pub avg_generation_time_ms: Option<f64>,
    /// Distinct models that generated completions.
    pub models_used: i64,
    /// Completion generations accepted.
    pub total_accepted_generations: i64,
}

/// The dashboard's change against the previous window, in percent of the previous value.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardTrends {
    /// Change in queries (%); `null` when the previous window had none.
    pub queries_change_pct: Option<f64>,
    /// Change in active users (%); `null` when the previous window had none.
    pub users_change_pct: Option<f64>,
    /// Change in acceptance rate (%); `null` when either window has no rate or the previous one was 0.
    pub acceptance_change_pct: Option<f64>,
    /// Which way each moved.
    pub direction: DashboardDirections,
}

/// Which way each of the dashboard's trends moved.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardDirections {
    /// Queries.
    pub queries: TrendDirection,
    /// Active users.
    pub users: TrendDirection,
    /// Acceptance rate.
    pub acceptance: TrendDirection,
}

/// A model among the dashboard's top models.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardModel {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completion generations in the window.
    pub usage_count: i64,
    /// Share of them accepted (0..1).
    pub acceptance_rate: f64,
}

/// A language among the dashboard's top languages.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardLanguage {
    /// The language's name.
    pub language: String,
    /// Queries in it.
    pub query_count: i64,
    /// Share of its completion generations accepted (0..1); `null` without any.
    pub acceptance_rate: Option<f64>,
}

/// Headline numbers for the window, their change against the window before it, the top models by
/// acceptance and the top languages by queries.
#[utoipa::path(get, path = "/api/analytics/overview/dashboard", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(
        ("time_window" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = "The last N minutes, hours or days up to now: `Nm`, `Nh` or `Nd` (upstream: 1d, 7d or 30d; default 7d), at most 3660 days"),
        ("user_id" = Option<Uuid>, Query, description = "Admins only: one user's rows (ignored for everyone else)")
    ),
    responses(
        (status = 200, description = "The dashboard", body = DashboardResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail)
    ))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<DashboardResponse>, ApiError> {
    let Recent { name, filters, .. } = Recent::parse(caller, &params, "7d")?;
    let Window { start, end } = filters.window;
    let previous = Filters::over(filters.window.previous(), filters.user);
    let top_languages = async { overview::top_languages(&state.db, &filters.rows()).await.map_err(ApiError::database) };
    // Independent reads, each on its own pooled connection: the answer takes as long as the slowest.
    let (now, before, top_languages) = tokio::try_join!(totals(&state, &filters), totals(&state, &previous), top_languages)?;
    let queries_change = change_pct(now.queries.queries as f64, before.queries.queries as f64);
    let users_change = change_pct(now.queries.users as f64, before.queries.users as f64);
    let acceptance_change = now.acceptance().zip(before.acceptance()).and_then(|(n, b)| change_pct(n, b));

    Ok(Json(DashboardResponse {
        time_window: name,
        period: Period { start, end },
        overview: DashboardOverview {
            total_queries: now.queries.queries,
            completion_queries: now.queries.completions,
            chat_queries: now.queries.chats,
            active_users: now.queries.users,
            total_sessions: now.queries.sessions,
            overall_acceptance_rate: now.acceptance(),
            avg_generation_time_ms: now.generation_ms(),
            models_used: now.models.len() as i64,
            total_accepted_generations: now.accepted(),
        },
        trends: DashboardTrends {
            queries_change_pct: queries_change,
            users_change_pct: users_change,
            acceptance_change_pct: acceptance_change,
            direction: DashboardDirections {
                queries: direction(queries_change),
                users: direction(users_change),
                acceptance: direction(acceptance_change),
            },
        },
        top_models: now.top_models(),
        top_languages: top_languages
            .into_iter()
            .map(|row| DashboardLanguage { language: row.language, query_count: row.query_count, acceptance_rate: row.acceptance_rate })
            .collect(),
    }))
}

/// `GET /api/analytics/overview/activity-timeline`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityTimelineResponse {
    /// Buckets with queries, oldest first (empty buckets are left out).
    pub timeline: Vec<ActivityBucket>,
    /// The window as `Nm`, `Nh` or `Nd` (`24h`).
    pub time_window: String,
    /// The bucket width as `Nm`, `Nh` or `Nd` (`1h`).
    pub granularity: String,
    /// The window's bounds.
    pub period: Period,
    /// Whose rows.
    pub filters: ActivityTimelineFilters,
}

/// `filters` of the activity timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityTimelineFilters {
    /// The one user whose rows were read; `null` for everyone's (admins only).
    pub user_id: Option<Uuid>,
}

/// One bucket of the activity timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityBucket {
    /// Start of the bucket (buckets are aligned to 2000-01-01T00:00:00Z).
    pub time_bucket: DateTime<Utc>,
    /// Queries.
    pub query_count: i64,
    /// Completion queries.
    pub completion_count: i64,
    /// Chat queries.
    pub chat_count: i64,
    /// Distinct users who queried.
    pub active_users: i64,
    /// Share of completion generations accepted (0..1); `null` without any.
    pub acceptance_rate: Option<f64>,
    /// Mean generation time, in ms; `null` without any generation.
    pub avg_generation_time: Option<f64>,
}

/// Queries, users, acceptance and generation time per time bucket.
#[utoipa::path(get, path = "/api/analytics/overview/activity-timeline", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(
        ("time_window" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = "The last N minutes, hours or days up to now: `Nm`, `Nh` or `Nd` (upstream: 1h, 6h, 24h or 7d; default 24h), at most 3660 days"),
        ("granularity" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = GRANULARITY_DOC),
        ("user_id" = Option<Uuid>, Query, description = "Admins only: one user's rows (ignored for everyone else)")
    ),
    responses(
        (status = 200, description = "The timeline", body = ActivityTimelineResponse),
        (status = 400, description = "Invalid parameter, or more than 10,000 buckets in the window", body = crate::contract::responses::Detail)
    ))]
pub async fn activity_timeline(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<ActivityTimelineResponse>, ApiError> {
    let Recent { name, length, filters } = Recent::parse(caller, &params, "24h")?;
    let granularity = bucket(&params, length)?;
    let rows = overview::activity(&state.db, &filters.rows(), &granularity.interval(), Grain::for_buckets(granularity.seconds()))
        .await
        .map_err(ApiError::database)?;
    let timeline = rows
        .into_iter()
        .map(|row| ActivityBucket {
            time_bucket: row.time_bucket,
            query_count: row.query_count,
            completion_count: row.completion_count,
            chat_count: row.chat_count,
            active_users: row.active_users,
            acceptance_rate: row.acceptance_rate,
            avg_generation_time: row.avg_generation_time,
        })
        .collect();
    Ok(Json(ActivityTimelineResponse {
        timeline,
        time_window: name,
        granularity: granularity.name(),
        period: filters.window.into(),
        filters: ActivityTimelineFilters { user_id: filters.user },
    }))
}

/// `GET /api/analytics/overview/user-engagement`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEngagementResponse {
    /// Everyone's summarised, or one user's own.
    pub engagement: UserEngagement,
    /// The window as `Nm`, `Nh` or `Nd` (`30d`).
    pub time_window: String,
    /// The window's bounds.
    pub period: Period,
}

/// User engagement, told apart by `summary_type`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "summary_type", rename_all = "lowercase")]
pub enum UserEngagement {
    /// One user's own (non-admins, or an admin's `user_id`).
    Personal(PersonalEngagement),
    /// Every user's, summarised (admins without `user_id`).
    Aggregated(AggregatedEngagement),
}

/// One user's engagement in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalEngagement {
    /// The user.
    pub user_id: Uuid,
    /// Their queries.
    pub total_queries: i64,
    /// Distinct UTC days with a query.
    pub active_days: i64,
    /// Distinct sessions with a query.
    pub total_sessions: i64,
    /// Their first query in the window; `null` without any.
    pub first_query: Option<DateTime<Utc>>,
    /// Their last query in the window; `null` without any.
    pub last_query: Option<DateTime<Utc>>,
    /// Share of their completion generations accepted (0..1); `null` without any.
    pub acceptance_rate: Option<f64>,
    /// Mean UTC hour of their queries (0..24); 12 without any.
    pub avg_hour_of_day: f64,
}

/// Every active user's engagement in the window, summarised; the means are `null` without users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregatedEngagement {
    /// Users with a query.
    pub total_active_users: usize,
    /// Mean queries per active user.
    pub avg_queries_per_user: Option<f64>,
    /// Median queries per active user.
    pub median_queries_per_user: Option<f64>,
    /// Mean distinct UTC days with a query per active user.
    pub avg_active_days: Option<f64>,
    /// Mean sessions per active user.
    pub avg_sessions_per_user: Option<f64>,
    /// Mean of the users' acceptance rates (0..1), over users with completion generations.
    pub avg_user_acceptance_rate: Option<f64>,
    /// Users with at least 10 queries.
    pub highly_active_users: usize,
    /// Users active on at least 5 days.
    pub regular_users: usize,
}

/// Engagement: everyone's summarised (admins without `user_id`), or one user's own.
#[utoipa::path(get, path = "/api/analytics/overview/user-engagement", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(
        ("time_window" = Option<String>, Query, pattern = "^\\s*([0-9]+[mhd])?\\s*$", description = "The last N minutes, hours or days up to now: `Nm`, `Nh` or `Nd` (upstream: 7d, 30d or 90d; default 30d), at most 3660 days"),
        ("user_id" = Option<Uuid>, Query, description = "Admins only: one user's rows (ignored for everyone else)")
    ),
    responses(
        (status = 200, description = "The engagement", body = UserEngagementResponse),
        (status = 400, description = "Invalid parameter", body = crate::contract::responses::Detail)
    ))]
pub async fn user_engagement(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<UserEngagementResponse>, ApiError> {
    let Recent { name, filters, .. } = Recent::parse(caller, &params, "30d")?;
    let rows = overview::engagement(&state.db, &filters.rows()).await.map_err(ApiError::database)?;
    let engagement = match filters.user {
        Some(user_id) => {
            let row = rows.first();
            UserEngagement::Personal(PersonalEngagement {
                user_id,
                total_queries: row.map_or(0, |r| r.queries),
                active_days: row.map_or(0, |r| r.active_days),
                total_sessions: row.map_or(0, |r| r.sessions),
                first_query: row.map(|r| r.first_query),
                last_query: row.map(|r| r.last_query),
                acceptance_rate: row.and_then(|r| r.acceptance_rate),
                avg_hour_of_day: row.map_or(12.0, |r| r.avg_hour),
            })
        }
        None => {
            let n = rows.len();
            let mean = |f: &dyn Fn(&EngagementRow) -> f64| (n > 0).then(|| rows.iter().map(f).sum::<f64>() / n as f64);
            let median =
                (n > 0).then(|| if n % 2 == 1 { rows[n / 2].queries as f64 } else { (rows[n / 2 - 1].queries + rows[n / 2].queries) as f64 / 2.0 });
            let rates: Vec<f64> = rows.iter().filter_map(|r| r.acceptance_rate).collect();
            UserEngagement::Aggregated(AggregatedEngagement {
                total_active_users: n,
                avg_queries_per_user: mean(&|r| r.queries as f64),
                median_queries_per_user: median,
                avg_active_days: mean(&|r| r.active_days as f64),
                avg_sessions_per_user: mean(&|r| r.sessions as f64),
                avg_user_acceptance_rate: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
                highly_active_users: rows.iter().filter(|r| r.queries >= 10).count(),
                regular_users: rows.iter().filter(|r| r.active_days >= 5).count(),
            })
        }
    };
    Ok(Json(UserEngagementResponse { engagement, time_window: name, period: filters.window.into() }))
}
