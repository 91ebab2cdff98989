//! Administration without raw SQL: making administrators (the `admin` CLI subcommands and the
//! `ADMIN_EMAIL` / `ADMIN_PASSWORD` bootstrap at start-up) and setting user tiers (CLI and API).

use anyhow::Context;
use axum::http::StatusCode;
use code4me_shared::domain::{Email, Password, UserName};
use code4me_shared::tiers::Tier;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::contract::api_keys::{TierChanged, parse_tier};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::db::users::{self, NewUser};
use crate::services::api_keys;
use crate::services::auth::password::PasswordHasher;
use crate::services::state::AppState;

/// What [`ensure_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    /// A new admin account was created.
    Created(Uuid),
    /// An existing account was made admin (its password is left as it is).
    Promoted(Uuid),
}

/// Creates an admin account with this address and password, or promotes the existing account.
pub async fn ensure_admin(db: &PgPool, hasher: &PasswordHasher, email: &str, name: &str, password: &str) -> anyhow::Result<AdminOutcome> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("admin e-mail: {e:?}"))?;
    if let Some(user) = users::by_email(db, &email).await? {
        users::set_admin(db, user.user_id).await?;
        return Ok(AdminOutcome::Promoted(user.user_id));
    }
    let name = UserName::parse(name).map_err(|e| anyhow::anyhow!("admin name: {e:?}"))?;
    let password = Password::parse(password)
        .map_err(|_| anyhow::anyhow!("admin password: 8..50 characters with upper- and lower-case letters and a digit, no spaces"))?;
    let hash = hasher.hash(password.expose()).await?;
    let new_user =
        NewUser { email: &email, name: name.as_str(), password_hash: &hash, config_id: 1, is_oauth_signup: false, verified: true, is_admin: true };
    let user_id = users::insert(db, &new_user).await?.context("the address was taken concurrently; run again")?;
    Ok(AdminOutcome::Created(user_id))
}

/// Promotes an existing account.
pub async fn promote(db: &PgPool, email: &str) -> anyhow::Result<Uuid> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("e-mail: {e:?}"))?;
    let user = users::by_email(db, &email).await?.with_context(|| format!("no account with e-mail {email}"))?;
    users::set_admin(db, user.user_id).await?;
    Ok(user.user_id)
}

/// Sets the tier of the account with this e-mail (the admin CLI). Servers read it with the next
/// request whose key is not cached (within a minute).
pub async fn set_tier_by_email(db: &PgPool, email: &str, tier: &str) -> anyhow::Result<Uuid> {
    let tier = Tier::parse(tier).with_context(|| format!("unknown tier {tier:?}: free, pro or enterprise"))?;
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("e-mail: {e:?}"))?;
    let user = users::by_email(db, &email).await?.with_context(|| format!("no account with e-mail {email}"))?;
    db::api_keys::set_tier(db, user.user_id, tier.as_str()).await?;
    Ok(user.user_id)
}

/// Sets a user's tier (`PUT /api/admin/users/{user_id}/tier`), effective at the user's next request
/// on every server (their cached keys are dropped).
pub async fn set_tier(state: &AppState, raw_user_id: &str, body: &Value) -> Result<TierChanged, ApiError> {
    let not_found = || ApiError::Detail(StatusCode::NOT_FOUND, messages::USER_ROW_NOT_FOUND.into());
    let user_id = Uuid::parse_str(raw_user_id).map_err(|_| not_found())?;
    let tier = parse_tier(body)?;
    if !db::api_keys::set_tier(&state.db, user_id, tier.as_str()).await.map_err(ApiError::database)? {
        return Err(not_found());
    }
    api_keys::forget_cached(state, user_id).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user_id, tier = tier.as_str(), "tier changed");
    Ok(TierChanged { user_id, tier })
}
