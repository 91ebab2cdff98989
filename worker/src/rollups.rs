//! Keeps the analytics rollups compact: every write to `meta_query` and `had_generation` appends
//! signed delta rows to them (triggers, migration `20261205000001_analytics_rollups.sql`); readers sum
//! whatever rows a key has, so the deltas count at once, and this merges each touched bucket's rows
//! into one per key so reads stay small. Any number of workers may run it at the same time: a row
//! is merged by one of them only.

use std::time::Duration;

use sqlx::PgPool;

/// How often the rollups are compacted.
pub const COMPACT_EVERY: Duration = Duration::from_secs(60);

/// Compacts the rollups every `every`, forever; a failed round is logged and retried next time.
pub async fn compact_forever(db: PgPool, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match compact(&db).await {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "compacted the analytics rollups"),
            Err(error) => tracing::warn!(%error, "could not compact the analytics rollups; retrying next round"),
        }
    }
}

/// One round: the number of merged rows written.
pub async fn compact(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT analytics_compact()").fetch_one(db).await
}
