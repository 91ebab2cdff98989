//! The overview's reads: a window's totals (queries, and generations per model), the top
//! languages, the activity timeline and each user's engagement.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Scope, scoped};

/// A window's queries.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct QueryTotals {
    /// Queries (completions and chats).
    pub queries: i64,
    /// Completion queries.
    pub completions: i64,
    /// Chat queries.
    pub chats: i64,
    /// Distinct users who queried.
    pub users: i64,
    /// Distinct sessions that queried.
    pub sessions: i64,
}

/// The window's queries, in one pass.
pub async fn query_totals(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<QueryTotals> {
    const SQL: &str = concat!(
        "SELECT count(*)::bigint AS queries, (count(*) FILTER (WHERE query_type = 'completion'))::bigint AS completions, \
                (count(*) FILTER (WHERE query_type = 'chat'))::bigint AS chats, count(DISTINCT user_id)::bigint AS users, \
                count(DISTINCT session_id)::bigint AS sessions \
         FROM meta_query mq WHERE ",
        queries_in_scope!()
    );
    scoped(SQL, scope).fetch_one(db).await
}

/// One model's completion generations in a window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelTotals {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completion generations.
    pub generations: i64,
    /// Of them, accepted.
    pub accepted: i64,
    /// Summed generation time, in ms.
    pub generation_ms: f64,
}

/// The window's completion generations per model, in no particular order (a hash aggregate; the
/// overall figures are summed from the groups).
pub async fn model_totals(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<ModelTotals>> {
    const SQL: &str = concat!(
        "SELECT hg.model_id, m.model_name, count(*)::bigint AS generations, (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted, \
                sum(hg.generation_time)::float8 AS generation_ms ",
        generations!(),
        " WHERE ",
        generations_in_scope!(),
        " GROUP BY 1, 2"
    );
    scoped(SQL, scope).fetch_all(db).await
}

/// A language's queries in a window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LanguageRow {
    /// The language's name.
    pub language: String,
    /// Queries in it.
    pub query_count: i64,
    /// Share of its completion generations accepted; `None` without any.
    pub acceptance_rate: Option<f64>,
}

/// The ten languages with the most queries in the window (then by name).
pub async fn top_languages(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LanguageRow>> {
    const SQL: &str = concat!(
        "SELECT pl.language_name AS language, count(DISTINCT mq.meta_query_id)::bigint AS query_count, ",
        acceptance_rate!(),
        " AS acceptance_rate \
         FROM meta_query mq JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         JOIN programming_language pl ON pl.language_id = ct.language_id \
         LEFT JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id AND mq.query_type = 'completion' \
         WHERE ",
        queries_in_scope!(),
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
    );
    scoped(SQL, scope).fetch_all(db).await
}

/// One time bucket of the activity timeline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    /// Start of the bucket.
    pub time_bucket: DateTime<Utc>,
    /// Queries.
    pub query_count: i64,
    /// Completion queries.
    pub completion_count: i64,
    /// Chat queries.
    pub chat_count: i64,
    /// Distinct users who queried.
    pub active_users: i64,
    /// Share of completion generations accepted; `None` without any.
    pub acceptance_rate: Option<f64>,
    /// Mean generation time, in ms; `None` without any generation.
    pub avg_generation_time: Option<f64>,
}

/// The window's queries per bucket of `interval` (a PostgreSQL interval such as `6 hours`;
/// buckets aligned to 2000-01-01T00:00:00Z), oldest first; empty buckets are left out.
pub async fn activity(db: impl PgExecutor<'_>, scope: &Scope, interval: &str) -> sqlx::Result<Vec<ActivityRow>> {
    const SQL: &str = concat!(
        "SELECT date_bin($5::interval, mq.\"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time_bucket, \
                count(DISTINCT mq.meta_query_id)::bigint AS query_count, \
                count(DISTINCT mq.meta_query_id) FILTER (WHERE mq.query_type = 'completion')::bigint AS completion_count, \
                count(DISTINCT mq.meta_query_id) FILTER (WHERE mq.query_type = 'chat')::bigint AS chat_count, \
                count(DISTINCT mq.user_id)::bigint AS active_users, \
                avg(CASE WHEN hg.was_accepted THEN 1.0 ELSE 0.0 END) FILTER (WHERE mq.query_type = 'completion')::float8 AS acceptance_rate, \
                avg(hg.generation_time)::float8 AS avg_generation_time \
         FROM meta_query mq LEFT JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
         WHERE ",
        queries_in_scope!(),
        " GROUP BY 1 ORDER BY 1"
    );
    scoped(SQL, scope).bind(interval).fetch_all(db).await
}

/// One user's activity in a window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EngagementRow {
    /// The user.
    pub user_id: Uuid,
    /// Their queries.
    pub queries: i64,
    /// Distinct UTC days with a query.
    pub active_days: i64,
    /// Distinct sessions with a query.
    pub sessions: i64,
    /// Their first query.
    pub first_query: DateTime<Utc>,
    /// Their last query.
    pub last_query: DateTime<Utc>,
    /// Mean UTC hour of their queries.
    pub avg_hour: f64,
    /// Share of their completion generations accepted; `None` without any.
    pub acceptance_rate: Option<f64>,
}

/// Each user's activity in the window, fewest queries first.
pub async fn engagement(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<EngagementRow>> {
    const SQL: &str = concat!(
        "WITH queries AS ( \
             SELECT mq.user_id, count(*)::bigint AS queries, count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint AS days, \
                    count(DISTINCT mq.session_id)::bigint AS sessions, min(mq.\"timestamp\") AS first_query, max(mq.\"timestamp\") AS last_query, \
                    avg(extract(hour FROM mq.\"timestamp\" AT TIME ZONE 'UTC'))::float8 AS hour \
             FROM meta_query mq WHERE ",
        queries_in_scope!(),
        " AND mq.user_id IS NOT NULL \
             GROUP BY 1), \
         acceptance AS (SELECT hg.user_id, ",
        acceptance_rate!(),
        " AS rate ",
        generations!(),
        " WHERE ",
        generations_in_scope!(),
        " GROUP BY 1) \
         SELECT q.user_id, q.queries, q.days AS active_days, q.sessions, q.first_query, q.last_query, q.hour AS avg_hour, a.rate AS acceptance_rate \
         FROM queries q LEFT JOIN acceptance a ON a.user_id = q.user_id ORDER BY q.queries"
    );
    scoped(SQL, scope).fetch_all(db).await
}
