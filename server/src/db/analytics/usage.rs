//! The usage reads: acceptance per group, generation-time percentiles and samples, query counts
//! over time, and each user's behaviour.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{GroupBy, Scope, scoped};

/// One group's completion generations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupAcceptance {
    /// The model's, language's or trigger's name, or `config <id>`.
    pub group_name: String,
    /// Generations accepted.
    pub accepted: i64,
    /// Generations (never 0: groups come from rows).
    pub generations: i64,
}

/// The statement of [`acceptance`] grouped by `key` with `joins` on the generations.
macro_rules! acceptance_sql {
    ($key:expr, $joins:expr) => {
        concat!(
            "SELECT ",
            $key,
            " AS group_name, (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted, count(*)::bigint AS generations ",
            generations!(),
            " ",
            $joins,
            " WHERE ",
            generations_in_scope!(),
            " GROUP BY 1 ORDER BY 3 DESC, 1"
        )
    };
}

/// The scope's completion generations and how many were accepted per `group`, most generations
/// first (then by name).
pub async fn acceptance(db: impl PgExecutor<'_>, scope: &Scope, group: GroupBy) -> sqlx::Result<Vec<GroupAcceptance>> {
    let sql = match group {
        GroupBy::Model => acceptance_sql!("m.model_name", ""),
        GroupBy::Config => acceptance_sql!("'config ' || u.config_id", config_joins!()),
        GroupBy::Language => acceptance_sql!("pl.language_name", language_joins!()),
        GroupBy::Trigger => acceptance_sql!("tt.trigger_type_name", trigger_joins!()),
    };
    scoped(sql, scope).fetch_all(db).await
}

/// One model's generation-time percentiles, in ms.
#[derive(Debug, Clone, sqlx::FromRow)]
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

/// Generation-time percentiles of the scope's completion generations per model, by model name.
pub async fn latency_percentiles(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LatencyPercentiles>> {
    const SQL: &str = concat!(
        "SELECT m.model_name, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hg.generation_time) AS p50, \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY hg.generation_time) AS p90, \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY hg.generation_time) AS p95, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY hg.generation_time) AS p99 ",
        generations!(),
        " WHERE ",
        generations_in_scope!(),
        " GROUP BY 1 ORDER BY 1"
    );
    scoped(SQL, scope).fetch_all(db).await
}

/// One completion generation's latency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LatencySample {
    /// The model's name.
    pub model_name: String,
    /// The user's current config; `None` when the user is gone.
    pub config_id: Option<i64>,
    /// Time the model took, in ms.
    pub generation_time: i32,
    /// Time the server took for the whole query, in ms; `None` when not recorded.
    pub total_serving_time: Option<i32>,
}

/// Up to 1,000 of the scope's completion generations, fastest first.
pub async fn latency_samples(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LatencySample>> {
    const SQL: &str = concat!(
        "SELECT m.model_name, u.config_id, hg.generation_time, mq.total_serving_time ",
        generations!(),
        " ",
        with_query!(),
        " LEFT JOIN \"user\" u ON u.user_id = hg.user_id WHERE ",
        generations_in_scope!(),
        " ORDER BY hg.generation_time LIMIT 1000"
    );
    scoped(SQL, scope).fetch_all(db).await
}

/// Which queries [`queries_over_time`] counts, beyond the window and the user.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryKinds<'a> {
    /// `completion` or `chat`; `None` for both.
    pub query_type: Option<&'a str>,
    /// One language's name; `None` for all.
    pub language: Option<&'a str>,
    /// One trigger's name; `None` for all.
    pub trigger_type: Option<&'a str>,
}

/// Queries of one language, trigger and query type in one time bucket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueryCount {
    /// Start of the bucket.
    pub time_bucket: DateTime<Utc>,
    /// The language's name; `None` when the query has no contextual telemetry.
    pub language: Option<String>,
    /// The trigger's name; `None` when the query has no contextual telemetry.
    pub trigger_type: Option<String>,
    /// `completion` or `chat`.
    pub query_type: String,
    /// Queries.
    pub count: i64,
}

/// The scope's queries of `kinds` per bucket of `interval` (a PostgreSQL interval such as
/// `6 hours`; buckets aligned to 2000-01-01T00:00:00Z), language, trigger and query type, in that
/// order; empty combinations are left out. The scope's model is ignored.
pub async fn queries_over_time(db: impl PgExecutor<'_>, scope: &Scope, interval: &str, kinds: QueryKinds<'_>) -> sqlx::Result<Vec<QueryCount>> {
    sqlx::query_as(
        "SELECT date_bin($6::interval, mq.\"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time_bucket, pl.language_name AS language, \
                tt.trigger_type_name AS trigger_type, mq.query_type, count(*)::bigint AS count \
         FROM meta_query mq \
         LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         LEFT JOIN programming_language pl ON pl.language_id = ct.language_id \
         LEFT JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3) \
           AND ($4::text IS NULL OR mq.query_type = $4) AND ($5::text IS NULL OR pl.language_name = $5) \
           AND ($7::text IS NULL OR tt.trigger_type_name = $7) \
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    )
    .bind(scope.start)
    .bind(scope.end)
    .bind(scope.user)
    .bind(kinds.query_type)
    .bind(kinds.language)
    .bind(interval)
    .bind(kinds.trigger_type)
    .fetch_all(db)
    .await
}

/// One user's behaviour in a window; the means are `None` without behavioural telemetry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserBehavior {
    /// The user.
    pub user_id: Uuid,
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
    /// Share of their completion generations accepted; `None` without any.
    pub acceptance_rate: Option<f64>,
    /// Distinct UTC days with a query.
    pub active_days: i64,
}

/// Each user's behaviour over the scope's queries, most queries first (then by name).
pub async fn user_behavior(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<UserBehavior>> {
    const SQL: &str = concat!(
        "WITH acceptance AS (SELECT hg.user_id, ",
        acceptance_rate!(),
        " AS rate ",
        generations!(),
        " WHERE ",
        generations_in_scope!(),
        " GROUP BY 1) \
         SELECT u.user_id, u.name AS user_name, avg(bt.typing_speed)::float8 AS avg_typing_speed, \
                avg(bt.time_since_last_shown)::float8 AS avg_time_since_shown, avg(bt.time_since_last_accepted)::float8 AS avg_time_since_accepted, \
                count(DISTINCT mq.session_id)::bigint AS session_count, count(*)::bigint AS total_queries, a.rate AS acceptance_rate, \
                count(DISTINCT (mq.\"timestamp\" AT TIME ZONE 'UTC')::date)::bigint AS active_days \
         FROM meta_query mq JOIN \"user\" u ON u.user_id = mq.user_id \
         LEFT JOIN behavioral_telemetry bt ON bt.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         LEFT JOIN acceptance a ON a.user_id = mq.user_id \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3) \
         GROUP BY u.user_id, u.name, a.rate ORDER BY 7 DESC, 2"
    );
    scoped(SQL, scope).fetch_all(db).await
}
