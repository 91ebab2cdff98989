//! The `api_key` table and `user.tier`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::contract::api_keys::ApiKeySummary;

/// What a new key is stored as.
pub struct NewApiKey<'a> {
    /// Primary key.
    pub key_id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Bound project.
    pub project_id: Option<Uuid>,
    /// Label.
    pub name: &'a str,
    /// Display prefix.
    pub prefix: &'a str,
    /// SHA-256 of the key.
    pub key_hash: &'a [u8],
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a new key; returns its creation time.
pub async fn insert(db: impl PgExecutor<'_>, key: &NewApiKey<'_>) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO api_key (key_id, user_id, project_id, name, prefix, key_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now(), $7) RETURNING created_at",
    )
    .bind(key.key_id)
    .bind(key.user_id)
    .bind(key.project_id)
    .bind(key.name)
    .bind(key.prefix)
    .bind(key.key_hash)
    .bind(key.expires_at)
    .fetch_one(db)
    .await
}

/// The user's keys that still work (neither revoked nor expired), newest first.
pub async fn live_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<ApiKeySummary>> {
    sqlx::query_as(
        "SELECT key_id, name, prefix, project_id, created_at, last_used_at, expires_at FROM api_key \
         WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC, key_id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Revokes the user's key; returns its hash, or `None` when the user has no such live key.
pub async fn revoke(db: impl PgExecutor<'_>, user_id: Uuid, key_id: Uuid) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("UPDATE api_key SET revoked_at = now() WHERE key_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING key_hash")
        .bind(key_id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// A key that works, found by its hash, with its owner's tier.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveKey {
    /// The key's row.
    pub key_id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Bound project.
    pub project_id: Option<Uuid>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// The owner's `user.tier`.
    pub tier: String,
}

/// The live key with this hash.
pub async fn live_by_hash(db: impl PgExecutor<'_>, key_hash: &[u8]) -> sqlx::Result<Option<LiveKey>> {
    sqlx::query_as(
        "SELECT k.key_id, k.user_id, k.project_id, k.expires_at, u.tier FROM api_key k JOIN \"user\" u ON u.user_id = k.user_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())",
    )
    .bind(key_hash)
    .fetch_optional(db)
    .await
}

/// The hashes of every key of the user (to drop them from the cache when the user's tier changes
/// or the user goes).
pub async fn hashes_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("SELECT key_hash FROM api_key WHERE user_id = $1").bind(user_id).fetch_all(db).await
}

/// The user's tier name; `None` when there is no such user.
pub async fn tier_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT tier FROM \"user\" WHERE user_id = $1").bind(user_id).fetch_optional(db).await
}

/// Sets the user's tier; `false` when there is no such user.
pub async fn set_tier(db: impl PgExecutor<'_>, user_id: Uuid, tier: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE \"user\" SET tier = $2 WHERE user_id = $1").bind(user_id).bind(tier).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the key is live (neither revoked nor expired).
pub async fn is_live(db: impl PgExecutor<'_>, key_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_key WHERE key_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))",
    )
    .bind(key_id)
    .fetch_one(db)
    .await
}
