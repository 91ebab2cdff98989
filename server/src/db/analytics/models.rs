//! The model reads: per-model metrics side by side, use over time, performance per context
//! segment, and completions against their ground truth.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::{Scope, scoped};

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

/// Per model among `model_ids` (`None`: every model) with completion generations in the scope,
/// by model id.
pub async fn comparison(db: impl PgExecutor<'_>, scope: &Scope, model_ids: Option<&[i64]>) -> sqlx::Result<Vec<ModelComparison>> {
    const SQL: &str = concat!(
        "SELECT hg.model_id, m.model_name, m.is_instruction_tuned, count(*)::bigint AS total_generations, ",
        acceptance_rate!(),
        " AS acceptance_rate, avg(hg.generation_time)::float8 AS avg_generation_time, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hg.generation_time) AS p50_generation_time, \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY hg.generation_time) AS p95_generation_time, \
                avg(hg.confidence) AS avg_confidence, stddev_pop(hg.confidence) AS confidence_std, \
                avg(cardinality(hg.logprobs))::float8 AS avg_logprob_length, \
                count(DISTINCT hg.user_id)::bigint AS unique_users, \
                count(DISTINCT (hg.query_timestamp AT TIME ZONE 'UTC')::date)::bigint AS active_days ",
        generations!(),
        " WHERE ",
        generations_in_scope!(),
        " AND ($5::bigint[] IS NULL OR hg.model_id = ANY($5)) \
         GROUP BY 1, 2, 3 ORDER BY 1"
    );
    scoped(SQL, scope).bind(model_ids).fetch_all(db).await
}

/// The time buckets of [`usage_trends`].
#[derive(Debug, Clone, Copy)]
pub enum TrendBuckets<'a> {
    /// A `date_trunc` unit (`hour`, `day`, `week`, `month`), truncating in UTC.
    Calendar(&'a str),
    /// A PostgreSQL interval (`6 hours`) for `date_bin`, aligned to 2000-01-01T00:00:00Z.
    Bins(&'a str),
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

/// The statement of [`usage_trends`] with `bucket` as the bucket's expression.
macro_rules! usage_trends_sql {
    ($bucket:expr) => {
        concat!(
            "SELECT ",
            $bucket,
            " AS time_bucket, hg.model_id, m.model_name, count(*)::bigint AS usage_count, ",
            acceptance_rate!(),
            " AS acceptance_rate, count(DISTINCT hg.user_id)::bigint AS unique_users ",
            generations!(),
            " WHERE ",
            generations_in_scope!(),
            " GROUP BY 1, 2, 3 ORDER BY 1, 2"
        )
    };
}

/// Each model's completion generations in the scope per bucket, oldest first, then by model id.
pub async fn usage_trends(db: impl PgExecutor<'_>, scope: &Scope, buckets: TrendBuckets<'_>) -> sqlx::Result<Vec<ModelUsageBucket>> {
    let (sql, bound) = match buckets {
        TrendBuckets::Calendar(unit) => (usage_trends_sql!("date_trunc($5, hg.query_timestamp, 'UTC')"), unit),
        TrendBuckets::Bins(interval) => {
            (usage_trends_sql!("date_bin($5::interval, hg.query_timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00')"), interval)
        }
    };
    scoped(sql, scope).bind(bound).fetch_all(db).await
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
    const SQL: &str = concat!(
        "SELECT m.model_name, pl.language_name AS language, tt.trigger_type_name AS trigger_type, \
                CASE WHEN ct.document_char_length IS NULL THEN 'unknown' WHEN ct.document_char_length < 1000 THEN 'small' \
                     WHEN ct.document_char_length < 10000 THEN 'medium' WHEN ct.document_char_length < 100000 THEN 'large' ELSE 'xlarge' END \
                     AS document_size, \
                CASE WHEN ct.relative_document_position IS NULL THEN 'unknown' WHEN ct.relative_document_position < 0.25 THEN 'beginning' \
                     WHEN ct.relative_document_position < 0.75 THEN 'middle' ELSE 'end' END AS document_position, \
                count(*)::bigint AS sample_size, ",
        acceptance_rate!(),
        " AS acceptance_rate, avg(hg.generation_time)::float8 AS avg_generation_time, avg(hg.confidence) AS avg_confidence ",
        generations!(),
        " ",
        with_contextual_telemetry!(),
        " JOIN programming_language pl ON pl.language_id = ct.language_id JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         WHERE ",
        generations_in_scope!(),
        " GROUP BY 1, 2, 3, 4, 5 HAVING count(*) >= 5 ORDER BY 1, 2, 3, 4, 5"
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

/// Per model, by model id, over the generations whose query has a ground truth (the latest one,
/// recorded in the scope's window), of the scope's user and model.
pub async fn ground_truth(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<GroundTruthStats>> {
    const SQL: &str = concat!(
        "WITH truth AS (SELECT DISTINCT ON (completion_query_id) completion_query_id, ground_truth FROM ground_truth \
                        WHERE truth_timestamp BETWEEN $1 AND $2 ORDER BY completion_query_id, truth_timestamp DESC) \
         SELECT hg.model_id, m.model_name, count(*)::bigint AS total_with_ground_truth, \
                avg(CASE WHEN btrim(hg.completion, E' \\t\\r\\n') = btrim(t.ground_truth, E' \\t\\r\\n') THEN 1.0 ELSE 0.0 END)::float8 \
                    AS exact_match_rate, \
                avg(char_length(hg.completion))::float8 AS avg_completion_length, \
                avg(char_length(t.ground_truth))::float8 AS avg_ground_truth_length, avg(hg.confidence) AS avg_confidence_with_truth, ",
        acceptance_rate!(),
        " AS acceptance_rate_with_truth, \
                avg(abs(char_length(hg.completion) - char_length(t.ground_truth)))::float8 AS avg_length_diff \
         FROM truth t JOIN had_generation hg ON hg.meta_query_id = t.completion_query_id \
         JOIN meta_query mq ON mq.meta_query_id = hg.meta_query_id JOIN model_name m ON m.model_id = hg.model_id \
         WHERE ($3::uuid IS NULL OR mq.user_id = $3) AND ($4::bigint IS NULL OR hg.model_id = $4) GROUP BY 1, 2 ORDER BY 1"
    );
    scoped(SQL, scope).fetch_all(db).await
}
