//! The `project`, `project_users`, `session` and `session_projects` tables.

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Records a new session of `user_id`.
pub async fn insert_session(db: impl PgExecutor<'_>, session_id: Uuid, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING")
        .bind(session_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the session row exists and has not ended.
pub async fn session_is_open(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM session WHERE session_id = $1 AND end_time IS NULL)").bind(session_id).fetch_one(db).await
}

/// Sets `end_time` (once: a repeated cascade keeps the first end time).
pub async fn end_session(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE session SET end_time = now() WHERE session_id = $1 AND end_time IS NULL").bind(session_id).execute(db).await?;
    Ok(())
}

/// The user's sessions whose rows have not ended (at most 1,000: normally one).
pub async fn open_sessions_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT session_id FROM session WHERE user_id = $1 AND end_time IS NULL LIMIT 1000").bind(user_id).fetch_all(db).await
}

/// Creates a project owned by `user_id` and links it to the session, in one transaction.
pub async fn create(db: &PgPool, project_id: Uuid, name: &str, user_id: Uuid, session_id: Uuid) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, $2, now())")
        .bind(project_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO project_users (project_id, user_id, joined_at) VALUES ($1, $2, now())")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    link_session(&mut *tx, session_id, project_id).await?;
    tx.commit().await
}

/// Links a session to a project (idempotent).
pub async fn link_session(db: impl PgExecutor<'_>, session_id: Uuid, project_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO session_projects (session_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(session_id)
        .bind(project_id)
        .execute(db)
        .await?;
    Ok(())
}

/// A project's stored multi-file context, if the project exists.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredContext {
    /// JSON text: file → lines.
    pub multi_file_contexts: Option<String>,
    /// JSON text: file → change records.
    pub multi_file_context_changes: Option<String>,
}

/// The project's stored context, `None` when the project does not exist.
pub async fn stored_context(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<Option<StoredContext>> {
    sqlx::query_as("SELECT multi_file_contexts, multi_file_context_changes FROM project WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(db)
        .await
}

/// Whether `user_id` belongs to the project.
pub async fn is_member(db: impl PgExecutor<'_>, project_id: Uuid, user_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM project_users WHERE project_id = $1 AND user_id = $2)")
        .bind(project_id)
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Whether every member opted in to storing context (`preference.store_context`) — upstream's rule
/// for persisting a project's multi-file context when its last session ends.
pub async fn all_members_store_context(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT COALESCE(bool_and(COALESCE((u.preference::jsonb ->> 'store_context')::boolean, false)), false) \
         FROM project_users pu JOIN \"user\" u ON u.user_id = pu.user_id WHERE pu.project_id = $1",
    )
    .bind(project_id)
    .fetch_one(db)
    .await
}

/// Stores the project's multi-file context (JSON texts).
pub async fn persist_context(db: impl PgExecutor<'_>, project_id: Uuid, contexts: &str, changes: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE project SET multi_file_contexts = $2, multi_file_context_changes = $3 WHERE project_id = $1")
        .bind(project_id)
        .bind(contexts)
        .bind(changes)
        .execute(db)
        .await?;
    Ok(())
}

/// Sessions whose rows have not ended, oldest first (at most 1,000 per sweep).
pub async fn open_sessions(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT session_id FROM session WHERE end_time IS NULL ORDER BY start_time LIMIT 1000").fetch_all(db).await
}

/// A member of a project, with their account's name and e-mail.
#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    /// The member.
    pub user_id: Uuid,
    /// Their display name.
    pub name: String,
    /// Their e-mail address.
    pub email: String,
    /// When they joined.
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

/// A project's members, the earliest (its creator) first.
pub async fn members(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT u.user_id, u.name, u.email, pu.joined_at FROM project_users pu JOIN \"user\" u ON u.user_id = pu.user_id \
         WHERE pu.project_id = $1 ORDER BY pu.joined_at, u.user_id LIMIT 1000",
    )
    .bind(project_id)
    .fetch_all(db)
    .await
}

/// Adds a member (nothing when they already are one); returns whether they were added and when
/// they joined. One statement, so two owners adding the same account at once both get an answer.
pub async fn add_member(db: impl PgExecutor<'_>, project_id: Uuid, user_id: Uuid) -> sqlx::Result<(bool, chrono::DateTime<chrono::Utc>)> {
    // DO UPDATE (to the same value) rather than DO NOTHING: the existing row is returned even when
    // a racing insert committed after this statement's snapshot; `xmax = 0` tells a fresh insert.
    sqlx::query_as(
        "INSERT INTO project_users (project_id, user_id, joined_at) VALUES ($1, $2, now()) \
         ON CONFLICT (project_id, user_id) DO UPDATE SET joined_at = project_users.joined_at \
         RETURNING (xmax = 0), joined_at",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// One of a user's projects.
#[derive(Debug, sqlx::FromRow)]
pub struct MembershipRow {
    /// The project.
    pub project_id: Uuid,
    /// Its name.
    pub project_name: String,
    /// When it was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Whether the user is its owner (its earliest member, as [`members`] orders them).
    pub is_owner: bool,
}

/// The projects `user_id` is a member of, newest first (at most 1,000).
pub async fn of_member(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<MembershipRow>> {
    sqlx::query_as(
        "SELECT p.project_id, p.project_name, p.created_at, NOT EXISTS ( \
             SELECT 1 FROM project_users o WHERE o.project_id = pu.project_id AND (o.joined_at, o.user_id) < (pu.joined_at, pu.user_id) \
         ) AS is_owner \
         FROM project_users pu JOIN project p ON p.project_id = pu.project_id \
         WHERE pu.user_id = $1 ORDER BY p.created_at DESC, p.project_id LIMIT 1000",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
