//! The study tables (`study`, `study_config`, `config_assignment_history`): studies stored, read
//! and listed, and A/B assignment — which config each user runs with while a study is active. The
//! assignment is drawn inside the transaction that records it, so it lives with its statements.
//!
//! Assignment is sticky — a user keeps their arm for the study's life, across deactivation and
//! re-activation — and stored in `config_assignment_history`; the arms are stored with the study
//! (`study_config`), so a study created inactive can assign them later. Users who sign in for the
//! first time while a study is active are assigned then. Only verified users take part, as
//! upstream; one study is active at a time.

use chrono::{DateTime, Utc};
use rand::seq::IndexedRandom;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A study's row, with its creator's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StudyRow {
    /// The study.
    pub study_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it tests.
    pub description: Option<String>,
    /// The name of the admin who created it.
    pub creator_name: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; `None` while open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is the active study.
    pub is_active: bool,
    /// The baseline arm, where users go when it ends.
    pub default_config_id: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The columns of a [`StudyRow`], over `study s JOIN "user" u` (its creator).
macro_rules! study_columns {
    () => {
        "s.study_id, s.name, s.description, u.name AS creator_name, s.starts_at, s.ends_at, coalesce(s.is_active, false) AS is_active, \
         s.default_config_id, s.created_at"
    };
}

/// The study `study_id`, if there is one.
pub async fn find(db: impl PgExecutor<'_>, study_id: Uuid) -> sqlx::Result<Option<StudyRow>> {
    const SQL: &str = concat!("SELECT ", study_columns!(), " FROM study s JOIN \"user\" u ON u.user_id = s.created_by WHERE s.study_id = $1");
    sqlx::query_as(SQL).bind(study_id).fetch_optional(db).await
}

/// A study in the list, with its users and arms.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedStudyRow {
    /// The study.
    #[sqlx(flatten)]
    pub study: StudyRow,
    /// Users ever assigned an arm of it.
    pub assigned_users_count: i64,
    /// Its arms, ascending.
    pub config_ids: Vec<i64>,
}

/// The active study, or every study with `include_inactive`; newest first.
pub async fn list(db: impl PgExecutor<'_>, include_inactive: bool) -> sqlx::Result<Vec<ListedStudyRow>> {
    const SQL: &str = concat!(
        "SELECT ",
        study_columns!(),
        ", (SELECT count(*) FROM config_assignment_history h WHERE h.study_id = s.study_id)::bigint AS assigned_users_count, \
           ARRAY(SELECT config_id FROM study_config c WHERE c.study_id = s.study_id ORDER BY config_id) AS config_ids \
         FROM study s JOIN \"user\" u ON u.user_id = s.created_by WHERE $1 OR coalesce(s.is_active, false) ORDER BY s.created_at DESC"
    );
    sqlx::query_as(SQL).bind(include_inactive).fetch_all(db).await
}

/// How many of `config_ids` (distinct) are config rows.
pub async fn existing_configs(db: impl PgExecutor<'_>, config_ids: &[i64]) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM config WHERE config_id = ANY($1)").bind(config_ids).fetch_one(db).await
}

/// A study to store.
#[derive(Debug, Clone, Copy)]
pub struct NewStudy<'a> {
    /// Its id, drawn by the caller.
    pub study_id: Uuid,
    /// Its name.
    pub name: &'a str,
    /// What it tests.
    pub description: Option<&'a str>,
    /// The admin creating it.
    pub created_by: Uuid,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; `None` for open-ended.
    pub ends_at: Option<DateTime<Utc>>,
    /// The baseline arm.
    pub default_config_id: i64,
    /// Every arm, the baseline included, distinct.
    pub arms: &'a [i64],
}

