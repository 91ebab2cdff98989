//! `/api/analytics/overview/...`: the dashboard's headline numbers with their trend against the
//! previous window, the activity timeline, and user engagement.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::analytics::{ACCEPTANCE_RATE, Filters, GENERATIONS, GENERATIONS_IN_SCOPE, Params, QUERIES_IN_SCOPE, Window, bad_request, bucket, user_scope};
use crate::auth::extract::ResearchCaller;
use crate::error::ApiError;
use crate::state::AppState;


/// The last `time_window` (one of `allowed`, the first by default) up to now, and whose rows.
struct Recent {
    name: &'static str,
    length: Duration,
    filters: Filters,
}

impl Recent {
    fn parse(caller: ResearchCaller, params: &Params, allowed: &[(&'static str, Duration)]) -> Result<Self, ApiError> {
        let raw = params.get("time_window").map(|w| w.trim()).filter(|w| !w.is_empty());
        let (name, length) = match raw {
            None => allowed[0],
            Some(raw) => allowed.iter().copied().find(|(name, _)| *name == raw).ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
                bad_request(format!("Invalid time_window: {raw:?} (expected one of {})", names.join(", ")))
            })?,
        };
        let end = Utc::now();
        Ok(Self { name, length, filters: Filters::over(Window { start: end - length, end }, user_scope(caller, params)?) })
    }
}

/// The dashboard's totals over one window.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    queries: i64,
    completions: i64,
    chats: i64,
    users: i64,
    sessions: i64,
    acceptance: Option<f64>,
    generation_ms: Option<f64>,
    models: i64,
    accepted: i64,
}

async fn totals(state: &AppState, filters: &Filters) -> Result<Totals, ApiError> {
    let (queries, completions, chats, users, sessions): (i64, i64, i64, i64, i64) = filters
        .query(format!(
            "SELECT count(*)::bigint, (count(*) FILTER (WHERE query_type = 'completion'))::bigint, \
                    (count(*) FILTER (WHERE query_type = 'chat'))::bigint, count(DISTINCT user_id)::bigint, count(DISTINCT session_id)::bigint \
             FROM meta_query mq WHERE {QUERIES_IN_SCOPE}"
        ))
        .fetch_one(&state.db)
        .await
        .map_err(ApiError::database)?;
    let sql = format!(
        "SELECT {ACCEPTANCE_RATE}, avg(hg.generation_time)::float8, \
                count(DISTINCT hg.model_id)::bigint, (count(*) FILTER (WHERE hg.was_accepted))::bigint \
         {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE}"
    );
    let (acceptance, generation_ms, models, accepted): (Option<f64>, Option<f64>, i64, i64) =
        filters.query(sql).fetch_one(&state.db).await.map_err(ApiError::database)?;
    Ok(Totals { queries, completions, chats, users, sessions, acceptance, generation_ms, models, accepted })
}

/// Percentage change from `previous` to `current`; `None` when there was nothing before.
fn change_pct(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous * 100.0)
}

fn direction(change: Option<f64>) -> &'static str {
    match change {
        Some(c) if c > 0.0 => "up",
        Some(c) if c < 0.0 => "down",
        _ => "stable",
    }
}

