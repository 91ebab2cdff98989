//! The Redis key schema (wire contract §5) and the JSON values stored under each key.
//!
//! Keys and value shapes are upstream's, so tools written against Code4me V2's Redis keep working.
//! Our additions are marked; they never change an upstream key's meaning. Every key and pub/sub
//! channel name the processes use is here; only apalis' own queue keys are named by apalis, from
//! each job's queue ([`crate::jobs::Job::QUEUE`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `auth_token:<uuid>` → [`AuthTokenValue`], TTL `AUTHENTICATION_TOKEN_EXPIRES_IN_SECONDS`.
pub const AUTH_TOKEN: &str = "auth_token:";
/// `auth_token_hook:<uuid>` → `""`, expires `TOKEN_HOOK_ACTIVATION_IN_SECONDS` before its token and
/// triggers the cleanup cascade while the token's value can still be read.
pub const AUTH_TOKEN_HOOK: &str = "auth_token_hook:";
/// `user_token:<user_id>` → [`UserTokenValue`], TTL of the session.
pub const USER_TOKEN: &str = "user_token:";
/// `session_token:<uuid>` → [`SessionValue`], TTL `SESSION_TOKEN_EXPIRES_IN_SECONDS` (slides on use).
pub const SESSION_TOKEN: &str = "session_token:";
/// `session_token_hook:<uuid>` → `""`, like [`AUTH_TOKEN_HOOK`] for sessions.
pub const SESSION_TOKEN_HOOK: &str = "session_token_hook:";
/// `project_token:<project_id>` → [`ProjectValue`], no TTL: removed when its last session ends.
pub const PROJECT_TOKEN: &str = "project_token:";
/// `email_verification:<uuid>` → [`EmailVerificationValue`].
pub const EMAIL_VERIFICATION: &str = "email_verification:";
/// `password_reset:<uuid>` → [`PasswordResetValue`].
pub const PASSWORD_RESET: &str = "password_reset:";
/// Ours: `user_auth_tokens:<user_id>` → SET of the user's live auth tokens, so deleting a user or
/// resetting a password revokes every token at once (upstream leaves them alive).
pub const USER_AUTH_TOKENS: &str = "user_auth_tokens:";
/// Ours: `rate_limit:<window>:<ip>:<path>` → request count in that hour window.
pub const RATE_LIMIT: &str = "rate_limit:";
/// Ours: `oauth_state:<state>` → [`OAuthFlowValue`] of a browser sign-in in progress.
pub const OAUTH_STATE: &str = "oauth_state:";

/// Ours: `api_key:<sha256 hex of the key>` → [`ApiKeyValue`] (a cache of the `api_key` row, which
/// stays the truth), or [`API_KEY_REVOKED`] for a key revoked while a request may still be filling
/// the cache; TTL at most [`API_KEY_CACHE_TTL_SECONDS`], so a change made where no Redis is at hand
/// (the admin CLI's tier change) reaches every server within a minute.
pub const API_KEY: &str = "api_key:";
/// The value a revoked key's [`API_KEY`] entry holds, so a concurrent cache fill cannot bring it back.
pub const API_KEY_REVOKED: &str = "revoked";
/// Lifetime of an [`API_KEY`] entry.
pub const API_KEY_CACHE_TTL_SECONDS: u64 = 60;
/// Ours: `quota:<user_id>:{h,d,t}:<window>` → requests in the hour window, requests in the day
/// window, generated tokens in the day window; expire after their window.
pub const QUOTA: &str = "quota:";

/// Ours: `suggestion:<user_id>:<context hash>` → the suggestions JSON of the suggestion API
/// (`POST /api/v1/completion`) for one normalised context (SHA-256 hex of the language, the lines
/// around the caret, the analysed context, the model and the sampling), TTL
/// `SUGGESTION_CACHE_TTL_SECONDS`. Namespaced by user so no user is ever served code cached from
/// another's request.
pub const SUGGESTION: &str = "suggestion:";
/// Ours: `suggestion_lock:<user_id>:<context hash>` → a random token, `SET NX PX` by the one server
/// generating that context's suggestions (single flight across servers); the others wait for the
/// [`SUGGESTION`] entry instead of generating the same thing again. Expires after the generation
/// timeout, so a crashed holder blocks no one for long.
pub const SUGGESTION_LOCK: &str = "suggestion_lock:";

