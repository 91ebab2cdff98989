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

/// The statement of [`bins`] grouped by `key` (with `model_id`) and `joins` on the generations.
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
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
    };
}

/// The scope's completion generations per `group` and confidence bin (`1..=bins`; a confidence
/// of exactly 1 falls in the last bin, not in an extra one as with upstream's `width_bucket`),
/// ordered by group, then bin.
pub async fn bins(db: impl PgExecutor<'_>, scope: &Scope, group: GroupBy, bins: i32) -> sqlx::Result<Vec<BinRow>> {
    let sql = match group {
        GroupBy::Model => bins_sql!("m.model_name", "hg.model_id", ""),
        GroupBy::Config => bins_sql!("'config ' || u.config_id", "NULL::bigint", config_joins!()),
        GroupBy::Language => bins_sql!("pl.language_name", "NULL::bigint", language_joins!()),
        GroupBy::Trigger => bins_sql!("tt.trigger_type_name", "NULL::bigint", trigger_joins!()),
    };
    scoped(sql, scope).bind(bins).fetch_all(db).await
}
