//! The research endpoints' reads: aggregates over the analytics rollups (migration
//! `20261205000001_analytics_rollups.sql`) and, where a rollup cannot answer exactly, over
//! `meta_query` and `had_generation` themselves; one file per endpoint family, each statement
//! returning named rows. Every statement is a `&'static str` assembled from the fragments below
//! with `concat!`; what varies per request (the window, the user, the model, a grouping's choice
//! among fixed texts) is bound or picked, never formatted in.
//!
//! The rollup readers (`analytics_generations`, `analytics_queries`, ...) return the rollup rows of
//! the window's whole days and hours plus the raw rows at its edges, so sums over them are exact.
//! Statements built on `generations_in_scope!`, `queries_in_scope!` or the `rolled_*!` readers take
//! `$1`..`$4` from a [`Scope`] (`scoped`); their own parameters follow from `$5`.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, Postgres};
use uuid::Uuid;

/// `had_generation` rows with their model (`hg`, `m`). A generation carries its query's time, user,
/// type, session, config and telemetry classes (copied when it is stored), so scoping needs no join.
macro_rules! generations {
    () => {
        "FROM had_generation hg JOIN model_name m ON m.model_id = hg.model_id"
    };
}

/// The completion generations a request may read: `$1`..`$2` the window, `$3` the user scope,
/// `$4` an optional model.
macro_rules! generations_in_scope {
    () => {
        "hg.query_timestamp BETWEEN $1 AND $2 AND hg.query_type = 'completion' \
         AND ($3::uuid IS NULL OR hg.user_id = $3) AND ($4::bigint IS NULL OR hg.model_id = $4)"
    };
}

/// The scope's generations (of every query type) as rollup rows `f`, whole days where possible.
macro_rules! rolled_generations {
    () => {
        "analytics_generations($1, $2, $3, $4, 'day') f"
    };
}

/// The scope's queries as rollup rows `f` (the scope's model does not apply), whole days where possible.
macro_rules! rolled_queries {
    () => {
        "analytics_queries($1, $2, $3, 'day') f"
    };
}

/// The scope's per-user rows `f` (queries with `model_id` NULL, completion generations with their
/// model), whole days where possible.
macro_rules! rolled_users {
    () => {
        "analytics_users($1, $2, $3, 'day') f"
    };
}

/// Per user of the scope (`activity`): their queries with their first and last, mean UTC hour and
/// behavioural telemetry means, active UTC days, sessions, and the acceptance of their completion
/// generations of the scope's model (`rate`), from the user rollup; opens a `WITH`.
macro_rules! user_activity {
    () => {
        concat!(
            "WITH r AS (SELECT * FROM ",
            rolled_users!(),
            "), queries AS (SELECT user_id, sum(queries)::bigint AS queries, min(first_at) AS first_query, max(last_at) AS last_query, \
                        sum(hour_sum)::float8 / sum(queries) AS avg_hour, sum(typing_speed_sum) / nullif(sum(typing_speed_n), 0) AS typing_speed, \
                        sum(since_shown_sum) / nullif(sum(since_shown_n), 0) AS since_shown, \
                        sum(since_accepted_sum) / nullif(sum(since_accepted_n), 0) AS since_accepted \
                 FROM r WHERE model_id IS NULL AND user_id IS NOT NULL GROUP BY 1 HAVING sum(queries) > 0), \
             days AS (SELECT user_id, count(*)::bigint AS days FROM ( \
                 SELECT user_id, date_trunc('day', bucket, 'UTC') FROM r WHERE model_id IS NULL GROUP BY 1, 2 HAVING sum(queries) > 0) d GROUP BY 1), \
             sessions AS (SELECT user_id, count(session_id)::bigint AS sessions FROM ( \
                 SELECT user_id, session_id FROM r WHERE model_id IS NULL GROUP BY 1, 2 HAVING sum(queries) > 0) s GROUP BY 1), \
             acceptance AS (SELECT user_id, sum(accepted)::float8 / nullif(sum(generations), 0) AS rate FROM r \
                 WHERE model_id IS NOT NULL AND ($4::bigint IS NULL OR model_id = $4) GROUP BY 1), \
             activity AS (SELECT q.*, d.days, coalesce(s.sessions, 0) AS sessions, a.rate \
                 FROM queries q JOIN days d ON d.user_id = q.user_id LEFT JOIN sessions s ON s.user_id = q.user_id \
                 LEFT JOIN acceptance a ON a.user_id = q.user_id) "
        )
    };
}

/// The scope's latency histograms `f` (completion generations), whole days where possible.
macro_rules! rolled_latencies {
    () => {
        "analytics_latencies($1, $2, $3, $4, 'day') f"
    };
}

/// The model names of rows `$rows` (`m`).
macro_rules! model_join {
    ($rows:ident) => {
        concat!("JOIN model_name m ON m.model_id = ", stringify!($rows), ".model_id")
    };
}

/// The language names of rows `$rows` (`pl`; rows without a language are left out).
macro_rules! language_join {
    ($rows:ident) => {
        concat!("JOIN programming_language pl ON pl.language_id = ", stringify!($rows), ".language_id")
    };
}

/// The trigger names of rows `$rows` (`tt`; rows without a trigger are left out).
macro_rules! trigger_join {
    ($rows:ident) => {
        concat!("JOIN trigger_type tt ON tt.trigger_type_id = ", stringify!($rows), ".trigger_type_id")
    };
}

/// A config grouping's name for rows `$rows`: the config that served the query (the user's at the
/// time, for queries stored without one); NULL when neither is known.
macro_rules! config_name {
    ($rows:ident) => {
        concat!("'config ' || ", stringify!($rows), ".config_id")
    };
}

pub mod calibration;
pub mod export;
pub mod models;
pub mod overview;
pub mod research;
pub mod studies;
pub mod usage;

/// The rows a request may read: `[start, end]` of the queries' time, one user's or everyone's,
/// one model's or every model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Inclusive end.
    pub end: DateTime<Utc>,
    /// One user's rows; `None` for everyone's.
    pub user: Option<Uuid>,
    /// One model's generations; `None` for every model's (statements over queries ignore it).
    pub model_id: Option<i64>,
}

/// The coarsest rollup rows a read may use: a time series cannot use rows that span more than one of
/// its buckets (buckets are aligned to 2000-01-01T00:00:00Z, so a width of whole days never splits
/// a UTC day, nor one of whole hours an hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Day rows, hour rows at the edges, raw rows at the very ends.
    Day,
    /// Hour rows, raw rows at the ends.
    Hour,
    /// Raw rows only.
    Raw,
}

impl Grain {
    /// The coarsest grain that never splits a bucket `seconds` wide.
    pub fn for_buckets(seconds: i64) -> Self {
        if seconds % 86_400 == 0 {
            Self::Day
        } else if seconds % 3_600 == 0 {
            Self::Hour
        } else {
            Self::Raw
        }
    }

    /// The readers' `p_grain` argument.
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Raw => "raw",
        }
    }
}

/// What generations are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The model.
    Model,
    /// The user's current config (as upstream groups).
    Config,
    /// The editor's language.
    Language,
    /// What triggered the completion.
    Trigger,
}

impl GroupBy {
    /// Its `group_by` parameter value, as answers echo it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Config => "config",
            Self::Language => "language",
            Self::Trigger => "trigger",
        }
    }
}

/// `sql` with `$1`..`$4` bound to `scope` (as `generations_in_scope!` expects); further
/// parameters follow from `$5`.
fn scoped<'q, O>(sql: &'static str, scope: &Scope) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).bind(scope.start).bind(scope.end).bind(scope.user).bind(scope.model_id)
}
