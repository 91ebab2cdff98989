//! The `user` and `config` tables.

use chrono::{DateTime, Utc};
use code4me_shared::domain::Email;
use serde_json::{Map, Value, json};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// A `user` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub user_id: Uuid,
    /// Sign-up time.
    pub joined_at: DateTime<Utc>,
    /// Normalised (lower-case) address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string.
    pub password: String,
    /// Signed up through Google.
    pub is_oauth_signup: Option<bool>,
    /// Address verified.
    pub verified: Option<bool>,
    /// Config served to this user's plugin.
    pub config_id: i64,
    /// JSON text of the preference object.
    pub preference: Option<String>,
    /// May use admin endpoints.
    pub is_admin: Option<bool>,
}

/// Upstream's `DEFAULT_USER_PREFERENCE`.
pub fn default_preference() -> Map<String, Value> {
    let Value::Object(map) = json!({"store_context": false, "store_contextual_telemetry": true, "store_behavioral_telemetry": true}) else {
        unreachable!("a JSON object literal")
    };
    map
}

const COLUMNS: &str = "user_id, joined_at, email, name, password, is_oauth_signup, verified, config_id, preference, is_admin";

/// The user with this id.
pub async fn by_id(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM \"user\" WHERE user_id = $1"))).bind(user_id).fetch_optional(db).await
}

/// The user with this (normalised) address.
pub async fn by_email(db: impl PgExecutor<'_>, email: &Email) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM \"user\" WHERE email = $1"))).bind(email.as_str()).fetch_optional(db).await
}

/// What a new account starts with.
pub struct NewUser<'a> {
    /// Address.
    pub email: &'a Email,
    /// Display name.
    pub name: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Config the plugin gets.
    pub config_id: i64,
    /// Created through Google sign-in.
    pub is_oauth_signup: bool,
    /// Address already verified (Google said so).
    pub verified: bool,
    /// Admin account.
    pub is_admin: bool,
}

/// Inserts a user; `None` when the address is taken (the unique index decides, so two concurrent
/// sign-ups with one address cannot both succeed).
pub async fn insert(db: impl PgExecutor<'_>, user: &NewUser<'_>) -> sqlx::Result<Option<Uuid>> {
    let user_id = Uuid::new_v4();
    let preference = Value::Object(default_preference()).to_string();
    let inserted = sqlx::query(
        "INSERT INTO \"user\" (user_id, joined_at, email, name, password, is_oauth_signup, verified, config_id, preference, is_admin) \
         VALUES ($1, now(), $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (email) DO NOTHING",
    )
    .bind(user_id)
    .bind(user.email.as_str())
    .bind(user.name)
    .bind(user.password_hash)
    .bind(user.is_oauth_signup)
    .bind(user.verified)
    .bind(user.config_id)
    .bind(preference)
    .bind(user.is_admin)
    .execute(db)
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(user_id))
}

/// The `config_data` of config `config_id`.
pub async fn config_data(db: impl PgExecutor<'_>, config_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT config_data FROM config WHERE config_id = $1").bind(config_id).fetch_optional(db).await
}

/// Marks the address verified.
pub async fn set_verified(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE \"user\" SET verified = TRUE WHERE user_id = $1").bind(user_id).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the password hash.
pub async fn set_password(db: impl PgExecutor<'_>, user_id: Uuid, password_hash: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE \"user\" SET password = $2 WHERE user_id = $1").bind(user_id).bind(password_hash).execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Grants admin rights.
pub async fn set_admin(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE user_id = $1").bind(user_id).execute(db).await?;
    Ok(())
}

/// The changes `PUT /api/user/update` applies (already validated).
#[derive(Default)]
pub struct UserChanges {
    /// New display name.
    pub name: Option<String>,
    /// New address.
    pub email: Option<Email>,
    /// New argon2id hash.
    pub password_hash: Option<String>,
    /// New preference JSON text.
    pub preference: Option<String>,
}

/// Applies `changes`; `Err(UpdateError::EmailTaken)` when the new address belongs to someone else.
pub async fn update(db: &PgPool, user_id: Uuid, changes: UserChanges) -> Result<Option<UserRow>, UpdateError> {
    let result = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE \"user\" SET name = COALESCE($2, name), email = COALESCE($3, email), password = COALESCE($4, password), \
         preference = COALESCE($5, preference) WHERE user_id = $1 RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(changes.name)
    .bind(changes.email.as_ref().map(Email::as_str))
    .bind(changes.password_hash)
    .bind(changes.preference)
    .fetch_optional(db)
    .await;
    match result {
        Ok(row) => Ok(row),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(UpdateError::EmailTaken),
        Err(e) => Err(UpdateError::Database(e)),
    }
}

/// Why an update failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The new address belongs to another user.
    #[error("e-mail address taken")]
    EmailTaken,
    /// Anything else.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Deletes the user. With `delete_data`, their queries (with contexts and telemetry), sessions,
/// chats and the projects nobody else belongs to go too; otherwise those rows stay, detached
/// (`user_id` set to NULL by the foreign keys), for research.
pub async fn delete(db: &PgPool, user_id: Uuid, delete_data: bool) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    if delete_data {
        // Telemetry rows are referenced from meta_query, so collect them before deleting the queries.
        sqlx::query(
            "WITH gone AS (DELETE FROM meta_query WHERE user_id = $1 \
               RETURNING context_id, contextual_telemetry_id, behavioral_telemetry_id), \
             c AS (DELETE FROM context WHERE context_id IN (SELECT context_id FROM gone)), \
             ct AS (DELETE FROM contextual_telemetry WHERE contextual_telemetry_id IN (SELECT contextual_telemetry_id FROM gone)) \
             DELETE FROM behavioral_telemetry WHERE behavioral_telemetry_id IN (SELECT behavioral_telemetry_id FROM gone)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM chat WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query(
            "DELETE FROM project p WHERE EXISTS (SELECT 1 FROM project_users pu WHERE pu.project_id = p.project_id AND pu.user_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM project_users pu WHERE pu.project_id = p.project_id AND pu.user_id <> $1)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM session WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    }
    let done = sqlx::query("DELETE FROM \"user\" WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `user_id` is an admin: `None` when there is no such user.
pub async fn is_admin(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<bool>> {
    let is_admin: Option<Option<bool>> =
        sqlx::query_scalar("SELECT is_admin FROM \"user\" WHERE user_id = $1").bind(user_id).fetch_optional(db).await?;
    Ok(is_admin.map(|admin| admin.unwrap_or(false)))
}
