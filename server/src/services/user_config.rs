//! What a user's config row (the HOCON the plugin receives at login) means server-side: which row
//! serves their queries (logged as each query's exposure for studies) and the retrieval context's
//! limits, from the `config.retrieval` block; and the validation every stored config passes.
//! Every parse goes through [`document`]: bounded, without includes or substitutions, off the
//! async executor, so a stored config can never crash or hang a reader.
//!
//! Read per query, so it is cached per user for [`CACHE_FOR`]: a config edit or a move to another
//! config reaches queries within that time without a database read per keystroke (moves made by
//! this instance, such as a study's activation, apply at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use code4me_shared::retrieval::{MAX_BUDGET_CHARS, RetrievalOptions};
use hocon::Config;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;
use crate::db::configs::ConfigRow;

pub mod document;

pub use document::InvalidConfig;

/// How long a user's parsed config is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(30);

/// Where the block lives in the HOCON document.
const BLOCK: &str = "config.retrieval";

/// How long a read of a config may take before the cached (or no) config is used.
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// After a failed read, how long the fallback is used before PostgreSQL is asked again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How long an expired entry is kept as the fallback for a failed read.
const KEEP_STALE: Duration = Duration::from_secs(3600);

/// What a user's config row means server-side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserConfig {
    /// The row the user is on (logged with each query as its exposure).
    pub config_id: i64,
    /// Its retrieval limits; `None` when it leaves retrieval off.
    pub retrieval: Option<RetrievalOptions>,
}

/// Per-user config, cached; cheap to clone.
#[derive(Clone, Default)]
pub struct UserConfigs {
    cache: Arc<Mutex<HashMap<Uuid, Entry>>>,
}

/// When a cached config expires, and the config.
type Entry = (Instant, Option<UserConfig>);

impl UserConfigs {
    /// `user_id`'s config. Never fails a request over it: an invalid retrieval block turns retrieval
    /// off (logged), and while PostgreSQL cannot be read the last known config (or none) is used.
    pub async fn get(&self, db: &PgPool, user_id: Uuid) -> Option<UserConfig> {
        let cached = self.cache.lock().expect("config cache lock").get(&user_id).copied();
        if let Some((_, config)) = cached.filter(|(expires, _)| *expires > Instant::now()) {
            return config;
        }
        let (config, fresh_for) = match tokio::time::timeout(READ_TIMEOUT, read(db, user_id)).await {
            Ok(Ok(config)) => (config, CACHE_FOR),
            failed => {
                let error = failed.map_or_else(|_| "timed out".to_owned(), |r| r.err().map(|e| e.to_string()).unwrap_or_default());
                tracing::warn!(%user_id, %error, "could not read the user's config; using the last known one");
                (cached.and_then(|(_, config)| config), RETRY_AFTER)
            }
        };
        let mut cache = self.cache.lock().expect("config cache lock");
        let now = Instant::now();
        cache.retain(|_, (expires, _)| *expires + KEEP_STALE > now);
        cache.insert(user_id, (now + fresh_for, config));
        config
    }

    /// The retrieval limits for `user_id`'s completions; `None` when their config leaves retrieval off.
    pub async fn retrieval(&self, db: &PgPool, user_id: Uuid) -> Option<RetrievalOptions> {
        self.get(db, user_id).await.and_then(|config| config.retrieval)
    }

    /// Forgets `user_id`'s cached config (they were moved to another one).
    pub fn forget(&self, user_id: Uuid) {
        self.cache.lock().expect("config cache lock").remove(&user_id);
    }

    /// Forgets every cached config (users were moved between configs on this instance; other
    /// instances follow within [`CACHE_FOR`]).
    pub fn forget_all(&self) {
        self.cache.lock().expect("config cache lock").clear();
    }
}

/// `user_id`'s config from PostgreSQL.
async fn read(pool: &PgPool, user_id: Uuid) -> Result<Option<UserConfig>, sqlx::Error> {
    let Some(ConfigRow { config_id, config_data: text }) = db::configs::of_user(pool, user_id).await? else { return Ok(None) };
    // A row stored before validation was bounded (or written in SQL) goes through the same guarded
    // parse: at worst it turns retrieval off.
    let retrieval = match document::parse(text).await {
        Ok(config) => retrieval_options(&config),
        Err(error) => Err(error),
    };
    let retrieval = retrieval.unwrap_or_else(|error| {
        tracing::warn!(%user_id, %config_id, %error, "the user's config is invalid; retrieval is off for them");
        None
    });
    Ok(Some(UserConfig { config_id, retrieval }))
}

