//! The usage reads: acceptance per group, generation-time percentiles and samples, query counts
//! over time, and each user's behaviour.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{Grain, GroupBy, Scope, scoped};
use crate::analytics::histogram::percentile_cont;

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

/// The statement of [`acceptance`] grouped by `key` with `joins` on the rollup rows.
macro_rules! acceptance_sql {
    ($key:expr, $joins:expr) => {
        concat!(
            "SELECT ",
            $key,
            " AS group_name, sum(f.accepted)::bigint AS accepted, sum(f.generations)::bigint AS generations FROM ",
            rolled_generations!(),
            " ",
            $joins,
            " WHERE f.query_type = 'completion' GROUP BY 1 HAVING sum(f.generations) > 0 AND ",
            $key,
            " IS NOT NULL ORDER BY 3 DESC, 1"
        )
    };
}

/// The scope's completion generations and how many were accepted per `group`, most generations
/// first (then by name).
pub async fn acceptance(db: impl PgExecutor<'_>, scope: &Scope, group: GroupBy) -> sqlx::Result<Vec<GroupAcceptance>> {
    let sql = match group {
        GroupBy::Model => acceptance_sql!("m.model_name", model_join!(f)),
        GroupBy::Config => acceptance_sql!(config_name!(f), ""),
        GroupBy::Language => acceptance_sql!("pl.language_name", language_join!(f)),
        GroupBy::Trigger => acceptance_sql!("tt.trigger_type_name", trigger_join!(f)),
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

/// One value of one model's latency histogram.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistogramRow {
    /// The model's name.
    pub model_name: String,
    /// The stage (see [`stage_histograms`]).
    pub stage: i16,
    /// A latency, in ms.
    pub value_ms: i32,
    /// How many generations took it.
    pub n: i64,
}

/// The scope's latency histograms per model and stage, by model name, stage and value: stage 0 the
/// model's generation time of every completion generation; for generations with stage timings 1
/// queue wait, 2 prefill, 3 decode, 4 the server beyond queue and model, 5 the server's total.
/// Summed per model id before the names are joined: grouping the ~100,000 histogram rows of a month
/// by a text key sorted them on disk.
pub async fn stage_histograms(db: impl PgExecutor<'_>, scope: &Scope, stages: &[i16]) -> sqlx::Result<Vec<HistogramRow>> {
    const SQL: &str = concat!(
        "SELECT m.model_name, h.stage, h.value_ms, h.n FROM (SELECT f.model_id, f.stage, f.value_ms, sum(f.n)::bigint AS n FROM ",
        rolled_latencies!(),
        " WHERE f.stage = ANY($5) GROUP BY 1, 2, 3 HAVING sum(f.n) > 0) h ",
        model_join!(h),
        " ORDER BY 1, 2, 3"
    );
    scoped(SQL, scope).bind(stages).fetch_all(db).await
}

/// One model's histogram of one stage: `(value in ms, count)` in ascending value order.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram<'a> {
    /// The model's name.
    pub model: &'a str,
    /// The stage (see [`stage_histograms`]).
    pub stage: i16,
    /// `(value, count)`, ascending.
    pub values: Vec<(i64, i64)>,
}

/// `rows` (ordered by model name, stage, value) as one histogram per model and stage, in that order.
pub fn histograms(rows: &[HistogramRow]) -> Vec<Histogram<'_>> {
    let mut out: Vec<Histogram<'_>> = Vec::new();
    for row in rows {
        let value = (i64::from(row.value_ms), row.n);
        match out.last_mut() {
            Some(last) if last.model == row.model_name && last.stage == row.stage => last.values.push(value),
            _ => out.push(Histogram { model: &row.model_name, stage: row.stage, values: vec![value] }),
        }
    }
    out
}

/// Generation-time percentiles of the scope's completion generations per model, by model name,
/// from the exact histograms (equal to `percentile_cont` over the raw rows).
pub async fn latency_percentiles(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LatencyPercentiles>> {
    let rows = stage_histograms(db, scope, &[0]).await?;
    Ok(histograms(&rows)
        .into_iter()
        .map(|h| {
            let at = |q| percentile_cont(&h.values, q).unwrap_or(0.0);
            LatencyPercentiles { model_name: h.model.to_owned(), p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99) }
        })
        .collect())
}

/// One completion generation's latency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LatencySample {
    /// The model's name.
    pub model_name: String,
    /// The config that served its query; `None` when unknown.
    pub config_id: Option<i64>,
    /// Time the model took, in ms.
    pub generation_time: i32,
    /// Time the server took for the whole query, in ms; `None` when not recorded.
    pub total_serving_time: Option<i32>,
}

/// Up to 1,000 of the scope's completion generations, fastest first (an index on generation time
/// finds them without sorting the window).
pub async fn latency_samples(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<LatencySample>> {
    const SQL: &str = concat!(
        "SELECT m.model_name, hg.config_id, hg.generation_time, hg.total_serving_time ",
        generations!(),
        " WHERE ",
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
/// `6 hours`; buckets aligned to 2000-01-01T00:00:00Z; `grain` the rollup rows that never split
/// one), language, trigger and query type, in that order; empty combinations are left out. The
/// scope's model is ignored.
pub async fn queries_over_time(
    db: impl PgExecutor<'_>,
    scope: &Scope,
    interval: &str,
    grain: Grain,
    kinds: QueryKinds<'_>,
) -> sqlx::Result<Vec<QueryCount>> {
    sqlx::query_as(
        "SELECT date_bin($6::interval, f.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time_bucket, pl.language_name AS language, \
                tt.trigger_type_name AS trigger_type, f.query_type, sum(f.queries)::bigint AS count \
         FROM analytics_queries($1, $2, $3, $8) f \
         LEFT JOIN programming_language pl ON pl.language_id = f.language_id \
         LEFT JOIN trigger_type tt ON tt.trigger_type_id = f.trigger_type_id \
         WHERE ($4::text IS NULL OR f.query_type = $4) AND ($5::text IS NULL OR pl.language_name = $5) \
           AND ($7::text IS NULL OR tt.trigger_type_name = $7) \
         GROUP BY 1, 2, 3, 4 HAVING sum(f.queries) > 0 ORDER BY 1, 2, 3, 4",
    )
    .bind(scope.start)
    .bind(scope.end)
    .bind(scope.user)
    .bind(kinds.query_type)
    .bind(kinds.language)
    .bind(interval)
    .bind(kinds.trigger_type)
    .bind(grain.name())
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

/// Each user's behaviour over the scope's queries, most queries first (then by name), from the user
/// rollup: its query rows for the telemetry means, sessions and days, its generation rows (of the
/// scope's model) for acceptance.
pub async fn user_behavior(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<UserBehavior>> {
    const SQL: &str = concat!(
        user_activity!(),
        "SELECT a.user_id, u.name AS user_name, a.typing_speed AS avg_typing_speed, a.since_shown AS avg_time_since_shown, \
                a.since_accepted AS avg_time_since_accepted, a.sessions AS session_count, a.queries AS total_queries, \
                a.rate AS acceptance_rate, a.days AS active_days \
         FROM activity a JOIN \"user\" u ON u.user_id = a.user_id ORDER BY 7 DESC, 2"
    );
    scoped(SQL, scope).fetch_all(db).await
}
