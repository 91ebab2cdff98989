//! The expiry cascade, driven by Redis keyspace notifications: when a token's hook key expires
//! (shortly before the token itself), the session or auth token is closed through [`TokenStore`]
//! while its value is still readable. A periodic sweep repairs what a Redis without notifications
//! (or a missed event) leaves behind. Both run on every server; every step is idempotent.
//!
//! [`TokenStore`]: crate::services::tokens::TokenStore

use std::time::Duration;

use code4me_shared::pubsub::subscribe_forever;
use code4me_shared::redis_keys::{AUTH_TOKEN_HOOK, SESSION_TOKEN_HOOK};
use uuid::Uuid;

use crate::services::state::AppState;

/// Listens for expired keys forever, resubscribing after connection losses.
pub async fn listen(state: AppState) {
    let client = match redis::Client::open(state.settings.redis.url()) {
        Ok(client) => client,
        Err(error) => return tracing::error!(%error, "invalid REDIS_* settings; expiry events are not handled (the sweep still runs)"),
    };
    let channel = format!("__keyevent@{}__:expired", state.settings.redis.db);
    let on_message = |_, key: String| {
        let state = state.clone();
        async move {
            if let Err(e) = on_expired(&state, &key).await {
                tracing::warn!(redis.key = %key, error = format!("{e:#}"), "expiry cascade failed; the sweep will retry");
            }
        }
    };
    subscribe_forever(client, vec![channel], "expiry", |_| {}, on_message).await;
}

async fn on_expired(state: &AppState, key: &str) -> anyhow::Result<()> {
    if let Some(token) = key.strip_prefix(SESSION_TOKEN_HOOK).and_then(|t| Uuid::parse_str(t).ok()) {
        tracing::info!(session.token = %token, "session expiring; running the cascade");
        state.tokens.end_session(token).await?;
    } else if let Some(token) = key.strip_prefix(AUTH_TOKEN_HOOK).and_then(|t| Uuid::parse_str(t).ok()) {
        tracing::info!("auth token expiring; running the cascade");
        state.tokens.revoke_auth_token(token).await?;
    }
    Ok(())
}

/// Runs [`crate::services::tokens::TokenStore::sweep`] every `every`.
pub async fn sweep_periodically(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match state.tokens.sweep().await {
            Ok(0) => {}
            Ok(repaired) => tracing::info!(repaired, "expiry sweep closed sessions and projects left behind"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "expiry sweep failed"),
        }
    }
}