/// Stores `study` (inactive) with its arms, in one transaction.
pub async fn insert(db: &PgPool, study: NewStudy<'_>) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO study (study_id, name, description, created_by, starts_at, ends_at, is_active, default_config_id) \
         VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)",
    )
    .bind(study.study_id)
    .bind(study.name)
    .bind(study.description)
    .bind(study.created_by)
    .bind(study.starts_at)
    .bind(study.ends_at)
    .bind(study.default_config_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO study_config (study_id, config_id) SELECT $1, unnest($2::bigint[])")
        .bind(study.study_id)
        .bind(study.arms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The active study (if any) and its arms. The row is share-locked: logins assign concurrently,
/// while a deactivation waits for them (and they for it), so nobody is assigned to an ended study.
async fn active_study(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<Option<(Uuid, Vec<i64>)>> {
    let Some(study_id): Option<Uuid> = sqlx::query_scalar("SELECT study_id FROM study WHERE is_active FOR SHARE").fetch_optional(&mut **tx).await?
    else {
        return Ok(None);
    };
    Ok(Some((study_id, arms(&mut **tx, study_id).await?)))
}

/// A study's arms, in id order.
pub async fn arms(db: impl sqlx::PgExecutor<'_>, study_id: Uuid) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT config_id FROM study_config WHERE study_id = $1 ORDER BY config_id").bind(study_id).fetch_all(db).await
}

/// Puts `user_id` in an arm of the active study if they have none yet, and on their arm's config
/// either way; returns the config they are now on, or `None` when no study is active (or they are
/// not verified).
pub async fn assign_on_login(db: &PgPool, user_id: Uuid) -> sqlx::Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let Some((study_id, arms)) = active_study(&mut tx).await? else { return Ok(None) };
    let verified: bool =
        sqlx::query_scalar("SELECT coalesce(verified, false) FROM \"user\" WHERE user_id = $1").bind(user_id).fetch_one(&mut *tx).await?;
    if !verified || arms.is_empty() {
        return Ok(None);
    }
    let arm = assign(&mut tx, study_id, user_id, &arms).await?;
    tx.commit().await?;
    Ok(Some(arm))
}

/// The user's arm in the study (drawn at random among `arms` the first time) — also set as their
/// config.
async fn assign(tx: &mut Transaction<'_, Postgres>, study_id: Uuid, user_id: Uuid, arms: &[i64]) -> sqlx::Result<i64> {
    let drawn = *arms.choose(&mut rand::rng()).expect("a study has arms");
    let arm: i64 = sqlx::query_scalar(
        "INSERT INTO config_assignment_history (user_id, study_id, assigned_config_id) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, study_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING assigned_config_id",
    )
    .bind(user_id)
    .bind(study_id)
    .bind(drawn)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE \"user\" SET config_id = $2 WHERE user_id = $1").bind(user_id).bind(arm).execute(&mut **tx).await?;
    Ok(arm)
}

/// Activates `study_id` (deactivating any other active study first) and puts every verified user
/// on their arm, drawing one for those without. Returns how many users are assigned.
pub async fn activate(db: &PgPool, study_id: Uuid) -> sqlx::Result<usize> {
    let mut tx = db.begin().await?;
    let others: Vec<Uuid> =
        sqlx::query_scalar("SELECT study_id FROM study WHERE is_active AND study_id <> $1 FOR UPDATE").bind(study_id).fetch_all(&mut *tx).await?;
    for other in others {
        end(&mut tx, other).await?;
    }
    sqlx::query("UPDATE study SET is_active = TRUE, ends_at = CASE WHEN ends_at <= now() THEN NULL ELSE ends_at END WHERE study_id = $1")
        .bind(study_id)
        .execute(&mut *tx)
        .await?;
    let arms = arms(&mut *tx, study_id).await?;
    let users: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE verified ORDER BY user_id").fetch_all(&mut *tx).await?;
    if !arms.is_empty() {
        for user in &users {
            assign(&mut tx, study_id, *user, &arms).await?;
        }
    }
    tx.commit().await?;
    Ok(if arms.is_empty() { 0 } else { users.len() })
}

/// Deactivates `study_id` if it is active: its end is now (unless set), and its users go back to
/// its default config. Returns how many users were reset, or `None` when it was not active.
pub async fn deactivate(db: &PgPool, study_id: Uuid) -> sqlx::Result<Option<u64>> {
    let mut tx = db.begin().await?;
    let active: Option<Option<bool>> =
        sqlx::query_scalar("SELECT is_active FROM study WHERE study_id = $1 FOR UPDATE").bind(study_id).fetch_optional(&mut *tx).await?;
    if active.flatten() != Some(true) {
        return Ok(None);
    }
    let reset = end(&mut tx, study_id).await?;
    tx.commit().await?;
    Ok(Some(reset))
}

/// Ends a study: inactive, ended now unless its end is set, its users back on its default config.
async fn end(tx: &mut Transaction<'_, Postgres>, study_id: Uuid) -> sqlx::Result<u64> {
    sqlx::query("UPDATE study SET is_active = FALSE, ends_at = COALESCE(ends_at, now()) WHERE study_id = $1")
        .bind(study_id)
        .execute(&mut **tx)
        .await?;
    let reset = sqlx::query(
        "UPDATE \"user\" u SET config_id = s.default_config_id FROM study s, config_assignment_history h \
         WHERE s.study_id = $1 AND h.study_id = s.study_id AND h.user_id = u.user_id",
    )
    .bind(study_id)
    .execute(&mut **tx)
    .await?;
    Ok(reset.rows_affected())
}
