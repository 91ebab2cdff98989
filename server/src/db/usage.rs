//! Reads of `api_usage` (the worker writes it from the `db` queue).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// One day's use of one endpoint with one model.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageDayRow {
    /// The UTC day.
    pub day: NaiveDate,
    /// The route.
    pub endpoint: String,
    /// The model, for generation endpoints.
    pub model: Option<String>,
    /// Requests.
    pub requests: i64,
    /// Of which answered with a status of 400 or above.
    pub errors: i64,
    /// Prompt tokens read.
    pub prompt_tokens: i64,
    /// Tokens generated.
    pub generated_tokens: i64,
    /// Median latency in ms.
    pub latency_p50_ms: f64,
}

/// The user's metered requests since `from`, per UTC day, endpoint and model, oldest day first.
pub async fn per_day(db: impl PgExecutor<'_>, user_id: Uuid, from: DateTime<Utc>) -> sqlx::Result<Vec<UsageDayRow>> {
    sqlx::query_as(
        "SELECT (at AT TIME ZONE 'UTC')::date AS day, endpoint, model, count(*) AS requests, \
                count(*) FILTER (WHERE status >= 400) AS errors, \
                COALESCE(sum(prompt_tokens), 0)::bigint AS prompt_tokens, COALESCE(sum(generated_tokens), 0)::bigint AS generated_tokens, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms \
         FROM api_usage WHERE user_id = $1 AND at >= $2 \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 NULLS FIRST",
    )
    .bind(user_id)
    .bind(from)
    .fetch_all(db)
    .await
}
