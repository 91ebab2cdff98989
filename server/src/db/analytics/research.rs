//! The research metrics beside acceptance: code survival at fixed times after acceptance, effort
//! (characters accepted per active user-day, shown and accepted shares, the share of new code that
//! came from suggestions) and latency by stage (queue wait, prefill, decode, the server beyond them).

use sqlx::PgExecutor;

use super::usage::{histograms, stage_histograms};
use super::{Scope, scoped};
use crate::analytics::histogram::percentile_cont;

/// Accepted completions scored at one checkpoint.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct SurvivalCounts {
    /// Seconds after acceptance.
    pub checkpoint_seconds: i32,
    /// Accepted completion generations with a scored ground truth in this checkpoint's span.
    pub generations: i64,
    /// Of them, still there verbatim.
    pub unchanged: i64,
    /// Of them, still there with edit similarity ≥ the threshold.
    pub mostly_unchanged: i64,
    /// Mean edit similarity; `None` without generations.
    pub avg_similarity: Option<f64>,
}

/// Per checkpoint of `checkpoints` (seconds, ascending; those `analytics_survival_checkpoints()`
/// places ground truths at), over the scope's accepted completion generations: each generation's
/// earliest scored ground truth at or after the checkpoint and before the next one (or any time
/// after the last), how many still hold the completion verbatim and how many with similarity ≥
/// `analytics_mostly_unchanged()`. Acceptance time is `accepted_at`, or the query's time for
/// generations accepted before it was recorded. Read from the survival rollup, whose placement
/// table the ground-truth and generation triggers keep.
pub async fn survival(db: impl PgExecutor<'_>, scope: &Scope, checkpoints: &[i32]) -> sqlx::Result<Vec<SurvivalCounts>> {
    const SQL: &str = "SELECT cp AS checkpoint_seconds, coalesce(sum(f.generations), 0)::bigint AS generations, \
                coalesce(sum(f.unchanged), 0)::bigint AS unchanged, coalesce(sum(f.mostly_unchanged), 0)::bigint AS mostly_unchanged, \
                sum(f.similarity_sum) / nullif(sum(f.generations), 0) AS avg_similarity \
         FROM unnest($5::int[]) cp LEFT JOIN analytics_survival($1, $2, $3, $4, 'day') f ON f.checkpoint = cp GROUP BY cp ORDER BY cp";
    scoped(SQL, scope).bind(checkpoints).fetch_all(db).await
}

/// Effort counts over the scope's completion generations (a query two models answered, as in a
/// comparison study, counts once per generation).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct EffortCounts {
    /// Completion generations.
    pub requested: i64,
    /// Of them, generations shown (a non-empty completion with a shown time).
    pub shown: i64,
    /// Of them, generations accepted.
    pub accepted: i64,
    /// Characters of the accepted completions.
    pub accepted_chars: i64,
    /// Distinct (user, UTC day) pairs with a completion generation.
    pub active_user_days: i64,
    /// Net growth of the edited documents: per session and file, the largest document length a
    /// completion query reported minus the smallest, summed.
    pub document_growth_chars: i64,
}

/// The scope's effort counts, from the generation, user and document rollups.
pub async fn effort(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<EffortCounts> {
    const SQL: &str = concat!(
        "WITH g AS (SELECT coalesce(sum(f.generations), 0)::bigint AS requested, coalesce(sum(f.shown), 0)::bigint AS shown, \
                           coalesce(sum(f.accepted), 0)::bigint AS accepted, coalesce(sum(f.accepted_chars), 0)::bigint AS accepted_chars FROM ",
        rolled_generations!(),
        " WHERE f.query_type = 'completion'), \
         days AS (SELECT count(*)::bigint AS n FROM (SELECT f.user_id, date_trunc('day', f.bucket, 'UTC') FROM ",
        rolled_users!(),
        " WHERE f.model_id IS NOT NULL AND ($4::bigint IS NULL OR f.model_id = $4) GROUP BY 1, 2 HAVING sum(f.generations) > 0) d), \
         growth AS (SELECT coalesce(sum(chars), 0)::bigint AS chars FROM ( \
             SELECT max(f.max_length) - min(f.min_length) AS chars FROM analytics_documents($1, $2, $3, 'day') f \
             GROUP BY f.session_id, f.file_path HAVING sum(f.queries) > 0) x) \
         SELECT g.requested, g.shown, g.accepted, g.accepted_chars, days.n AS active_user_days, growth.chars AS document_growth_chars \
         FROM g, days, growth"
    );
    scoped(SQL, scope).fetch_one(db).await
}

/// One model's completion latency by stage, in ms; `None` where no generation has the stage.
#[derive(Debug, Clone, Default)]
pub struct StageLatency {
    /// The model's name.
    pub model_name: String,
    /// Completion generations with stage timings.
    pub generations: i64,
    /// Queue wait, median.
    pub queue_wait_p50: Option<f64>,
    /// Queue wait, 90th percentile.
    pub queue_wait_p90: Option<f64>,
    /// Time to the first token (prefill), median.
    pub prefill_p50: Option<f64>,
    /// 90th percentile.
    pub prefill_p90: Option<f64>,
    /// The rest of the model's time (decode), median.
    pub decode_p50: Option<f64>,
    /// 90th percentile.
    pub decode_p90: Option<f64>,
    /// The server's time for the query beyond queue and model (server work, pub/sub hops), median.
    pub server_p50: Option<f64>,
    /// 90th percentile.
    pub server_p90: Option<f64>,
    /// The server's total for the query, median.
    pub total_p50: Option<f64>,
    /// 90th percentile.
    pub total_p90: Option<f64>,
}

/// Per model (by name), the scope's completion generations that carry stage timings: queue wait,
/// prefill (time to the first token), decode (the rest of the model's time), and what the server's
/// total adds beyond them; percentiles from the exact latency histograms.
pub async fn stage_latency(db: impl PgExecutor<'_>, scope: &Scope) -> sqlx::Result<Vec<StageLatency>> {
    let rows = stage_histograms(db, scope, &[1, 2, 3, 4, 5]).await?;
    let mut out: Vec<StageLatency> = Vec::new();
    for histogram in histograms(&rows) {
        let (model, stage, values) = (histogram.model, histogram.stage, histogram.values);
        if out.last().is_none_or(|last| last.model_name != model) {
            out.push(StageLatency { model_name: model.to_owned(), ..StageLatency::default() });
        }
        let latency = out.last_mut().expect("pushed above");
        let (p50, p90) = (percentile_cont(&values, 0.5), percentile_cont(&values, 0.9));
        match stage {
            1 => (latency.queue_wait_p50, latency.queue_wait_p90) = (p50, p90),
            2 => {
                // Every generation with stage timings has a prefill time.
                latency.generations = values.iter().map(|&(_, n)| n).sum();
                (latency.prefill_p50, latency.prefill_p90) = (p50, p90);
            }
            3 => (latency.decode_p50, latency.decode_p90) = (p50, p90),
            4 => (latency.server_p50, latency.server_p90) = (p50, p90),
            _ => (latency.total_p50, latency.total_p90) = (p50, p90),
        }
    }
    Ok(out)
}
