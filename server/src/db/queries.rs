//! The `meta_query` and `had_generation` tables as the completion endpoints read them (the
//! worker writes them).

use sqlx::PgExecutor;
use uuid::Uuid;

/// Who asked a completion query, and whether a model answered it.
#[derive(Debug, sqlx::FromRow)]
pub struct CompletionAnswered {
    /// The query's owner (`None` once their account is gone).
    pub user_id: Option<Uuid>,
    /// Whether the model has a `had_generation` row for it.
    pub answered: bool,
}

/// The owner of completion query `query_id` and whether `model_id` answered it; `None` when the
/// query is not stored (yet).
pub async fn completion_answered(db: impl PgExecutor<'_>, query_id: Uuid, model_id: i64) -> sqlx::Result<Option<CompletionAnswered>> {
    sqlx::query_as(
        "SELECT mq.user_id, EXISTS (SELECT 1 FROM had_generation g WHERE g.meta_query_id = mq.meta_query_id AND g.model_id = $2) AS answered \
         FROM meta_query mq WHERE mq.meta_query_id = $1 AND mq.query_type = 'completion'",
    )
    .bind(query_id)
    .bind(model_id)
    .fetch_optional(db)
    .await
}

/// The owner of completion query `query_id`: `None` when it is not stored (yet), `Some(None)` when
/// its owner is gone.
pub async fn completion_owner(db: impl PgExecutor<'_>, query_id: Uuid) -> sqlx::Result<Option<Option<Uuid>>> {
    sqlx::query_scalar("SELECT user_id FROM meta_query WHERE meta_query_id = $1 AND query_type = 'completion'")
        .bind(query_id)
        .fetch_optional(db)
        .await
}

/// A model's stored completion.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredCompletion {
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// The completion.
    pub completion: String,
    /// How long it took (ms).
    pub generation_time: i32,
    /// Its confidence.
    pub confidence: f64,
}

/// The stored completions of `query_id`, by model id.
pub async fn completions(db: impl PgExecutor<'_>, query_id: Uuid) -> sqlx::Result<Vec<StoredCompletion>> {
    sqlx::query_as(
        "SELECT g.model_id, m.model_name, g.completion, g.generation_time, g.confidence FROM had_generation g \
         JOIN model_name m ON m.model_id = g.model_id WHERE g.meta_query_id = $1 ORDER BY g.model_id",
    )
    .bind(query_id)
    .fetch_all(db)
    .await
}

/// What is stored of `user_id`'s completion queries: how many queries, and how many rows they
/// span (each query's context, contextual and behavioral telemetry, completion marker,
/// generations and ground truths) — what `./bench.sh ingest` counts as landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredTelemetry {
    /// Completion queries.
    pub queries: i64,
    /// Rows of every table, all queries together.
    pub rows: i64,
}

/// Ground truths stored, all users together: a cheap progress figure for `./bench.sh ingest`
/// (whose throw-away database holds only its own rows), read many times a second while
/// [`stored_telemetry_of`] is read once at the end.
pub async fn ground_truth_count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM ground_truth").fetch_one(db).await
}

/// Refreshes the planner's statistics of every table (autovacuum does it about once a minute);
/// for `./bench.sh ingest` between its cold and its measured round.
pub async fn analyze(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("ANALYZE").execute(db).await.map(|_| ())
}

/// [`StoredTelemetry`] of `user_id`.
pub async fn stored_telemetry_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<StoredTelemetry> {
    sqlx::query_as(
        "WITH q AS (SELECT meta_query_id, context_id, contextual_telemetry_id, behavioral_telemetry_id FROM meta_query \
                    WHERE user_id = $1 AND query_type = 'completion') \
         SELECT (SELECT count(*) FROM q) AS queries, \
                (SELECT count(*) + count(context_id) + count(contextual_telemetry_id) + count(behavioral_telemetry_id) FROM q) \
                + (SELECT count(*) FROM completion_query c JOIN q USING (meta_query_id)) \
                + (SELECT count(*) FROM had_generation g JOIN q USING (meta_query_id)) \
                + (SELECT count(*) FROM ground_truth t JOIN q ON q.meta_query_id = t.completion_query_id) AS rows",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}
