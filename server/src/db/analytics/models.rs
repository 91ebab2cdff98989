//! The model reads: per-model metrics side by side, use over time, performance per context
//! segment, and completions against their ground truth.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::usage::{histograms, stage_histograms};
use super::{Grain, Scope, scoped};
use crate::analytics::histogram::percentile_cont;

/// One model's completion generations in a window; generation times in ms.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelComparison {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Whether it is instruction-tuned.
    pub is_instruction_tuned: bool,
    /// Completion generations.
    pub total_generations: i64,
    /// Share accepted.
    pub acceptance_rate: f64,
    /// Mean generation time.
    pub avg_generation_time: f64,
    /// Median generation time.
    pub p50_generation_time: f64,
    /// 95th percentile of generation time.
    pub p95_generation_time: f64,
    /// Mean confidence.
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

/// One model's sums over a window, before its percentiles are read from its histogram.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ModelSums {
    model_id: i64,
    model_name: String,
    is_instruction_tuned: bool,
    total_generations: i64,
    acceptance_rate: f64,
    avg_generation_time: f64,
    avg_confidence: f64,
    confidence_std: f64,
    avg_logprob_length: f64,
    unique_users: i64,
    active_days: i64,
}

/// Per model among `model_ids` (`None`: every model) with completion generations in the scope,
/// by model id: sums from the generation rollup, users from the user rollup, percentiles from the
/// exact latency histograms.
pub async fn comparison(db: &sqlx::PgPool, scope: &Scope, model_ids: Option<&[i64]>) -> sqlx::Result<Vec<ModelComparison>> {
    const SQL: &str = concat!(
        "WITH g AS (SELECT f.model_id, date_trunc('day', f.bucket, 'UTC') AS day, sum(f.generations) AS generations, sum(f.accepted) AS accepted, \
                           sum(f.generation_ms) AS ms, sum(f.confidence_sum) AS c, sum(f.confidence_square_sum) AS cc, sum(f.logprob_tokens) AS tokens FROM ",
        rolled_generations!(),
        " WHERE f.query_type = 'completion' AND ($5::bigint[] IS NULL OR f.model_id = ANY($5)) GROUP BY 1, 2), \
         models AS (SELECT model_id, sum(generations) AS n, sum(accepted) AS accepted, sum(ms) AS ms, sum(c) AS c, sum(cc) AS cc, sum(tokens) AS tokens, \
                           count(*) FILTER (WHERE generations > 0) AS days FROM g GROUP BY 1 HAVING sum(generations) > 0), \
         users AS (SELECT model_id, count(DISTINCT user_id) AS users FROM ( \
             SELECT f.model_id, f.user_id FROM ",
        rolled_users!(),
        " WHERE f.model_id IS NOT NULL AND f.user_id IS NOT NULL AND ($4::bigint IS NULL OR f.model_id = $4) GROUP BY 1, 2 HAVING sum(f.generations) > 0) x GROUP BY 1) \
         SELECT s.model_id, m.model_name, m.is_instruction_tuned, s.n::bigint AS total_generations, s.accepted::float8 / s.n AS acceptance_rate, \
                s.ms::float8 / s.n AS avg_generation_time, s.c / s.n AS avg_confidence, sqrt(greatest(s.cc / s.n - (s.c / s.n) ^ 2, 0)) AS confidence_std, \
                s.tokens::float8 / s.n AS avg_logprob_length, coalesce(u.users, 0)::bigint AS unique_users, s.days::bigint AS active_days \
         FROM models s ",
        model_join!(s),
        " LEFT JOIN users u ON u.model_id = s.model_id ORDER BY 1"
    );
    let (sums, latencies) = tokio::try_join!(scoped::<ModelSums>(SQL, scope).bind(model_ids).fetch_all(db), stage_histograms(db, scope, &[0]))?;
    let latencies = histograms(&latencies);
    Ok(sums
        .into_iter()
        .map(|s| {
            let values = latencies.iter().find(|h| h.model == s.model_name).map(|h| h.values.as_slice()).unwrap_or_default();
            let at = |q| percentile_cont(values, q).unwrap_or(0.0);
            ModelComparison {
                p50_generation_time: at(0.5),
                p95_generation_time: at(0.95),
                model_id: s.model_id,
                model_name: s.model_name,
                is_instruction_tuned: s.is_instruction_tuned,
                total_generations: s.total_generations,
                acceptance_rate: s.acceptance_rate,
                avg_generation_time: s.avg_generation_time,
                avg_confidence: s.avg_confidence,
                confidence_std: s.confidence_std,
                avg_logprob_length: s.avg_logprob_length,
                unique_users: s.unique_users,
                active_days: s.active_days,
            }
        })
        .collect())
}

