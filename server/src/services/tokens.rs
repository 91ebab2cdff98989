//! Auth tokens, sessions and active projects in Redis (wire contract §5), and the expiry cascade
//! that closes them: an expiring auth token ends its user's session; an ending session closes its
//! database row and releases its projects; a project released by its last session is removed from
//! Redis, its multi-file context persisted first when every member opted in to storing context.
//!
//! Every ending is announced on the revocations channel once its keys are gone, so every server
//! closes the WebSockets that acted for it (they re-check each message too).
//!
//! Every operation is idempotent — the cascade may run from several servers for the same expiry.

use std::time::Duration;

use anyhow::Context;
use code4me_shared::redis_keys::{self as keys, AuthTokenValue, ProjectValue, REVOCATIONS_CHANNEL, Revocation, SessionValue, UserTokenValue, key};
use code4me_shared::settings::TokenSettings;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db;

/// The Redis key holding an auth token's owner (read by [`TokenStore::user_of_auth_token`], or in
/// another round trip's pipeline and decoded with [`owner_of_auth_token_value`]).
pub fn auth_token_key(token: Uuid) -> String {
    key(keys::AUTH_TOKEN, token)
}

/// The owner recorded in the raw value read at an [`auth_token_key`] (`None`: no such live token).
pub fn owner_of_auth_token_value(key: &str, raw: Option<String>) -> Option<Uuid> {
    parse_json::<AuthTokenValue>(key, raw).map(|v| v.user_id)
}

/// A JSON value read from `key`; one that does not parse is treated as absent (and logged).
fn parse_json<T: DeserializeOwned>(key: &str, raw: Option<String>) -> Option<T> {
    raw.and_then(|text| match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(redis.key = key, error = %e, "unreadable value in Redis; ignoring it");
            None
        }
    })
}

/// Redis-backed token store.
#[derive(Clone)]
pub struct TokenStore {
    redis: ConnectionManager,
    db: PgPool,
    ttl: TokenSettings,
}

/// Whole seconds, at least 1 (Redis rejects `EX 0`).
fn secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

impl TokenStore {
    /// A store over these connections.
    pub fn new(redis: ConnectionManager, db: PgPool, ttl: TokenSettings) -> Self {
        Self { redis, db, ttl }
    }

    fn conn(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The JSON value at `key`; a value that does not parse is treated as absent (and logged).
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        let raw: Option<String> = self.conn().get(key).await.with_context(|| format!("GET {key}"))?;
        Ok(parse_json(key, raw))
    }

    /// Stores `value` as JSON at `key`, with a lifetime or keeping the current one (`KEEPTTL`).
    pub async fn set_json(&self, key: &str, value: &impl Serialize, ttl: Option<Duration>) -> anyhow::Result<()> {
        let text = serde_json::to_string(value)?;
        let mut conn = self.conn();
        match ttl {
            Some(ttl) => conn.set_ex::<_, _, ()>(key, text, secs(ttl)).await,
            None => redis::cmd("SET").arg(key).arg(text).arg("KEEPTTL").query_async::<()>(&mut conn).await,
        }
        .with_context(|| format!("SET {key}"))
    }

    /// Writes a token and its hook, which expires `TOKEN_HOOK_ACTIVATION_IN_SECONDS` earlier.
    async fn set_with_hook(&self, prefix: &str, hook: &str, token: Uuid, value: &impl Serialize, ttl: Duration) -> anyhow::Result<()> {
        self.set_json(&key(prefix, token), value, Some(ttl)).await?;
        let hook_ttl = ttl.saturating_sub(self.ttl.hook_activation);
        self.conn().set_ex::<_, _, ()>(key(hook, token), "", secs(hook_ttl)).await.context("SET hook")
    }

    // --- auth tokens -------------------------------------------------------------------------------

    /// Issues a new auth token for `user_id`.
    pub async fn issue_auth_token(&self, user_id: Uuid) -> anyhow::Result<Uuid> {
        let token = Uuid::new_v4();
        self.set_with_hook(keys::AUTH_TOKEN, keys::AUTH_TOKEN_HOOK, token, &AuthTokenValue { user_id }, self.ttl.auth_token_ttl).await?;
        let index = key(keys::USER_AUTH_TOKENS, user_id);
        let mut conn = self.conn();
        conn.sadd::<_, _, ()>(&index, token.to_string()).await.context("SADD user tokens")?;
        conn.expire::<_, ()>(&index, secs(self.ttl.auth_token_ttl) as i64).await.context("EXPIRE user tokens")?;
        Ok(token)
    }

    /// The user an auth token belongs to, if it is live.
    pub async fn user_of_auth_token(&self, token: Uuid) -> anyhow::Result<Option<Uuid>> {
        Ok(self.get_json::<AuthTokenValue>(&auth_token_key(token)).await?.map(|v| v.user_id))
    }

