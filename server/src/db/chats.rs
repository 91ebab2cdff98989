//! The `chat` and `chat_query` tables: who owns a conversation, its turns, and its history pages.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Who a chat belongs to, as [`claim`] finds it.
#[derive(Debug, sqlx::FromRow)]
pub struct ChatOwner {
    /// The owner (`None` once their account is gone).
    pub user_id: Option<Uuid>,
    /// The project it was started in.
    pub project_id: Uuid,
    /// Its title (the placeholder until the first turn is stored).
    pub title: String,
}

/// Makes `user_id` the owner of `chat_id` unless someone already is, in one statement, and returns
/// the chat's owner as it now is (of two racing first turns, the second waits for the first's row).
pub async fn claim(
    db: impl PgExecutor<'_>,
    chat_id: Uuid,
    project_id: Uuid,
    user_id: Uuid,
    placeholder_title: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<ChatOwner> {
    // `DO UPDATE` with a no-op assignment (not `DO NOTHING`) so that the existing row is returned.
    sqlx::query_as(
        "INSERT INTO chat (chat_id, project_id, user_id, title, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (chat_id) DO UPDATE SET chat_id = EXCLUDED.chat_id RETURNING user_id, project_id, title",
    )
    .bind(chat_id)
    .bind(project_id)
    .bind(user_id)
    .bind(placeholder_title)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Deletes a chat that still has the placeholder title and no stored turn (a claim whose first
/// turn failed); a chat with a turn on its way or stored is kept.
pub async fn release_unused(db: impl PgExecutor<'_>, chat_id: Uuid, placeholder_title: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM chat WHERE chat_id = $1 AND title = $2 AND NOT EXISTS (SELECT 1 FROM chat_query WHERE chat_id = $1)")
        .bind(chat_id)
        .bind(placeholder_title)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the turn of `query_id` is stored.
pub async fn turn_is_stored(db: impl PgExecutor<'_>, query_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM chat_query WHERE meta_query_id = $1)").bind(query_id).fetch_one(db).await
}

/// A chat as a history page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct ChatSummary {
    /// The chat.
    pub chat_id: Uuid,
    /// Its title.
    pub title: String,
}

/// One page of `user_id`'s chats in `project_id` that have a stored turn, newest first.
pub async fn page_of(db: impl PgExecutor<'_>, user_id: Uuid, project_id: Uuid, limit: i64, offset: i64) -> sqlx::Result<Vec<ChatSummary>> {
    sqlx::query_as(
        "SELECT chat_id, title FROM chat WHERE user_id = $1 AND project_id = $2 \
         AND EXISTS (SELECT 1 FROM chat_query cq WHERE cq.chat_id = chat.chat_id) \
         ORDER BY created_at DESC, chat_id LIMIT $3 OFFSET $4",
    )
    .bind(user_id)
    .bind(project_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// A stored turn of a chat.
#[derive(Debug, sqlx::FromRow)]
pub struct Turn {
    /// The turn's query.
    pub meta_query_id: Uuid,
    /// When it was asked.
    pub timestamp: DateTime<Utc>,
    /// What the user wrote (older rows lack it).
    pub user_message: Option<String>,
    /// The editor prefix, if the context was stored.
    pub prefix: Option<String>,
}

/// The turns of `chat_id`, oldest first.
pub async fn turns(db: impl PgExecutor<'_>, chat_id: Uuid) -> sqlx::Result<Vec<Turn>> {
    sqlx::query_as(
        "SELECT mq.meta_query_id, mq.\"timestamp\", cq.user_message, c.prefix FROM chat_query cq \
         JOIN meta_query mq ON mq.meta_query_id = cq.meta_query_id LEFT JOIN context c ON c.context_id = mq.context_id \
         WHERE cq.chat_id = $1 ORDER BY mq.\"timestamp\"",
    )
    .bind(chat_id)
    .fetch_all(db)
    .await
}

/// A model's stored answer to a turn of a chat.
#[derive(Debug, sqlx::FromRow)]
pub struct TurnAnswer {
    /// The turn's query.
    pub meta_query_id: Uuid,
    /// The model.
    pub model_id: i64,
    /// Its name.
    pub model_name: String,
    /// What it answered.
    pub completion: String,
    /// How long it took (ms).
    pub generation_time: i32,
    /// Its confidence.
    pub confidence: f64,
    /// Whether the user accepted it.
    pub was_accepted: bool,
}

/// Every model answer to the turns of `chat_id`, by model id.
pub async fn answers(db: impl PgExecutor<'_>, chat_id: Uuid) -> sqlx::Result<Vec<TurnAnswer>> {
    sqlx::query_as(
        "SELECT g.meta_query_id, g.model_id, m.model_name, g.completion, g.generation_time, g.confidence, g.was_accepted \
         FROM had_generation g JOIN model_name m ON m.model_id = g.model_id \
         JOIN chat_query cq ON cq.meta_query_id = g.meta_query_id WHERE cq.chat_id = $1 ORDER BY g.model_id",
    )
    .bind(chat_id)
    .fetch_all(db)
    .await
}

/// The owner of `chat_id`: `None` when there is no such chat, `Some(None)` when its owner is gone.
pub async fn owner(db: impl PgExecutor<'_>, chat_id: Uuid) -> sqlx::Result<Option<Option<Uuid>>> {
    sqlx::query_scalar("SELECT user_id FROM chat WHERE chat_id = $1").bind(chat_id).fetch_optional(db).await
}

/// Deletes the chat with its turns and their `meta_query` rows (`chat_query` cascades from `chat`,
/// `meta_query` does not), in one transaction.
pub async fn delete(db: &PgPool, chat_id: Uuid) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM meta_query WHERE meta_query_id IN (SELECT meta_query_id FROM chat_query WHERE chat_id = $1)")
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM chat WHERE chat_id = $1").bind(chat_id).execute(&mut *tx).await?;
    tx.commit().await
}