/// Headline numbers for the window, their change against the window before it, the top models by
/// acceptance and the top languages by queries.
#[utoipa::path(get, path = "/api/analytics/overview/dashboard", tag = "analytics",
    params(
        ("time_window" = Option<String>, Query, description = "1d, 7d (default) or 30d"),
        ("user_id" = Option<String>, Query, description = "Admins only")
    ),
    responses(
        (status = 200, description = "`{time_window, period: {start, end}, overview: {...}, trends: {..., direction}, top_models, top_languages}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn dashboard(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let Recent { name, length, filters } =
        Recent::parse(caller, &params, &[("7d", Duration::days(7)), ("1d", Duration::days(1)), ("30d", Duration::days(30))])?;
    let Window { start, end } = filters.window;
    let now = totals(&state, &filters).await?;
    let before = totals(&state, &Filters::over(Window { start: start - length, end: start }, filters.user)).await?;
    let queries_change = change_pct(now.queries as f64, before.queries as f64);
    let users_change = change_pct(now.users as f64, before.users as f64);
    let acceptance_change = now.acceptance.zip(before.acceptance).and_then(|(n, b)| change_pct(n, b));

    let top_models: Vec<(i64, String, i64, f64)> = filters
        .query(format!(
            "SELECT hg.model_id, m.model_name, count(*)::bigint, {ACCEPTANCE_RATE} \
             {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1, 2 ORDER BY 4 DESC, 3 DESC LIMIT 5"
        ))
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let top_languages: Vec<(String, i64, Option<f64>)> = filters
        .query(format!(
            "SELECT pl.language_name, count(DISTINCT mq.meta_query_id)::bigint, {ACCEPTANCE_RATE} \
             FROM meta_query mq JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
             JOIN programming_language pl ON pl.language_id = ct.language_id \
             LEFT JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id AND mq.query_type = 'completion' \
             WHERE {QUERIES_IN_SCOPE} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
        ))
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;

    Ok(Json(json!({
        "time_window": name,
        "period": {"start": start, "end": end},
        "overview": {
            "total_queries": now.queries,
            "completion_queries": now.completions,
            "chat_queries": now.chats,
            "active_users": now.users,
            "total_sessions": now.sessions,
            "overall_acceptance_rate": now.acceptance,
            "avg_generation_time_ms": now.generation_ms,
            "models_used": now.models,
            "total_accepted_generations": now.accepted,
        },
        "trends": {
            "queries_change_pct": queries_change,
            "users_change_pct": users_change,
            "acceptance_change_pct": acceptance_change,
            "direction": {"queries": direction(queries_change), "users": direction(users_change), "acceptance": direction(acceptance_change)},
        },
        "top_models": top_models.into_iter().map(|(id, name, n, rate)| json!({"model_id": id, "model_name": name, "usage_count": n, "acceptance_rate": rate})).collect::<Vec<_>>(),
        "top_languages": top_languages.into_iter().map(|(language, n, rate)| json!({"language": language, "query_count": n, "acceptance_rate": rate})).collect::<Vec<_>>(),
    })))
}

/// A timeline bucket.
type TimelineRow = (DateTime<Utc>, i64, i64, i64, i64, Option<f64>, Option<f64>);

/// Queries, users, acceptance and generation time per time bucket.
#[utoipa::path(get, path = "/api/analytics/overview/activity-timeline", tag = "analytics",
    params(
        ("time_window" = Option<String>, Query, description = "1h, 6h, 24h (default) or 7d"),
        ("granularity" = Option<String>, Query, description = "5m, 15m, 1h (default) or 1d"),
        ("user_id" = Option<String>, Query, description = "Admins only")
    ),
    responses(
        (status = 200, description = "`{timeline: [{time_bucket, query_count, completion_count, chat_count, active_users, acceptance_rate, avg_generation_time}], time_window, granularity, period, filters}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn activity_timeline(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let windows = [("24h", Duration::hours(24)), ("1h", Duration::hours(1)), ("6h", Duration::hours(6)), ("7d", Duration::days(7))];
    let Recent { name, filters, .. } = Recent::parse(caller, &params, &windows)?;
    let (granularity, interval) = bucket(&params)?;
    let rows: Vec<TimelineRow> = filters
        .query(format!(
            "SELECT date_bin($5::interval, mq.\"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00'), count(DISTINCT mq.meta_query_id)::bigint, \
                    count(DISTINCT mq.meta_query_id) FILTER (WHERE mq.query_type = 'completion')::bigint, \
                    count(DISTINCT mq.meta_query_id) FILTER (WHERE mq.query_type = 'chat')::bigint, count(DISTINCT mq.user_id)::bigint, \
                    avg(CASE WHEN hg.was_accepted THEN 1.0 ELSE 0.0 END) FILTER (WHERE mq.query_type = 'completion')::float8, \
                    avg(hg.generation_time)::float8 \
             FROM meta_query mq LEFT JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
             WHERE {QUERIES_IN_SCOPE} GROUP BY 1 ORDER BY 1"
        ))
        .bind(interval)
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let timeline: Vec<Value> = rows
        .into_iter()
        .map(|(bucket, queries, completions, chats, users, acceptance, generation)| {
            json!({"time_bucket": bucket, "query_count": queries, "completion_count": completions, "chat_count": chats,
                   "active_users": users, "acceptance_rate": acceptance, "avg_generation_time": generation})
        })
        .collect();
    Ok(Json(json!({
        "timeline": timeline,
        "time_window": name,
        "granularity": granularity,
        "period": {"start": filters.window.start, "end": filters.window.end},
        "filters": {"user_id": filters.user},
    })))
}

/// One user's activity in the window.
type EngagementRow = (Uuid, i64, i64, i64, DateTime<Utc>, DateTime<Utc>, f64, Option<f64>);

/// Engagement: everyone's summarised (admins without `user_id`), or one user's own.
#[utoipa::path(get, path = "/api/analytics/overview/user-engagement", tag = "analytics",
    params(
        ("time_window" = Option<String>, Query, description = "7d, 30d (default) or 90d"),
        ("user_id" = Option<String>, Query, description = "Admins only")
    ),
    responses(
        (status = 200, description = "`{engagement: {summary_type: aggregated | personal, ...}, time_window, period}`", body = crate::openapi::Detail),
        (status = 400, description = "Invalid parameter", body = crate::openapi::Detail)
    ))]