    /// Revokes an auth token; as upstream, this also ends its user's session.
    pub async fn revoke_auth_token(&self, token: Uuid) -> anyhow::Result<()> {
        let value: Option<AuthTokenValue> = self.get_json(&key(keys::AUTH_TOKEN, token)).await?;
        self.conn().del::<_, ()>(&[key(keys::AUTH_TOKEN, token), key(keys::AUTH_TOKEN_HOOK, token)]).await.context("DEL auth token")?;
        if let Some(AuthTokenValue { user_id }) = value {
            self.conn().srem::<_, _, ()>(key(keys::USER_AUTH_TOKENS, user_id), token.to_string()).await.context("SREM")?;
            self.end_user_session(user_id).await?;
        }
        Ok(())
    }

    /// Revokes every auth token of the user and ends every session they still have open (account
    /// deleted, password reset).
    pub async fn revoke_user(&self, user_id: Uuid) -> anyhow::Result<()> {
        let index = key(keys::USER_AUTH_TOKENS, user_id);
        let tokens: Vec<String> = self.conn().smembers(&index).await.context("SMEMBERS")?;
        for token in tokens.iter().filter_map(|t| Uuid::parse_str(t).ok()) {
            self.conn().del::<_, ()>(&[key(keys::AUTH_TOKEN, token), key(keys::AUTH_TOKEN_HOOK, token)]).await.context("DEL auth token")?;
        }
        self.conn().del::<_, ()>(&index).await.context("DEL user tokens")?;
        self.end_user_session(user_id).await?;
        // The current session is the usual one, but an older one may still be open (its pointer
        // was replaced); a WebSocket on it must close too.
        for session in db::projects::open_sessions_of(&self.db, user_id).await? {
            self.end_session(session).await?;
        }
        Ok(())
    }

    // --- sessions ----------------------------------------------------------------------------------

    /// The user's current session token, when the session is live.
    pub async fn current_session(&self, user_id: Uuid) -> anyhow::Result<Option<(Uuid, SessionValue)>> {
        let Some(UserTokenValue { session_token }) = self.get_json(&key(keys::USER_TOKEN, user_id)).await? else {
            return Ok(None);
        };
        Ok(self.session(session_token).await?.map(|s| (session_token, s)))
    }

    /// A live session.
    pub async fn session(&self, token: Uuid) -> anyhow::Result<Option<SessionValue>> {
        self.get_json(&key(keys::SESSION_TOKEN, token)).await
    }

    /// The user's session: the current one when it is live in Redis and open in the database,
    /// otherwise a new one. Either way its lifetime restarts.
    pub async fn acquire_session(&self, user_id: Uuid) -> anyhow::Result<Uuid> {
        if let Some((token, session)) = self.current_session(user_id).await?
            && db::projects::session_is_open(&self.db, token).await?
        {
            self.save_session(token, &session).await?;
            return Ok(token);
        }
        let token = Uuid::new_v4();
        db::projects::insert_session(&self.db, token, user_id).await?;
        self.save_session(token, &SessionValue { user_token: user_id, project_tokens: Vec::new() }).await?;
        Ok(token)
    }

    /// Writes the session (and the user's pointer to it) with a fresh lifetime: sessions slide on use.
    pub async fn save_session(&self, token: Uuid, session: &SessionValue) -> anyhow::Result<()> {
        let ttl = self.ttl.session_token_ttl;
        self.set_with_hook(keys::SESSION_TOKEN, keys::SESSION_TOKEN_HOOK, token, session, ttl).await?;
        self.set_json(&key(keys::USER_TOKEN, session.user_token), &UserTokenValue { session_token: token }, Some(ttl)).await
    }

    async fn end_user_session(&self, user_id: Uuid) -> anyhow::Result<()> {
        if let Some(UserTokenValue { session_token }) = self.get_json(&key(keys::USER_TOKEN, user_id)).await? {
            self.end_session(session_token).await?;
        }
        self.conn().del::<_, ()>(key(keys::USER_TOKEN, user_id)).await.context("DEL user_token")
    }

    /// Ends a session: closes its database row, removes its keys (and says so on the revocations
    /// channel) and releases its projects.
    pub async fn end_session(&self, token: Uuid) -> anyhow::Result<()> {
        let session: Option<SessionValue> = self.session(token).await?;
        db::projects::end_session(&self.db, token).await?;
        self.conn().del::<_, ()>(&[key(keys::SESSION_TOKEN, token), key(keys::SESSION_TOKEN_HOOK, token)]).await.context("DEL session")?;
        self.announce(Revocation { session: token, project: None }).await;
        if let Some(session) = session {
            let pointer: Option<UserTokenValue> = self.get_json(&key(keys::USER_TOKEN, session.user_token)).await?;
            if pointer.is_some_and(|p| p.session_token == token) {
                self.conn().del::<_, ()>(key(keys::USER_TOKEN, session.user_token)).await.context("DEL user_token")?;
            }
            for project in session.project_tokens {
                self.release_project(project, token).await?;
            }
        }
        Ok(())
    }