/// Ours: `worker_models:<worker_id>` → [`WorkerModelsValue`], TTL [`WORKER_MODELS_TTL_SECONDS`],
/// refreshed by the live worker: which models each worker serves (the admin model list reads it).
pub const WORKER_MODELS: &str = "worker_models:";
/// Lifetime of a [`WORKER_MODELS`] key; a worker refreshes it at a third of that, so a dead worker
/// disappears from the list within this many seconds.
pub const WORKER_MODELS_TTL_SECONDS: u64 = 30;

/// Ours: pub/sub channel `revoked` → [`Revocation`], published by whichever server ends a session
/// or releases a project from one, and heard by every server: each re-checks the WebSockets it
/// holds for that session and closes those that lost their authorisation.
pub const REVOCATIONS_CHANNEL: &str = "revoked";

/// A message on [`REVOCATIONS_CHANNEL`]. Only a hint to look again: receivers re-read the session
/// from Redis (the keys are gone before it is published), so a late or repeated one closes nothing
/// that is still authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The session that ended or lost a project.
    pub session: Uuid,
    /// The project released from the session; absent when the whole session ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Uuid>,
}

/// Ours: pub/sub channel `replies:<instance_id>` → [`crate::reply::Reply`]: each server instance
/// hears the answers to its own requests on its own channel.
pub fn reply_channel(instance_id: &str) -> String {
    format!("replies:{instance_id}")
}

/// Ours: pub/sub channel `wake:<queue>` → `""`, published right after a push so idle consumers of
/// `queue` take the job at once (apalis-redis otherwise picks it up only on its next poll).
pub fn wake_channel(queue: &str) -> String {
    format!("wake:{queue}")
}

/// Ours: pub/sub channel `cancel` → a request id ([`crate::cancellation`]): running generations of
/// that request stop at their next token.
pub const CANCEL_CHANNEL: &str = "cancel";

/// Ours: `cancelled:<request_id>` → `""`, TTL [`CANCELLED_TTL_SECONDS`] ([`crate::cancellation`]):
/// a cancelled request's jobs that have not started yet are dropped when a worker takes them.
pub const CANCELLED_KEY: &str = "cancelled:";

/// Lifetime of a [`CANCELLED_KEY`]: longer than any request timeout.
pub const CANCELLED_TTL_SECONDS: u64 = 600;

/// `<prefix><id>`.
pub fn key(prefix: &str, id: impl std::fmt::Display) -> String {
    format!("{prefix}{id}")
}

/// Ours: `query_record:<query_id>` → [`QueryRecordValue`], TTL [`QUERY_RECORD_TTL_SECONDS`]: who owns a
/// query and what it answered, written before the answer is sent. Feedback and `GET
/// /api/completion/{id}` use it while the query's rows are still on their way to PostgreSQL.
pub const QUERY_RECORD: &str = "query_record:";
/// Lifetime of a [`QUERY_RECORD`] (far longer than the telemetry queue ever lags).
pub const QUERY_RECORD_TTL_SECONDS: u64 = 3600;

/// Value of `query_record:<query_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecordValue {
    /// Owner.
    pub user_id: Uuid,
    /// `completion` or `chat`.
    pub query_type: String,
    /// Models that answered (feedback is accepted for these).
    pub answered: Vec<i64>,
    /// The `data` of the response that was sent.
    pub response: serde_json::Value,
}

/// Value of `auth_token:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTokenValue {
    /// Owner of the token.
    pub user_id: Uuid,
}

/// Value of `user_token:<user_id>`: the user's current session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTokenValue {
    /// The session token.
    pub session_token: Uuid,
}

/// Value of `session_token:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionValue {
    /// The user id (upstream's name for it).
    pub user_token: Uuid,
    /// Projects activated in this session.
    #[serde(default)]
    pub project_tokens: Vec<Uuid>,
}

/// Value of `project_token:<project_id>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectValue {
    /// Sessions that have this project active.
    #[serde(default)]
    pub session_tokens: Vec<Uuid>,
    /// File name → lines: the project's multi-file context.
    #[serde(default)]
    pub multi_file_contexts: BTreeMap<String, Vec<String>>,
    /// File name → the raw change records that produced the context (the most recent ones: the
    /// log is trimmed to [`crate::multi_file::MAX_CHANGE_LOG_BYTES`], oldest first).
    #[serde(default)]
    pub multi_file_context_changes: BTreeMap<String, Vec<serde_json::Value>>,
    /// Ours: file name → how many of its oldest change records were trimmed from the log, so a
    /// file's change count ([`ProjectValue::change_count`]) keeps growing after trimming.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub multi_file_context_changes_trimmed: BTreeMap<String, usize>,
}