pub async fn user_engagement(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<Value>, ApiError> {
    let Recent { name, filters, .. } =
        Recent::parse(caller, &params, &[("30d", Duration::days(30)), ("7d", Duration::days(7)), ("90d", Duration::days(90))])?;
    let sql = format!(
        "WITH queries AS ( \
             SELECT mq.user_id, count(*)::bigint AS queries, count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint AS days, \
                    count(DISTINCT mq.session_id)::bigint AS sessions, min(mq.\"timestamp\") AS first_query, max(mq.\"timestamp\") AS last_query, \
                    avg(extract(hour FROM mq.\"timestamp\" AT TIME ZONE 'UTC'))::float8 AS hour \
             FROM meta_query mq WHERE {QUERIES_IN_SCOPE} AND mq.user_id IS NOT NULL \
             GROUP BY 1), \
         acceptance AS (SELECT mq.user_id, {ACCEPTANCE_RATE} AS rate \
             {GENERATIONS} WHERE {GENERATIONS_IN_SCOPE} GROUP BY 1) \
         SELECT q.user_id, q.queries, q.days, q.sessions, q.first_query, q.last_query, q.hour, a.rate \
         FROM queries q LEFT JOIN acceptance a ON a.user_id = q.user_id ORDER BY q.queries"
    );
    let rows: Vec<EngagementRow> = filters.query(sql).fetch_all(&state.db).await.map_err(ApiError::database)?;
    let engagement = match filters.user {
        Some(user_id) => {
            let row = rows.first();
            json!({
                "summary_type": "personal",
                "user_id": user_id,
                "total_queries": row.map_or(0, |r| r.1),
                "active_days": row.map_or(0, |r| r.2),
                "total_sessions": row.map_or(0, |r| r.3),
                "first_query": row.map(|r| r.4),
                "last_query": row.map(|r| r.5),
                "acceptance_rate": row.and_then(|r| r.7),
                "avg_hour_of_day": row.map_or(12.0, |r| r.6),
            })
        }
        None => {
            let n = rows.len();
            let mean = |f: &dyn Fn(&EngagementRow) -> f64| (n > 0).then(|| rows.iter().map(f).sum::<f64>() / n as f64);
            let median = (n > 0).then(|| if n % 2 == 1 { rows[n / 2].1 as f64 } else { (rows[n / 2 - 1].1 + rows[n / 2].1) as f64 / 2.0 });
            let rates: Vec<f64> = rows.iter().filter_map(|r| r.7).collect();
            json!({
                "summary_type": "aggregated",
                "total_active_users": n,
                "avg_queries_per_user": mean(&|r| r.1 as f64),
                "median_queries_per_user": median,
                "avg_active_days": mean(&|r| r.2 as f64),
                "avg_sessions_per_user": mean(&|r| r.3 as f64),
                "avg_user_acceptance_rate": (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
                "highly_active_users": rows.iter().filter(|r| r.1 >= 10).count(),
                "regular_users": rows.iter().filter(|r| r.2 >= 5).count(),
            })
        }
    };
    Ok(Json(json!({"engagement": engagement, "time_window": name, "period": {"start": filters.window.start, "end": filters.window.end}})))
}
