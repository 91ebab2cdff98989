//! The calibration read: PostgreSQL sums each (group, confidence bin) in one query; the ECE and
//! Brier arithmetic over the sums is `crate::analytics::calibration`'s.

use sqlx::PgExecutor;

use super::{GroupBy, Scope, scoped};

/// One group's completion generations in one confidence bin.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BinRow {
    /// The model's or language's name, or `config <id>`.
    pub group_name: String,
    /// The model, when grouped by model.
    pub model_id: Option<i64>,
    /// `1..=bins`.
    pub bin: i32,
    /// Generations in the bin.
    pub count: i64,
    /// Sum of their confidence.
    pub confidence_sum: f64,
    /// How many were accepted.
    pub accepted: i64,
    /// Sum of (confidence − accepted)² over them.
    pub squared_error_sum: f64,
    /// Lowest confidence in the bin.
    pub confidence_min: f64,
    /// Highest confidence in the bin.
    pub confidence_max: f64,
    /// Sum of their squared confidence.
    pub confidence_square_sum: f64,
}

/// The statement of [`bins`] over the confidence rollup, for bin counts dividing its 100 cells:
/// rows of `kind` (0 none, 1 config, 2 language, 3 trigger) grouped by `key` (with `model_id`),
/// each cell in the bin that holds it.
macro_rules! rolled_bins_sql {
    ($kind:literal, $key:expr, $model_id:expr, $joins:expr) => {
        concat!(
            "SELECT ",
            $key,
            " AS group_name, ",
            $model_id,
            " AS model_id, ((f.cell - 1) * $5 / 100 + 1)::int AS bin, sum(f.n)::bigint AS count, sum(f.confidence_sum) AS confidence_sum, \
                sum(f.accepted)::bigint AS accepted, \
                sum(f.confidence_square_sum) - 2 * sum(f.accepted_confidence_sum) + sum(f.accepted) AS squared_error_sum, \
                min(f.confidence_min) AS confidence_min, max(f.confidence_max) AS confidence_max, \
                sum(f.confidence_square_sum) AS confidence_square_sum \
             FROM analytics_confidences($1, $2, $3, $4, 'day') f ",
            $joins,
            " WHERE f.group_kind = ",
            $kind,
            " GROUP BY 1, 2, 3 HAVING sum(f.n) > 0 AND ",
            $key,
            " IS NOT NULL ORDER BY 1, 2, 3"
        )
    };
}

/// The statement of [`bins`] over the raw rows, grouped by `key` (with `model_id`) and `joins` on
/// the generations.
macro_rules! bins_sql {
    ($key:expr, $model_id:expr, $joins:expr) => {
        concat!(
            "SELECT ",
            $key,
            " AS group_name, ",
            $model_id,
            " AS model_id, \
                GREATEST(LEAST(width_bucket(hg.confidence, 0, 1, $5), $5), 1) AS bin, \
                count(*)::bigint AS count, sum(hg.confidence) AS confidence_sum, \
                (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted, \
                sum(power(hg.confidence - CASE WHEN hg.was_accepted THEN 1 ELSE 0 END, 2)) AS squared_error_sum, \
                min(hg.confidence) AS confidence_min, max(hg.confidence) AS confidence_max, \
                sum(hg.confidence * hg.confidence) AS confidence_square_sum ",
            generations!(),
            " ",
            $joins,
            " WHERE ",
            generations_in_scope!(),
            " AND ",
            $key,
            " IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
    };
}

/// The scope's completion generations per `group` and confidence bin (`1..=bins`; a confidence
/// of exactly 1 falls in the last bin, not in an extra one as with upstream's `width_bucket`),
/// ordered by group, then bin. Bin counts that divide 100 read the confidence rollup (its cells are
/// 0.01 wide, so each lies in one bin); others read the raw rows.
pub async fn bins(db: impl PgExecutor<'_>, scope: &Scope, group: GroupBy, bins: i32) -> sqlx::Result<Vec<BinRow>> {
    let sql = if bins > 0 && 100 % bins == 0 {
        match group {
            GroupBy::Model => rolled_bins_sql!("0", "m.model_name", "f.model_id", model_join!(f)),
            GroupBy::Config => rolled_bins_sql!("1", "'config ' || f.group_id", "NULL::bigint", ""),
            GroupBy::Language => {
                rolled_bins_sql!("2", "pl.language_name", "NULL::bigint", "JOIN programming_language pl ON pl.language_id = f.group_id")
            }
            GroupBy::Trigger => {
                rolled_bins_sql!("3", "tt.trigger_type_name", "NULL::bigint", "JOIN trigger_type tt ON tt.trigger_type_id = f.group_id")
            }
        }
    } else {
        match group {
            GroupBy::Model => bins_sql!("m.model_name", "hg.model_id", ""),
            GroupBy::Config => bins_sql!(config_name!(hg), "NULL::bigint", ""),
            GroupBy::Language => bins_sql!("pl.language_name", "NULL::bigint", language_join!(hg)),
            GroupBy::Trigger => bins_sql!("tt.trigger_type_name", "NULL::bigint", trigger_join!(hg)),
        }
    };
    scoped(sql, scope).bind(bins).fetch_all(db).await
}