/// The time buckets of [`usage_trends`].
#[derive(Debug, Clone, Copy)]
pub enum TrendBuckets<'a> {
    /// A `date_trunc` unit (`hour`, `day`, `week`, `month`), truncating in UTC.
    Calendar(&'a str),
    /// A PostgreSQL interval (`6 hours`) for `date_bin`, aligned to 2000-01-01T00:00:00Z, and its
    /// width in seconds.
    Bins(&'a str, i64),
}

/// One model's completion generations in one time bucket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelUsageBucket {
    /// Start of the bucket.
    pub time_bucket: DateTime<Utc>,
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completion generations.
    pub usage_count: i64,
    /// Share accepted.
    pub acceptance_rate: f64,
    /// Distinct users.
    pub unique_users: i64,
}

/// The statement of [`usage_trends`] with `bucket` as the bucket's expression over the rows' `bucket`.
macro_rules! usage_trends_sql {
    ($bucket:expr) => {
        concat!(
            "WITH g AS (SELECT ",
            $bucket,
            " AS b, f.model_id, sum(f.generations) AS n, sum(f.accepted) AS accepted \
             FROM analytics_generations($1, $2, $3, $4, $6) f WHERE f.query_type = 'completion' GROUP BY 1, 2 HAVING sum(f.generations) > 0), \
             u AS (SELECT b, model_id, count(DISTINCT user_id) AS users FROM (SELECT ",
            $bucket,
            " AS b, f.model_id, f.user_id FROM analytics_users($1, $2, $3, $6) f \
                   WHERE f.model_id IS NOT NULL AND f.user_id IS NOT NULL AND ($4::bigint IS NULL OR f.model_id = $4) \
                   GROUP BY 1, 2, 3 HAVING sum(f.generations) > 0) x GROUP BY 1, 2) \
             SELECT g.b AS time_bucket, g.model_id, m.model_name, g.n::bigint AS usage_count, g.accepted::float8 / g.n AS acceptance_rate, \
                    coalesce(u.users, 0)::bigint AS unique_users \
             FROM g ",
            model_join!(g),
            " LEFT JOIN u ON u.b = g.b AND u.model_id = g.model_id ORDER BY 1, 2"
        )
    };
}

/// Each model's completion generations in the scope per bucket, oldest first, then by model id.
pub async fn usage_trends(db: impl PgExecutor<'_>, scope: &Scope, buckets: TrendBuckets<'_>) -> sqlx::Result<Vec<ModelUsageBucket>> {
    let (sql, bound, grain) = match buckets {
        TrendBuckets::Calendar(unit) => {
            let grain = match unit {
                "day" | "week" | "month" => Grain::Day,
                "hour" => Grain::Hour,
                _ => Grain::Raw,
            };
            (usage_trends_sql!("date_trunc($5, f.bucket, 'UTC')"), unit, grain)
        }
        TrendBuckets::Bins(interval, seconds) => {
            (usage_trends_sql!("date_bin($5::interval, f.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00')"), interval, Grain::for_buckets(seconds))
        }
    };
    scoped(sql, scope).bind(bound).bind(grain.name()).fetch_all(db).await
}