impl ProjectValue {
    /// How many changes of `file` were ever applied: the version of the file the retrieval index
    /// and the query telemetry (`multi_file_context_changes_indexes`) refer to.
    pub fn change_count(&self, file: &str) -> usize {
        let kept = self.multi_file_context_changes.get(file).map_or(0, Vec::len);
        kept + self.multi_file_context_changes_trimmed.get(file).copied().unwrap_or(0)
    }
}

/// Value of `email_verification:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailVerificationValue {
    /// The user to mark verified.
    pub user_id: Uuid,
}

/// Value of `password_reset:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetValue {
    /// The user whose password changes.
    pub user_id: Uuid,
    /// Their address when the reset was requested.
    pub email: String,
}

/// Value of `oauth_state:<state>`: what the callback needs to finish a browser sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthFlowValue {
    /// PKCE verifier matching the challenge sent to the provider.
    pub pkce_verifier: String,
    /// Nonce the ID token must carry.
    pub nonce: String,
    /// Where to send the browser afterwards (a path on this site).
    pub return_to: String,
    /// The provider the flow was started with (`google`, `github`, `microsoft`); a callback for
    /// another provider refuses it. Flows written before providers were named are Google's.
    #[serde(default = "google")]
    pub provider: String,
}

fn google() -> String {
    "google".to_owned()
}

/// Value of `api_key:<hash>`: who a key acts for, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyValue {
    /// The key's row.
    pub key_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The one project it is bound to, if any.
    pub project_id: Option<Uuid>,
    /// The owner's tier when the entry was written (a tier change through the API drops the user's
    /// entries).
    pub tier: crate::tiers::Tier,
    /// Unix seconds after which the key no longer works; `None`: never expires.
    pub expires_at: Option<i64>,
}

/// Value of `worker_models:<worker_id>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerModelsValue {
    /// The worker's name (`WORKER_ID`).
    pub worker_id: String,
    /// `model_id`s loaded and ready to serve.
    pub loaded: Vec<i64>,
    /// `model_id` → why it is not loaded (weights missing, unsupported architecture...).
    pub unavailable: BTreeMap<i64, String>,
    /// When the worker last wrote this value (each refresh), for operators; absent from workers
    /// older than the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the worker has the embedding model loaded (it answers embedding jobs).
    #[serde(default)]
    pub embeddings: bool,
}

/// Ours: pub/sub channel `agent_events` → a run's id, published by the worker right after it stored
/// one of the run's events, so servers streaming the run read the table at once instead of on
/// their next poll (one subscription per server, whatever the number of streams).
pub const AGENT_EVENTS_CHANNEL: &str = "agent_events";

/// Ours: `agent_watchers:<run_id>` → a sorted set of the run's open streams (member: a stream id,
/// score: its last heartbeat in Unix ms). A run whose streams have all been gone for the grace
/// period is cancelled: closing the browser stops the agent, reconnecting in time does not.
pub fn agent_watchers(run_id: uuid::Uuid) -> String {
    format!("agent_watchers:{run_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_serialise_in_upstream_shapes() {
        let id = Uuid::nil();
        let session = SessionValue { user_token: id, project_tokens: vec![id] };
        assert_eq!(
            serde_json::to_value(&session).expect("json"),
            serde_json::json!({"user_token": id.to_string(), "project_tokens": [id.to_string()]})
        );
        let project = ProjectValue::default();
        assert_eq!(
            serde_json::to_value(&project).expect("json"),
            serde_json::json!({"session_tokens": [], "multi_file_contexts": {}, "multi_file_context_changes": {}})
        );
        assert_eq!(key(AUTH_TOKEN, id), format!("auth_token:{id}"));
    }

    #[test]
    fn a_revocation_names_its_session_and_only_a_released_project() {
        let id = Uuid::nil();
        let ended = Revocation { session: id, project: None };
        assert_eq!(serde_json::to_value(ended).expect("json"), serde_json::json!({"session": id.to_string()}));
        let released = Revocation { session: id, project: Some(id) };
        let text = serde_json::to_string(&released).expect("json");
        assert_eq!(serde_json::from_str::<Revocation>(&text).expect("parses"), released);
    }

    #[test]
    fn a_worker_announcement_without_a_heartbeat_still_reads() {
        // What workers wrote before `heartbeat_at` existed: servers and workers roll out separately.
        let old = r#"{"worker_id": "w1", "loaded": [5], "unavailable": {"1": "no weights"}}"#;
        let value: WorkerModelsValue = serde_json::from_str(old).expect("parses");
        assert_eq!((value.loaded, value.heartbeat_at), (vec![5], None));
    }
}
