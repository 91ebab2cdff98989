//! API keys: created (shown once), listed, revoked, and resolved for every request that presents
//! one. A key is `c4m_` and 40 random base62 characters (238 bits); only its SHA-256 is stored.
//!
//! Resolution reads a Redis cache of the `api_key` row (`api_key:<hash>`) — in the same script that
//! admits the request ([`quotas::admit_cached_key`]) — and falls back to PostgreSQL, which stays the
//! truth. Revoking writes a tombstone in the cache before anything
//! else can refill it, so the next request with a revoked key is refused on every server.

use chrono::{DateTime, Duration, Utc};
use code4me_shared::redis_keys::{self as keys, API_KEY_CACHE_TTL_SECONDS, API_KEY_REVOKED, ApiKeyValue};
use code4me_shared::tiers::Tier;
use rand::Rng;
use rand::distr::Alphanumeric;
use redis::AsyncCommands;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::contract::api_keys::{ApiKeyCreated, ApiKeyList, NewApiKeyRequest};
use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db;
use crate::db::api_keys::NewApiKey;
use crate::services::callers::ApiKeyCaller;
use crate::services::quotas::{self, Admission, CachedKey};
use crate::services::state::AppState;

/// What every key starts with, so a leaked one is recognisable (and redactable) as ours.
pub const KEY_PREFIX: &str = "c4m_";
/// Random characters after [`KEY_PREFIX`].
const KEY_RANDOM_CHARS: usize = 40;
/// How much of a key lists show.
const DISPLAY_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;
/// How long a "no such key" answer is cached, so repeated bad keys do not reach PostgreSQL.
const UNKNOWN_KEY_TTL_SECONDS: u64 = 300;
/// The cache value of a hash PostgreSQL does not know.
const UNKNOWN: &str = "unknown";

/// Whether `text` has the shape of one of our keys (checked before any lookup).
pub fn looks_like_key(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX).is_some_and(|rest| rest.len() == KEY_RANDOM_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn new_key_text() -> String {
    let random: String = rand::rng().sample_iter(Alphanumeric).take(KEY_RANDOM_CHARS).map(char::from).collect();
    format!("{KEY_PREFIX}{random}")
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn cache_key(key_hash: &[u8]) -> String {
    let hex: String = key_hash.iter().map(|b| format!("{b:02x}")).collect();
    keys::key(keys::API_KEY, hex)
}

/// Creates a key for `user_id`; the response is the only time the key's text is shown.
pub async fn create(state: &AppState, user_id: Uuid, request: NewApiKeyRequest) -> Result<ApiKeyCreated, ApiError> {
    if let Some(project_id) = request.project_id {
        // Another user's project is answered as a missing one.
        let member = db::projects::is_member(&state.db, project_id, user_id).await.map_err(ApiError::database)?;
        if !member {
            return Err(ApiError::Detail(axum::http::StatusCode::NOT_FOUND, messages::PROJECT_NOT_FOUND.into()));
        }
    }
    let text = new_key_text();
    let key_hash = hash(&text);
    let expires_at = request.expires_in_days.map(|days| Utc::now() + Duration::days(i64::from(days)));
    let prefix: String = text.chars().take(DISPLAY_PREFIX_CHARS).collect();
    let new_key = NewApiKey {
        key_id: Uuid::new_v4(),
        user_id,
        project_id: request.project_id,
        name: &request.name,
        prefix: &prefix,
        key_hash: &key_hash,
        expires_at,
    };
    let created_at = db::api_keys::insert(&state.db, &new_key).await.or_fail(messages::API_KEY_CREATE_FAILED)?;
    tracing::info!(user.id = %user_id, key.id = %new_key.key_id, key.prefix = %prefix, "API key created");
    Ok(ApiKeyCreated { id: new_key.key_id, name: request.name, key: text, prefix, project_id: request.project_id, created_at, expires_at })
}

/// The caller's keys that still work.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<ApiKeyList, ApiError> {
    Ok(ApiKeyList { keys: db::api_keys::live_of(&state.db, user_id).await.map_err(ApiError::database)? })
}

/// Revokes one of the caller's keys, at once on every server. Another user's key id, an unknown
/// one or one already revoked is a 404.
pub async fn revoke(state: &AppState, user_id: Uuid, raw_key_id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::Detail(axum::http::StatusCode::NOT_FOUND, messages::API_KEY_NOT_FOUND.into());
    let key_id = Uuid::parse_str(raw_key_id).map_err(|_| not_found())?;
    let key_hash = db::api_keys::revoke(&state.db, user_id, key_id).await.map_err(ApiError::database)?.ok_or_else(not_found)?;
    let tombstone: redis::RedisResult<()> = state.redis.clone().set_ex(cache_key(&key_hash), API_KEY_REVOKED, API_KEY_CACHE_TTL_SECONDS).await;
    if let Err(error) = tombstone {
        // PostgreSQL says revoked; a cached copy would keep the key working for up to a minute, so say so.
        return Err(ApiError::Unavailable(anyhow::Error::new(error).context("API key revoked in PostgreSQL but not in the Redis cache")));
    }
    tracing::info!(user.id = %user_id, key.id = %key_id, "API key revoked");
    Ok(())
}

/// A presented key, resolved and (when it works) its request admitted.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A working key, and its owner's quota admission (the request is counted when admitted).
    Admitted(ApiKeyCaller, Admission),
    /// Not a key of ours, revoked, expired, or its owner is gone.
    Invalid,
    /// Not cached: ask [`look_up`] (which reads PostgreSQL), then admit with [`quotas::admit`].
    Miss(KeyHash),
}