/// Checks a config document before it is stored: it must pass [`document::parse`] (bounded, no
/// includes, no substitutions) and every block the server reads must be well-formed. The error
/// says what is wrong, with the parser's line and column.
pub async fn validate(hocon_text: String) -> Result<(), InvalidConfig> {
    retrieval_options(&document::parse(hocon_text).await?).map(|_| ())
}

/// The `config.retrieval` block of a parsed config: `None` when absent or `enabled = false`,
/// otherwise its limits (each defaulting to [`RetrievalOptions::default`]).
pub fn retrieval_options(config: &Config) -> Result<Option<RetrievalOptions>, InvalidConfig> {
    let block = |e: hocon::ConfigError| InvalidConfig::Block(e.to_string());
    if !config.has(BLOCK) {
        return Ok(None);
    }
    let path = |key: &str| format!("{BLOCK}.{key}");
    let enabled = if config.has(&path("enabled")) { config.get_bool(&path("enabled")).map_err(block)? } else { true };
    if !enabled {
        return Ok(None);
    }
    let defaults = RetrievalOptions::default();
    let count = |key: &str, default: usize, max: usize| -> Result<usize, InvalidConfig> {
        if !config.has(&path(key)) {
            return Ok(default);
        }
        let value = config.get_i64(&path(key)).map_err(block)?;
        usize::try_from(value)
            .ok()
            .filter(|v| (1..=max).contains(v))
            .ok_or_else(|| InvalidConfig::Block(format!("{} must be between 1 and {max}", path(key))))
    };
    let min_score = if config.has(&path("min_score")) { config.get_f64(&path("min_score")).map_err(block)? } else { f64::from(defaults.min_score) };
    if !(-1.0..=1.0).contains(&min_score) {
        return Err(InvalidConfig::Block(format!("{} must be between -1 and 1", path("min_score"))));
    }
    Ok(Some(RetrievalOptions {
        budget_chars: count("budget_chars", defaults.budget_chars, MAX_BUDGET_CHARS)?,
        max_snippets: count("max_snippets", defaults.max_snippets, 32)?,
        max_per_file: count("max_per_file", defaults.max_per_file, 32)?,
        min_score: min_score as f32,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrieval_options(text: &str) -> Result<Option<RetrievalOptions>, InvalidConfig> {
        super::retrieval_options(&document::parse_blocking(text)?)
    }

    #[test]
    fn the_block_turns_retrieval_on_with_its_limits() {
        let text = "config { models { available = [] } }\nconfig { retrieval { enabled = true, budget_chars = 500, min_score = 0.5 } }";
        let options = retrieval_options(text).unwrap().unwrap();
        assert_eq!(options.budget_chars, 500);
        assert!((options.min_score - 0.5).abs() < 1e-6);
        assert_eq!(options.max_snippets, RetrievalOptions::default().max_snippets);
    }

    #[test]
    fn absent_or_disabled_means_off() {
        assert_eq!(retrieval_options("config { models { available = [] } }").unwrap(), None);
        assert_eq!(retrieval_options("config { retrieval { enabled = false } }").unwrap(), None);
        assert!(retrieval_options("config { retrieval {} }").unwrap().is_some());
    }

    #[test]
    fn the_seed_config_passes_the_guard_with_retrieval_on() {
        // Row 1 as the migrations write it: the seed, then the retrieval block appended.
        let seed = include_str!("../../../migrations/20261122000002_seed_reference_data.sql");
        let start = seed.find("VALUES (1, '").expect("row 1") + "VALUES (1, '".len();
        let end = start + seed[start..].find("\n');").expect("end of row 1");
        let retrieval = include_str!("../../../migrations/20261202000001_retrieval_index.sql");
        let block_start = retrieval.find("config_data || '").expect("block") + "config_data || '".len();
        let block_end = block_start + retrieval[block_start..].find("'\nWHERE").expect("end of block");
        let text = format!("{}{}", &seed[start..end], &retrieval[block_start..block_end]).replace("''", "'");
        assert_eq!(document::check(&text), Ok(()));
        assert!(retrieval_options(&text).expect("valid").is_some());
    }

    #[test]
    fn invalid_blocks_are_reported() {
        assert!(retrieval_options("config { retrieval { budget_chars = 0 } }").is_err());
        assert!(retrieval_options("config { retrieval { budget_chars = 100000 } }").is_err());
        assert!(retrieval_options("config { retrieval { enabled = maybe } }").is_err());
        assert!(retrieval_options("config { retrieval { min_score = 7 } }").is_err());
        assert!(retrieval_options("config { retrieval {").is_err());
    }
}
