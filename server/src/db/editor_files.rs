//! The `editor_file` table: which files each web-editor project has. A file's content is its
//! rows in `editor_document_update`, which reference it: renaming a file moves them and deleting
//! it removes them (the foreign key's cascades; see the migration).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// One file of a project.
#[derive(Debug, sqlx::FromRow)]
pub struct FileRow {
    /// Its name.
    pub file_name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A project's files, by name in code-point order (the same in every locale).
pub async fn list(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<Vec<FileRow>> {
    sqlx::query_as("SELECT file_name, created_at FROM editor_file WHERE project_id = $1 ORDER BY file_name COLLATE \"C\"")
        .bind(project_id)
        .fetch_all(db)
        .await
}

/// One file of the project, if it has it.
pub async fn get(db: impl PgExecutor<'_>, project_id: Uuid, file_name: &str) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as("SELECT file_name, created_at FROM editor_file WHERE project_id = $1 AND file_name = $2")
        .bind(project_id)
        .bind(file_name)
        .fetch_optional(db)
        .await
}

/// Whether the project has the file.
pub async fn exists(db: impl PgExecutor<'_>, project_id: Uuid, file_name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM editor_file WHERE project_id = $1 AND file_name = $2)")
        .bind(project_id)
        .bind(file_name)
        .fetch_one(db)
        .await
}

/// What creating a file did.
#[derive(Debug)]
pub enum Created {
    /// Created, at this time.
    Created(DateTime<Utc>),
    /// The project already has a file of that name.
    Exists,
    /// The project already has the most files it may.
    Full,
    /// The project does not exist (deleted meanwhile).
    NoProject,
}

/// Creates a file unless the name is taken or the project has `max_files` already.
///
/// The project's row is locked first (`FOR NO KEY UPDATE`, which other tables' foreign-key checks
/// do not wait for), so creations in one project take turns and the count each one reads includes
/// the one before it: the limit holds exactly. The insert itself is `ON CONFLICT DO NOTHING`, so of
/// two callers racing for one name exactly one creates it.
pub async fn create(db: &PgPool, project_id: Uuid, file_name: &str, max_files: i64) -> sqlx::Result<Created> {
    let mut tx = db.begin().await?;
    let project: Option<Uuid> = sqlx::query_scalar("SELECT project_id FROM project WHERE project_id = $1 FOR NO KEY UPDATE")
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
    if project.is_none() {
        return Ok(Created::NoProject);
    }
    let created: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO editor_file (project_id, file_name) \
         SELECT $1, $2 WHERE (SELECT count(*) FROM editor_file WHERE project_id = $1) < $3 \
         ON CONFLICT DO NOTHING RETURNING created_at",
    )
    .bind(project_id)
    .bind(file_name)
    .bind(max_files)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match created {
        Some(at) => Created::Created(at),
        None if exists(&mut *tx, project_id, file_name).await? => Created::Exists,
        None => Created::Full,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// What renaming a file did.
#[derive(Debug)]
pub enum Renamed {
    /// Renamed; the file was created at this time.
    Renamed(DateTime<Utc>),
    /// The project has no file named `from`.
    NoSuchFile,
    /// The project already has a file named `to`.
    Exists,
}

/// Renames a file; its document's updates follow in the same statement (`ON UPDATE CASCADE`). A
/// rename racing another onto the same name, or a creation of it, waits on the primary key and
/// then finds it taken.
pub async fn rename(db: impl PgExecutor<'_>, project_id: Uuid, from: &str, to: &str) -> sqlx::Result<Renamed> {
    let renamed = sqlx::query_scalar("UPDATE editor_file SET file_name = $3 WHERE project_id = $1 AND file_name = $2 RETURNING created_at")
        .bind(project_id)
        .bind(from)
        .bind(to)
        .fetch_optional(db)
        .await;
    match renamed {
        Ok(Some(at)) => Ok(Renamed::Renamed(at)),
        Ok(None) => Ok(Renamed::NoSuchFile),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Renamed::Exists),
        Err(error) => Err(error),
    }
}

/// Deletes a file and its document (`ON DELETE CASCADE`); whether there was one.
pub async fn delete(db: impl PgExecutor<'_>, project_id: Uuid, file_name: &str) -> sqlx::Result<bool> {
    let deleted =
        sqlx::query("DELETE FROM editor_file WHERE project_id = $1 AND file_name = $2").bind(project_id).bind(file_name).execute(db).await?;
    Ok(deleted.rows_affected() > 0)
}