/// The SHA-256 of a presented key.
#[derive(Debug, Clone)]
pub struct KeyHash(Vec<u8>);

/// Resolves a presented key from the Redis cache and admits its request, in one round trip;
/// `Err` when Redis cannot answer.
pub async fn resolve_cached(state: &AppState, presented: &str) -> anyhow::Result<Resolved> {
    if !looks_like_key(presented) {
        return Ok(Resolved::Invalid);
    }
    let key_hash = hash(presented);
    let cached = quotas::admit_cached_key(&mut state.redis.clone(), &cache_key(&key_hash), (API_KEY_REVOKED, UNKNOWN), &state.settings.tiers).await?;
    Ok(match cached {
        CachedKey::Admitted(value, admission) => Resolved::Admitted(caller_of(&value), admission),
        CachedKey::Invalid => Resolved::Invalid,
        CachedKey::Miss => Resolved::Miss(KeyHash(key_hash)),
    })
}

/// Resolves a key the cache does not know from PostgreSQL, and caches the answer (a "no such key"
/// too, for five minutes); `Err` when PostgreSQL or Redis cannot answer.
pub async fn look_up(state: &AppState, KeyHash(key_hash): KeyHash) -> anyhow::Result<Option<ApiKeyCaller>> {
    let cache = cache_key(&key_hash);
    let mut redis = state.redis.clone();
    let Some(row) = db::api_keys::live_by_hash(&state.db, &key_hash).await? else {
        let _: redis::RedisResult<()> = redis.set_ex(&cache, UNKNOWN, UNKNOWN_KEY_TTL_SECONDS).await;
        return Ok(None);
    };
    let value = ApiKeyValue {
        key_id: row.key_id,
        user_id: row.user_id,
        project_id: row.project_id,
        tier: Tier::parse(&row.tier).unwrap_or_default(),
        expires_at: row.expires_at.map(|at| at.timestamp()),
    };
    fill_cache(&mut redis, &cache, &value, row.expires_at).await;
    Ok(Some(caller_of(&value)))
}

/// Who a key acts for.
fn caller_of(value: &ApiKeyValue) -> ApiKeyCaller {
    ApiKeyCaller { user_id: value.user_id, key_id: value.key_id, project_id: value.project_id, tier: value.tier }
}

/// Caches a key read from PostgreSQL, unless something is cached already (`NX`: a revocation's
/// tombstone written since the read must win), for at most a minute and never past its expiry.
async fn fill_cache(redis: &mut redis::aio::ConnectionManager, cache: &str, value: &ApiKeyValue, expires_at: Option<DateTime<Utc>>) {
    let until_expiry = expires_at.map_or(API_KEY_CACHE_TTL_SECONDS, |at| u64::try_from((at - Utc::now()).num_seconds()).unwrap_or(0));
    let ttl = until_expiry.clamp(1, API_KEY_CACHE_TTL_SECONDS);
    let Ok(json) = serde_json::to_string(value) else { return };
    let filled: redis::RedisResult<()> = redis::cmd("SET").arg(cache).arg(json).arg("NX").arg("EX").arg(ttl).query_async(redis).await;
    if let Err(error) = filled {
        tracing::warn!(%error, "could not cache an API key; the next request reads PostgreSQL again");
    }
}

/// Drops every cached key of the user, so the next request with one reads PostgreSQL again (after
/// a tier change).
pub async fn forget_cached(state: &AppState, user_id: Uuid) -> anyhow::Result<()> {
    let entries = cache_entries_of(state, user_id).await?;
    drop_cache_entries(state, entries).await
}

/// The cache entries the user's keys may have (read before deleting the user: the rows go with it).
pub async fn cache_entries_of(state: &AppState, user_id: Uuid) -> anyhow::Result<Vec<String>> {
    Ok(db::api_keys::hashes_of(&state.db, user_id).await?.iter().map(|h| cache_key(h)).collect())
}

/// Drops these cache entries.
pub async fn drop_cache_entries(state: &AppState, entries: Vec<String>) -> anyhow::Result<()> {
    if !entries.is_empty() {
        state.redis.clone().del::<_, ()>(entries).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_have_the_documented_shape_and_differ() {
        let (a, b) = (new_key_text(), new_key_text());
        assert!(looks_like_key(&a) && looks_like_key(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
    }

    #[test]
    fn only_well_formed_keys_are_looked_up() {
        let good = format!("{KEY_PREFIX}{}", "a".repeat(KEY_RANDOM_CHARS));
        assert!(looks_like_key(&good));
        for bad in
            [String::new(), "c4m_".into(), format!("{good}x"), good.replace('a', "-"), good.replacen("c4m_", "sk-_", 1), format!("{}\0", &good[..43])]
        {
            assert!(!looks_like_key(&bad), "{bad:?}");
        }
    }

    #[test]
    fn the_cache_key_is_the_hex_hash() {
        let key = cache_key(&hash("c4m_x"));
        assert!(key.starts_with(keys::API_KEY));
        assert_eq!(key.len(), keys::API_KEY.len() + 64);
    }
}
