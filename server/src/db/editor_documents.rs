//! The `editor_document_update` table: each collaboration room's Yjs document as the y-sync
//! updates its editors sent, appended in order (see the migration for why nothing is overwritten).
//! Each references its file in `editor_file` ([`crate::db::editor_files`]), so an update for a
//! file renamed or deleted is refused (a foreign-key violation: [`is_file_gone`]).

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Every stored update of one document, oldest first, with the id of the last (0 when none).
pub async fn updates(db: impl PgExecutor<'_>, project_id: Uuid, file_name: &str) -> sqlx::Result<(Vec<Vec<u8>>, i64)> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT update_id, update FROM editor_document_update WHERE project_id = $1 AND file_name = $2 ORDER BY update_id")
            .bind(project_id)
            .bind(file_name)
            .fetch_all(db)
            .await?;
    let last = rows.last().map_or(0, |(id, _)| *id);
    Ok((rows.into_iter().map(|(_, update)| update).collect(), last))
}

/// Appends updates of one document, in order, in one statement; returns the newest row's id.
pub async fn append(db: impl PgExecutor<'_>, project_id: Uuid, file_name: &str, updates: &[Vec<u8>]) -> sqlx::Result<i64> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO editor_document_update (project_id, file_name, update) \
         SELECT $1, $2, u FROM UNNEST($3::bytea[]) WITH ORDINALITY AS x(u, n) ORDER BY n RETURNING update_id",
    )
    .bind(project_id)
    .bind(file_name)
    .bind(updates)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().max().unwrap_or(0))
}

/// Replaces the document's rows up to `through` (inclusive) by `merge` of them, in one
/// transaction: the rows merged are exactly the rows deleted (`DELETE … RETURNING`), so a row
/// committed late with a smaller id, or appended meanwhile by another server, is never dropped
/// unmerged. Returns whether anything was replaced (fewer than two rows are left as they are, and
/// so is a file renamed or deleted meanwhile).
pub async fn compact(
    db: &PgPool,
    project_id: Uuid,
    file_name: &str,
    through: i64,
    merge: impl FnOnce(Vec<Vec<u8>>) -> Option<Vec<u8>>,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    // The file's row first, as a rename or delete locks it before cascading to these rows: taking
    // the two in the other order (rows, then the row's key for the merged insert) could deadlock
    // with one. After a rename or delete committed, nothing matches and nothing is compacted.
    let file: Option<i32> = sqlx::query_scalar("SELECT 1 FROM editor_file WHERE project_id = $1 AND file_name = $2 FOR KEY SHARE")
        .bind(project_id)
        .bind(file_name)
        .fetch_optional(&mut *tx)
        .await?;
    if file.is_none() {
        tx.rollback().await?;
        return Ok(false);
    }
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("DELETE FROM editor_document_update WHERE project_id = $1 AND file_name = $2 AND update_id <= $3 RETURNING update_id, update")
            .bind(project_id)
            .bind(file_name)
            .bind(through)
            .fetch_all(&mut *tx)
            .await?;
    let last = rows.iter().map(|(id, _)| *id).max().unwrap_or(0);
    let merged = if rows.len() > 1 { merge(rows.into_iter().map(|(_, update)| update).collect()) } else { None };
    let Some(merged) = merged else {
        tx.rollback().await?;
        return Ok(false);
    };
    // The merged row takes the id of the newest row it replaces: loading stays in id order.
    sqlx::query("INSERT INTO editor_document_update (update_id, project_id, file_name, update) VALUES ($4, $1, $2, $3)")
        .bind(project_id)
        .bind(file_name)
        .bind(merged)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Whether a failed append was refused because its file no longer exists (renamed or deleted).
pub fn is_file_gone(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}