/// One model's completion generations in one context segment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContextSegment {
    /// The model's name.
    pub model_name: String,
    /// The language's name.
    pub language: String,
    /// The trigger's name.
    pub trigger_type: String,
    /// `small` (< 1,000 characters), `medium` (< 10,000), `large` (< 100,000), `xlarge` or `unknown`.
    pub document_size: String,
    /// `beginning` (relative position < 0.25), `middle` (< 0.75), `end` or `unknown`.
    pub document_position: String,
    /// Completion generations (at least 5).
    pub sample_size: i64,
    /// Share accepted.
    pub acceptance_rate: f64,
    /// Mean generation time, in ms.
    pub avg_generation_time: f64,
    /// Mean confidence.
    pub avg_confidence: f64,
}

/// Per model, language, trigger, document size and caret position, the segments with at least
/// five of the scope's completion generations, in that order.
pub async fn performance_by_context(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<ContextSegment>> {
    // Summed per id before the names are joined (a month has ~10,000 rollup rows to group).
    const SQL: &str = concat!(
        "SELECT m.model_name, pl.language_name AS language, tt.trigger_type_name AS trigger_type, \
                (ARRAY['unknown', 'small', 'medium', 'large', 'xlarge'])[s.document_size + 1] AS document_size, \
                (ARRAY['unknown', 'beginning', 'middle', 'end'])[s.document_position + 1] AS document_position, \
                s.n::bigint AS sample_size, s.accepted::float8 / s.n AS acceptance_rate, s.ms::float8 / s.n AS avg_generation_time, \
                s.c / s.n AS avg_confidence \
         FROM (SELECT f.model_id, f.language_id, f.trigger_type_id, f.document_size, f.document_position, sum(f.generations) AS n, \
                      sum(f.accepted) AS accepted, sum(f.generation_ms) AS ms, sum(f.confidence_sum) AS c FROM ",
        rolled_generations!(),
        " WHERE f.query_type = 'completion' GROUP BY 1, 2, 3, 4, 5 HAVING sum(f.generations) >= 5) s ",
        model_join!(s),
        " ",
        language_join!(s),
        " ",
        trigger_join!(s),
        " ORDER BY 1, 2, 3, 4, 5"
    );
    scoped(SQL, scope).fetch_all(db).await
}

/// One model's completions against their ground truth; lengths in characters.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroundTruthStats {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// Completions whose query has a ground truth.
    pub total_with_ground_truth: i64,
    /// Share equal to the ground truth, ignoring surrounding whitespace.
    pub exact_match_rate: f64,
    /// Mean completion length.
    pub avg_completion_length: f64,
    /// Mean ground-truth length.
    pub avg_ground_truth_length: f64,
    /// Mean confidence of these completions.
    pub avg_confidence_with_truth: f64,
    /// Share of these completions accepted.
    pub acceptance_rate_with_truth: f64,
    /// Mean absolute difference between completion and ground-truth length.
    pub avg_length_diff: f64,
}

/// Per model, by model id, over the generations whose query's latest ground truth was recorded in
/// the scope's window, of the scope's user and model (from the ground-truth rollup, whose placement
/// table the ground-truth and generation triggers keep).
pub async fn ground_truth(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<GroundTruthStats>> {
    const SQL: &str = concat!(
        "SELECT f.model_id, m.model_name, sum(f.generations)::bigint AS total_with_ground_truth, \
                sum(f.exact)::float8 / sum(f.generations) AS exact_match_rate, \
                sum(f.completion_chars)::float8 / sum(f.generations) AS avg_completion_length, \
                sum(f.truth_chars)::float8 / sum(f.generations) AS avg_ground_truth_length, \
                sum(f.confidence_sum) / sum(f.generations) AS avg_confidence_with_truth, \
                sum(f.accepted)::float8 / sum(f.generations) AS acceptance_rate_with_truth, \
                sum(f.length_diff)::float8 / sum(f.generations) AS avg_length_diff \
         FROM analytics_truths($1, $2, $3, $4, 'day') f ",
        model_join!(f),
        " GROUP BY 1, 2 HAVING sum(f.generations) > 0 ORDER BY 1"
    );
    scoped(SQL, scope).fetch_all(db).await
}
