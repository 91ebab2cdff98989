//! The research endpoints' reads: aggregates over `meta_query` and `had_generation` (and their
//! telemetry, users and models), one file per endpoint family, each statement returning named
//! rows. Every statement is a `&'static str` assembled from the fragments below with `concat!`;
//! what varies per request (the window, the user, the model, a grouping's choice among fixed
//! texts) is bound or picked, never formatted in.
//!
//! Statements built on `generations_in_scope!` or `queries_in_scope!` take `$1`..`$4` from a
//! [`Scope`] (`scoped`); their own parameters follow from `$5`.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, Postgres};
use uuid::Uuid;

/// `had_generation` rows with their model (`hg`, `m`). A generation carries its query's time, user
/// and type (`hg.query_timestamp`, `hg.user_id`, `hg.query_type`), so scoping needs no join; add
/// `with_query!` when other columns of the query are needed.
macro_rules! generations {
    () => {
        "FROM had_generation hg JOIN model_name m ON m.model_id = hg.model_id"
    };
}

/// Joins a generation's query row (`mq`), after `generations!`.
macro_rules! with_query {
    () => {
        "JOIN meta_query mq ON mq.meta_query_id = hg.meta_query_id"
    };
}

/// The queries a request may read: `$1`..`$2` the window, `$3` the user scope.
macro_rules! queries_in_scope {
    () => {
        "mq.\"timestamp\" BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR mq.user_id = $3)"
    };
}

/// The share of a group's generations that were accepted.
macro_rules! acceptance_rate {
    () => {
        "avg(CASE WHEN hg.was_accepted THEN 1.0 ELSE 0.0 END)::float8"
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

/// A generation's query and its contextual telemetry (`mq`, `ct`), after `generations!`.
macro_rules! with_contextual_telemetry {
    () => {
        concat!(with_query!(), " JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id")
    };
}

/// The joins a [`GroupBy::Language`] grouping needs on `generations!`.
macro_rules! language_joins {
    () => {
        concat!(with_contextual_telemetry!(), " JOIN programming_language pl ON pl.language_id = ct.language_id")
    };
}

/// The joins a [`GroupBy::Trigger`] grouping needs on `generations!`.
macro_rules! trigger_joins {
    () => {
        concat!(with_contextual_telemetry!(), " JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id")
    };
}

/// The joins a [`GroupBy::Config`] grouping needs on `generations!`.
macro_rules! config_joins {
    () => {
        "JOIN \"user\" u ON u.user_id = hg.user_id"
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
