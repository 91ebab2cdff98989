//! Making administrators without raw SQL: the `admin` CLI subcommands and the `ADMIN_EMAIL` /
//! `ADMIN_PASSWORD` bootstrap at start-up.

use anyhow::Context;
use code4me_shared::domain::{Email, Password, UserName};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::users::{self, NewUser};
use crate::services::auth::password::PasswordHasher;

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
