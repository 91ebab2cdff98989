//! The overview's reads: a window's totals (queries, and generations per model), the top
//! languages, the activity timeline and each user's engagement.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Grain, Scope, scoped};

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

/// The window's queries: counts from the query rollup, distinct users and sessions from the
/// user rollup.
pub async fn query_totals(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<QueryTotals> {
    const SQL: &str = concat!(
        "WITH q AS (SELECT coalesce(sum(f.queries), 0)::bigint AS queries, \
                           coalesce(sum(f.queries) FILTER (WHERE f.query_type = 'completion'), 0)::bigint AS completions, \
                           coalesce(sum(f.queries) FILTER (WHERE f.query_type = 'chat'), 0)::bigint AS chats FROM ",
        rolled_queries!(),
        "), s AS (SELECT f.user_id, f.session_id FROM ",
        rolled_users!(),
        " WHERE f.model_id IS NULL GROUP BY 1, 2 HAVING sum(f.queries) > 0) \
         SELECT q.queries, q.completions, q.chats, (SELECT count(DISTINCT user_id) FROM s)::bigint AS users, \
                (SELECT count(DISTINCT session_id) FROM s)::bigint AS sessions FROM q"
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

/// The window's completion generations per model, in no particular order (the overall figures
/// are summed from the groups).
pub async fn model_totals(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<ModelTotals>> {
    const SQL: &str = concat!(
        "SELECT f.model_id, m.model_name, sum(f.generations)::bigint AS generations, sum(f.accepted)::bigint AS accepted, \
                sum(f.generation_ms)::float8 AS generation_ms FROM ",
        rolled_generations!(),
        " ",
        model_join!(f),
        " WHERE f.query_type = 'completion' GROUP BY 1, 2 HAVING sum(f.generations) > 0"
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

/// The ten languages with the most queries in the window (then by name), with the acceptance of
/// their completion generations.
pub async fn top_languages(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LanguageRow>> {
    const SQL: &str = concat!(
        "WITH q AS (SELECT f.language_id, sum(f.queries) AS queries FROM ",
        rolled_queries!(),
        " WHERE f.language_id IS NOT NULL GROUP BY 1 HAVING sum(f.queries) > 0), \
         g AS (SELECT f.language_id, sum(f.accepted)::float8 / nullif(sum(f.generations), 0) AS rate FROM ",
        rolled_generations!(),
        " WHERE f.query_type = 'completion' GROUP BY 1) \
         SELECT pl.language_name AS language, q.queries::bigint AS query_count, g.rate AS acceptance_rate \
         FROM q ",
        language_join!(q),
        " LEFT JOIN g ON g.language_id = q.language_id ORDER BY 2 DESC, 1 LIMIT 10"
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
/// buckets aligned to 2000-01-01T00:00:00Z; `grain` the rollup rows that never split one), oldest
/// first; empty buckets are left out. Acceptance is over completion generations, the mean
/// generation time over all generations.
pub async fn activity(db: impl PgExecutor<'_>, scope: &Scope, interval: &str, grain: Grain) -> sqlx::Result<Vec<ActivityRow>> {
    const SQL: &str = "WITH q AS (SELECT date_bin($5::interval, f.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b, sum(f.queries) AS queries, \
                           coalesce(sum(f.queries) FILTER (WHERE f.query_type = 'completion'), 0) AS completions, \
                           coalesce(sum(f.queries) FILTER (WHERE f.query_type = 'chat'), 0) AS chats \
                    FROM analytics_queries($1, $2, $3, $6) f GROUP BY 1 HAVING sum(f.queries) > 0), \
         u AS (SELECT b, count(DISTINCT user_id) AS users FROM ( \
                    SELECT date_bin($5::interval, f.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b, f.user_id \
                    FROM analytics_users($1, $2, $3, $6) f WHERE f.model_id IS NULL GROUP BY 1, 2 HAVING sum(f.queries) > 0) x GROUP BY b), \
         g AS (SELECT date_bin($5::interval, f.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b, \
                      sum(f.accepted) FILTER (WHERE f.query_type = 'completion') AS accepted, \
                      sum(f.generations) FILTER (WHERE f.query_type = 'completion') AS completions, \
                      sum(f.generation_ms) AS ms, sum(f.generations) AS generations \
               FROM analytics_generations($1, $2, $3, NULL, $6) f GROUP BY 1) \
         SELECT q.b AS time_bucket, q.queries::bigint AS query_count, q.completions::bigint AS completion_count, q.chats::bigint AS chat_count, \
                coalesce(u.users, 0)::bigint AS active_users, g.accepted::float8 / nullif(g.completions, 0) AS acceptance_rate, \
                g.ms::float8 / nullif(g.generations, 0) AS avg_generation_time \
         FROM q LEFT JOIN u ON u.b = q.b LEFT JOIN g ON g.b = q.b ORDER BY 1";
    sqlx::query_as(SQL).bind(scope.start).bind(scope.end).bind(scope.user).bind(scope.model_id).bind(interval).bind(grain.name()).fetch_all(db).await
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

/// Each user's activity in the window, fewest queries first: queries, days, sessions and hours from
/// the user rollup's query rows, acceptance from its generation rows (of the scope's model).
pub async fn engagement(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<EngagementRow>> {
    const SQL: &str = concat!(
        user_activity!(),
        "SELECT user_id, queries, days AS active_days, sessions, first_query, last_query, avg_hour, rate AS acceptance_rate \
         FROM activity ORDER BY queries"
    );
    scoped(SQL, scope).fetch_all(db).await
}