    // --- projects ----------------------------------------------------------------------------------

    /// The project's live state.
    pub async fn project(&self, project_id: Uuid) -> anyhow::Result<Option<ProjectValue>> {
        self.get_json(&key(keys::PROJECT_TOKEN, project_id)).await
    }

    /// Makes the project active in the session (both directions), restarting the session lifetime.
    pub async fn attach_project(
        &self,
        session_token: Uuid,
        mut session: SessionValue,
        project_id: Uuid,
        mut project: ProjectValue,
    ) -> anyhow::Result<()> {
        if !project.session_tokens.contains(&session_token) {
            project.session_tokens.push(session_token);
        }
        self.set_json(&key(keys::PROJECT_TOKEN, project_id), &project, None).await?;
        if !session.project_tokens.contains(&project_id) {
            session.project_tokens.push(project_id);
        }
        db::projects::link_session(&self.db, session_token, project_id).await?;
        self.save_session(session_token, &session).await
    }

    /// Removes the session from the project; the last session out removes the project from Redis,
    /// persisting its context first when every member stores context. Announced on the
    /// revocations channel.
    pub async fn release_project(&self, project_id: Uuid, session_token: Uuid) -> anyhow::Result<()> {
        if let Some(mut project) = self.project(project_id).await? {
            project.session_tokens.retain(|t| *t != session_token);
            if project.session_tokens.is_empty() {
                self.retire_project(project_id, &project).await?;
            } else {
                self.set_json(&key(keys::PROJECT_TOKEN, project_id), &project, None).await?;
            }
        }
        self.announce(Revocation { session: session_token, project: Some(project_id) }).await;
        Ok(())
    }

    /// Tells every server that a session ended or lost a project, so the WebSockets acting for it
    /// close now rather than at their next message. Best effort: the keys are already gone, and
    /// each WebSocket message re-checks them.
    async fn announce(&self, revocation: Revocation) {
        let payload = serde_json::to_string(&revocation).expect("two uuids serialise");
        if let Err(error) = self.conn().publish::<_, _, i64>(REVOCATIONS_CHANNEL, payload).await {
            tracing::warn!(%error, session.token = %revocation.session, "could not announce a revocation; open WebSockets notice at their next message");
        }
    }

    async fn retire_project(&self, project_id: Uuid, project: &ProjectValue) -> anyhow::Result<()> {
        if db::projects::all_members_store_context(&self.db, project_id).await? {
            let contexts = serde_json::to_string(&project.multi_file_contexts)?;
            let changes = serde_json::to_string(&project.multi_file_context_changes)?;
            db::projects::persist_context(&self.db, project_id, &contexts, &changes).await?;
        }
        self.conn().del::<_, ()>(key(keys::PROJECT_TOKEN, project_id)).await.context("DEL project")
    }

    /// Lazy cleanup for Redis servers without keyspace notifications: drops sessions that expired
    /// without a cascade from every project, retires projects left without sessions, and closes
    /// database sessions whose Redis key is gone. Returns how many things it repaired.
    pub async fn sweep(&self) -> anyhow::Result<usize> {
        let mut repaired = 0;
        let project_keys: Vec<String> = {
            let mut conn = self.conn();
            let mut iter = conn.scan_match::<_, String>(format!("{}*", keys::PROJECT_TOKEN)).await.context("SCAN projects")?;
            let mut found = Vec::new();
            while let Some(k) = futures::StreamExt::next(&mut iter).await {
                found.push(k.context("SCAN projects")?);
            }
            found
        };
        for project_key in project_keys {
            let Some(project_id) = project_key.strip_prefix(keys::PROJECT_TOKEN).and_then(|id| Uuid::parse_str(id).ok()) else { continue };
            let Some(mut project) = self.project(project_id).await? else { continue };
            let before = project.session_tokens.len();
            let mut live = Vec::with_capacity(before);
            for token in project.session_tokens {
                if self.conn().exists::<_, bool>(key(keys::SESSION_TOKEN, token)).await.context("EXISTS session")? {
                    live.push(token);
                }
            }
            project.session_tokens = live;
            if project.session_tokens.len() != before {
                repaired += 1;
                if project.session_tokens.is_empty() {
                    self.retire_project(project_id, &project).await?;
                } else {
                    self.set_json(&project_key, &project, None).await?;
                }
            }
        }
        let open = db::projects::open_sessions(&self.db).await?;
        for session_id in open {
            if !self.conn().exists::<_, bool>(key(keys::SESSION_TOKEN, session_id)).await.context("EXISTS session")? {
                self.end_session(session_id).await?;
                repaired += 1;
            }
        }
        Ok(repaired)
    }
}
