//! Telemetry writes of the `db` queue: telemetry lands in PostgreSQL in batched transactions, each
//! query's rows together, and nothing is dropped while PostgreSQL is away.
//!
//! The handler ([`crate::jobs::telemetry`]) hands each write to one of [`BatchWriter`]'s tasks (its
//! query's) and waits for its commit, so the job is acknowledged only once its rows are stored. A
//! writer commits whatever has queued up for it in one transaction, the completions among it with one multi-row
//! statement per table ([`bulk`]: the writer's throughput is round trips and per-statement
//! triggers); when PostgreSQL is unreachable it keeps the batch and retries with backoff (the
//! jobs stay in flight, heartbeats continue); a write PostgreSQL rejects (a row that can never be
//! stored) is retried alone so it cannot sink its neighbours, then reported and aborted.
//!
//! Nothing a client sent can make a write fail for good: every text is bound through
//! [`pg_text`] (PostgreSQL refuses U+0000), short identifying texts (file names, paths, chat titles)
//! are redacted once more here, and a query whose user, session or project was deleted while it
//! waited in the queue is dropped with a log line instead of being rejected ([`write_alone`]).
//!
//! Feedback may arrive before its query's rows (the completion's telemetry is still queued):
//! it is parked in `deferred_feedback` and applied when the query is written. Both paths take the
//! same per-query advisory lock, so neither can miss the other.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use code4me_shared::jobs::telemetry::{BehavioralRow, ContextualRow, DbWrite, FeedbackRecord, QueryKind, QueryRecord, UNTITLED_CHAT, UsageRecord};
use code4me_shared::redaction::redact;
use code4me_shared::survival::edit_similarity_within;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::pg_text::{pg_keys, pg_string, pg_text, pg_text_opt};

mod bulk;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// Writers, each committing its own batches: one leaves PostgreSQL's second core idle while it
/// waits on each statement's round trip and on the commit's WAL flush. A query's rows and its
/// feedback always go to the same writer ([`BatchWriter::shard`]), so the writers never wait on
/// each other's query locks and a query's writes keep their order.
const WRITERS: usize = 2;

/// Why a write did not land.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// PostgreSQL rejected the rows themselves; retrying cannot help.
    #[error("PostgreSQL rejected the write: {0}")]
    Rejected(String),
    /// The writer is shutting down; the job stays queued for the next worker.
    #[error("the telemetry writer stopped")]
    Stopped,
}

type Pending = (DbWrite, oneshot::Sender<Result<(), WriteError>>);

/// Front of the batching writer tasks; cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shards: Arc<[mpsc::Sender<Pending>]>,
}

impl BatchWriter {
    /// Starts the writer tasks on `db`.
    pub fn start(db: PgPool) -> Self {
        let shards = (0..WRITERS)
            .map(|_| {
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(run_writer(db.clone(), rx));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Writes `write`, returning once it is committed (or can never be).
    pub async fn write(&self, write: DbWrite) -> Result<(), WriteError> {
        let (done_tx, done_rx) = oneshot::channel();
        self.shards[Self::shard(&write)].send((write, done_tx)).await.map_err(|_| WriteError::Stopped)?;
        done_rx.await.map_err(|_| WriteError::Stopped)?
    }

    /// The writer of `write`: chosen by its query id (random bits in every UUID version the doors
    /// issue), so a query's rows and feedback share one; writes of no query go to the first.
    fn shard(write: &DbWrite) -> usize {
        let query_id = match write {
            DbWrite::Query(query) => query.query_id,
            DbWrite::Feedback(feedback) => feedback.query_id,
            DbWrite::Usage(_) | DbWrite::IndexFiles(_) | DbWrite::Batch(_) => return 0,
        };
        (query_id.as_u64_pair().1 % WRITERS as u64) as usize
    }
}

/// One writer: commits what has queued up for it (up to [`MAX_BATCH`]), until the channel closes.
async fn run_writer(db: PgPool, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = write_batch(&db, &batch).await;
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

/// Commits the batch in one transaction; falls back to one transaction per write when
/// PostgreSQL rejects the batch; waits out outages.
async fn write_batch(db: &PgPool, batch: &[Pending]) -> Vec<Result<(), WriteError>> {
    let writes: Vec<&DbWrite> = batch.iter().map(|(w, _)| w).collect();
    if with_outage_retry(db, &writes).await.is_ok() {
        metrics::counter!("telemetry_writes_total").increment(writes.len() as u64);
        return writes.iter().map(|_| Ok(())).collect();
    }
    let mut results = Vec::with_capacity(writes.len());
    for write in writes {
        results.push(write_alone(db, write).await);
    }
    results
}

/// One write in its own transaction, so a rejected one sinks only itself. A query whose user,
/// session or project was deleted while it was queued (a foreign key PostgreSQL now refuses) is
/// dropped — the owner asked for their data to go — and one whose config was deleted is stored
/// without it; anything else PostgreSQL refuses is [`WriteError::Rejected`].
async fn write_alone(db: &PgPool, write: &DbWrite) -> Result<(), WriteError> {
    let rejected = |error: sqlx::Error| WriteError::Rejected(error.to_string());
    let error = match with_outage_retry(db, &[write]).await {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    let DbWrite::Query(query) = write else { return Err(rejected(error)) };
    if !matches!(&error, sqlx::Error::Database(e) if e.is_foreign_key_violation()) {
        return Err(rejected(error));
    }
    let (owned, config_kept): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM \"user\" WHERE user_id = $1) \
         AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM session WHERE session_id = $2)) \
         AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM project WHERE project_id = $3)), \
         ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM config WHERE config_id = $4)) \
         AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM api_key WHERE key_id = $5))",
    )
    .bind(query.user_id)
    .bind(query.session_id)
    .bind(query.project_id)
    .bind(query.config_id)
    .bind(query.api_key_id)
    .fetch_one(db)
    .await
    .map_err(rejected)?;
    if !owned {
        tracing::warn!(query_id = %query.query_id, user_id = %query.user_id, "the query's user, session or project was deleted while its telemetry was queued; not stored");
        return Ok(());
    }
    if !config_kept {
        // The config or the API key went: the query stays, without the reference.
        let detached = DbWrite::Query(Box::new(QueryRecord { config_id: None, api_key_id: None, ..(**query).clone() }));
        return with_outage_retry(db, &[&detached]).await.map_err(rejected);
    }
    Err(rejected(error))
}

/// A short text that identifies something (file name, path, chat title): redacted once more
/// here, a last line of defence should a door forget, then made storable. Long texts (prefixes,
/// completions, messages) are redacted once, at the door or by the model worker: scanning them
/// again for every row would spend the writer's budget (≥ 20,000 rows/s) on a second pass.
fn identifying(text: &str) -> Cow<'_, str> {
    match redact(text) {
        Cow::Borrowed(text) => pg_text(text),
        Cow::Owned(text) => Cow::Owned(pg_string(text)),
    }
}

/// Runs the transaction until it commits or PostgreSQL rejects it; connection failures (an
/// outage, a restart) are waited out with backoff, however long they last.
async fn with_outage_retry(db: &PgPool, writes: &[&DbWrite]) -> Result<(), sqlx::Error> {
    let mut delay = Duration::from_millis(100);
    loop {
        match write_all(db, writes).await {
            Ok(()) => return Ok(()),
            Err(error) if is_rejection(&error) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "PostgreSQL unavailable; telemetry kept and retried");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A database error about the data (constraint, type) — as opposed to the connection. Deadlocks
/// and serialization failures are transient.
pub fn is_rejection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => !matches!(db.code().as_deref(), Some("40001" | "40P01" | "57P01" | "57P02" | "57P03")),
        sqlx::Error::Encode(_) | sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => true,
        _ => false,
    }
}

async fn write_all(db: &PgPool, writes: &[&DbWrite]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    lock_queries(&mut tx, writes).await?;
    let completions: Vec<&QueryRecord> = writes
        .iter()
        .filter_map(|write| match write {
            DbWrite::Query(query) if matches!(query.kind, QueryKind::Completion) => Some(&**query),
            _ => None,
        })
        .collect();
    bulk::write_completions(&mut tx, &completions).await?;
    apply_deferred_feedback(&mut tx, &completions.iter().map(|q| q.query_id).collect::<Vec<_>>()).await?;
    // Feedback in bulk, except a generation's second word within one batch, which must follow
    // its first: those go one by one, in order, afterwards.
    let feedback: Vec<&FeedbackRecord> = writes
        .iter()
        .filter_map(|write| match write {
            DbWrite::Feedback(feedback) => Some(feedback),
            _ => None,
        })
        .collect();
    let mut per_generation: HashMap<(Uuid, i64), usize> = HashMap::new();
    for f in &feedback {
        *per_generation.entry((f.query_id, f.model_id)).or_default() += 1;
    }
    let (single, repeated): (Vec<&FeedbackRecord>, Vec<&FeedbackRecord>) =
        feedback.into_iter().partition(|f| per_generation[&(f.query_id, f.model_id)] == 1);
    bulk::write_feedback(&mut tx, &single).await?;
    for f in repeated {
        write_feedback(&mut tx, f).await?;
    }
    for write in writes {
        match write {
            DbWrite::Query(query) if matches!(query.kind, QueryKind::Completion) => {}
            DbWrite::Query(query) => write_query(&mut tx, query).await?,
            DbWrite::Feedback(_) => {}
            DbWrite::Usage(batch) => {
                for usage in &batch.records {
                    write_usage(&mut tx, usage).await?;
                }
            }
            // Legacy index work: the `db` handler moves it to the `index` queue, never here.
            DbWrite::IndexFiles(_) => {}
            // The handler unpacks batches; one that got here would be acknowledged unwritten.
            DbWrite::Batch(_) => return Err(sqlx::Error::Encode("a batch of writes must be unpacked before the writer".into())),
        }
    }
    tx.commit().await
}

/// A metered request's row, and its key's last use. A row whose user was deleted while it was
/// queued is dropped (the `SELECT ... WHERE EXISTS`), as the owner asked for their data to go; a
/// key deleted with its user is the same case.
async fn write_usage(tx: &mut Transaction<'_, Postgres>, u: &UsageRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_usage (usage_id, user_id, key_id, endpoint, model, prompt_tokens, generated_tokens, latency_ms, status, at) \
         SELECT $1, $2, (SELECT key_id FROM api_key WHERE key_id = $3), $4, $5, $6, $7, $8, $9, $10 \
         WHERE EXISTS (SELECT 1 FROM \"user\" WHERE user_id = $2) ON CONFLICT DO NOTHING",
    )
    .bind(u.usage_id)
    .bind(u.user_id)
    .bind(u.key_id)
    .bind(pg_text(&u.endpoint))
    .bind(u.model.as_deref().map(pg_text))
    .bind(i32::try_from(u.prompt_tokens).unwrap_or(i32::MAX))
    .bind(i32::try_from(u.generated_tokens).unwrap_or(i32::MAX))
    .bind(i32::try_from(u.latency_ms).unwrap_or(i32::MAX))
    .bind(i16::try_from(u.status).unwrap_or(i16::MAX))
    .bind(u.at)
    .execute(&mut **tx)
    .await?;
    if let Some(key_id) = u.key_id {
        sqlx::query("UPDATE api_key SET last_used_at = $2 WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)")
            .bind(key_id)
            .bind(u.at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Serialises the writers of each query the batch touches (its rows vs its feedback) until the
/// transaction ends. One statement for the whole batch, taking the locks in one global order, so
/// two workers' batches cannot deadlock over them.
async fn lock_queries(tx: &mut Transaction<'_, Postgres>, writes: &[&DbWrite]) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = writes
        .iter()
        .filter_map(|write| match write {
            DbWrite::Query(query) => Some(query.query_id),
            DbWrite::Feedback(feedback) => Some(feedback.query_id),
            DbWrite::Usage(_) | DbWrite::IndexFiles(_) | DbWrite::Batch(_) => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(key)) FROM \
         (SELECT DISTINCT hashtextextended(id::text, 0) AS key FROM unnest($1::uuid[]) AS id ORDER BY key) AS keys",
    )
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A query's rows. The context and telemetry rows reuse the query id as their own id (one of each
/// per query), which makes every insert naturally idempotent.
async fn write_query(tx: &mut Transaction<'_, Postgres>, q: &QueryRecord) -> Result<(), sqlx::Error> {
    let id = q.query_id;
    if let Some(c) = &q.context {
        sqlx::query("INSERT INTO context (context_id, prefix, suffix, file_name, selected_text) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(pg_text(&c.prefix))
            .bind(pg_text(&c.suffix))
            .bind(c.file_name.as_deref().map(identifying))
            .bind(pg_text_opt(c.selected_text.as_deref()))
            .execute(&mut **tx)
            .await?;
    }
    if let Some(t) = q.contextual.as_ref().map(ContextualRow::within_bounds) {
        sqlx::query(
            "INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, file_path, caret_line, \
             document_char_length, relative_document_position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(t.version_id)
        .bind(t.trigger_type_id)
        .bind(t.language_id)
        .bind(t.file_path.as_deref().map(identifying))
        .bind(t.caret_line)
        .bind(t.document_char_length)
        .bind(t.relative_document_position)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(b) = q.behavioral.as_ref().map(BehavioralRow::within_bounds) {
        sqlx::query(
            "INSERT INTO behavioral_telemetry (behavioral_telemetry_id, time_since_last_shown, time_since_last_accepted, typing_speed) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(b.time_since_last_shown)
        .bind(b.time_since_last_accepted)
        .bind(b.typing_speed)
        .execute(&mut **tx)
        .await?;
    }
    // The server claimed the chat when the turn started; this creates it when the claim is gone
    // (deleted since, or an older server), sets the title of a new one, and attaches the turn only
    // to a chat of the same user and project (no row back: someone else's).
    let mut attach = true;
    if let QueryKind::Chat { chat_id, title, .. } = &q.kind {
        attach = sqlx::query_scalar::<_, bool>(
            "INSERT INTO chat (chat_id, project_id, user_id, title, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chat_id) DO UPDATE SET title = CASE WHEN chat.title = $6 THEN EXCLUDED.title ELSE chat.title END \
             WHERE chat.user_id IS NOT DISTINCT FROM EXCLUDED.user_id AND chat.project_id = EXCLUDED.project_id RETURNING true",
        )
        .bind(chat_id)
        .bind(q.project_id)
        .bind(q.user_id)
        .bind(identifying(title))
        .bind(q.timestamp)
        .bind(UNTITLED_CHAT)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    }
    let query_type = match q.kind {
        QueryKind::Completion => "completion",
        QueryKind::Chat { .. } => "chat",
    };
    // Keys are file names: a NUL would survive as a `\u0000` escape that a `jsonb` reader refuses.
    let indexes = serde_json::to_string(&pg_keys(&q.multi_file_context_changes_indexes)).expect("a map serialises");
    sqlx::query(
        "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, behavioral_telemetry_id, context_id, session_id, project_id, \
         multi_file_context_changes_indexes, \"timestamp\", total_serving_time, server_version_id, query_type, config_id, client, api_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(q.user_id)
    .bind(q.contextual.as_ref().map(|_| id))
    .bind(q.behavioral.as_ref().map(|_| id))
    .bind(q.context.as_ref().map(|_| id))
    .bind(q.session_id)
    .bind(q.project_id)
    .bind(indexes)
    .bind(q.timestamp)
    .bind(q.total_serving_time_ms)
    .bind(q.server_version_id)
    .bind(query_type)
    .bind(q.config_id)
    .bind(q.client.as_str())
    .bind(q.api_key_id)
    .execute(&mut **tx)
    .await?;
    match &q.kind {
        QueryKind::Completion => {
            sqlx::query("INSERT INTO completion_query (meta_query_id) VALUES ($1) ON CONFLICT DO NOTHING").bind(id).execute(&mut **tx).await?;
        }
        QueryKind::Chat { chat_id, .. } if !attach => {
            tracing::warn!(query.id = %id, %chat_id, "a chat turn names a chat another user owns; stored without it");
        }
        QueryKind::Chat { chat_id, web_enabled, user_message, .. } => {
            sqlx::query("INSERT INTO chat_query (meta_query_id, chat_id, web_enabled, user_message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(chat_id)
                .bind(web_enabled)
                .bind(pg_text(user_message))
                .execute(&mut **tx)
                .await?;
        }
    }
    for g in &q.generations {
        sqlx::query(
            "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, provider, \
             queue_wait_ms, first_token_ms) VALUES ($1, $2, $3, $4, ARRAY[$5::timestamptz], FALSE, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(g.model_id)
        .bind(pg_text(&g.completion))
        .bind(g.generation_time_ms)
        .bind(g.shown_at)
        .bind(g.confidence)
        .bind(&g.logprobs)
        .bind(g.provider.as_deref().map(identifying))
        .bind(g.stages.queue_wait_ms.filter(|ms| *ms >= 0))
        .bind(g.stages.first_token_ms.filter(|ms| *ms >= 0))
        .execute(&mut **tx)
        .await?;
    }
    apply_deferred_feedback(tx, &[id]).await
}

/// A `deferred_feedback` row: query, model, acceptance, ground truth, when it came.
type ParkedFeedback = (Uuid, i64, bool, Option<String>, chrono::DateTime<chrono::Utc>);

/// Feedback that arrived before its queries: applied now (each query's in the order it came),
/// then removed.
async fn apply_deferred_feedback(tx: &mut Transaction<'_, Postgres>, query_ids: &[Uuid]) -> Result<(), sqlx::Error> {
    if query_ids.is_empty() {
        return Ok(());
    }
    let mut parked: Vec<ParkedFeedback> = sqlx::query_as(
        "DELETE FROM deferred_feedback WHERE meta_query_id = ANY($1) RETURNING meta_query_id, model_id, was_accepted, ground_truth, received_at",
    )
    .bind(query_ids)
    .fetch_all(&mut **tx)
    .await?;
    parked.sort_by_key(|p| p.4);
    for (query_id, model_id, was_accepted, ground_truth, received_at) in parked {
        apply_feedback(tx, &FeedbackRecord { query_id, model_id, was_accepted, ground_truth, received_at }).await?;
    }
    Ok(())
}

async fn write_feedback(tx: &mut Transaction<'_, Postgres>, f: &FeedbackRecord) -> Result<(), sqlx::Error> {
    if !apply_feedback(tx, f).await? {
        sqlx::query(
            "INSERT INTO deferred_feedback (meta_query_id, model_id, was_accepted, ground_truth, received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(f.query_id)
        .bind(f.model_id)
        .bind(f.was_accepted)
        .bind(pg_text_opt(f.ground_truth.as_deref()))
        .bind(f.received_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Sets acceptance (and when it first happened) and records the ground truth, scored for how much
/// of the completion it still holds; `false` when the generation is not stored yet.
async fn apply_feedback(tx: &mut Transaction<'_, Postgres>, f: &FeedbackRecord) -> Result<bool, sqlx::Error> {
    let completion: Option<String> = sqlx::query_scalar(
        "UPDATE had_generation SET was_accepted = $3, accepted_at = CASE WHEN $3 THEN coalesce(accepted_at, $4) END \
         WHERE meta_query_id = $1 AND model_id = $2 RETURNING completion",
    )
    .bind(f.query_id)
    .bind(f.model_id)
    .bind(f.was_accepted)
    .bind(f.received_at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(completion) = completion else {
        return Ok(false);
    };
    if let Some(truth) = &f.ground_truth {
        sqlx::query(
            "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth, model_id, similarity) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(f.query_id)
        .bind(f.received_at)
        .bind(pg_text(truth))
        .bind(f.model_id)
        .bind(edit_similarity_within(&completion, truth))
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn feedback(query_id: Uuid, was_accepted: bool) -> DbWrite {
        DbWrite::Feedback(FeedbackRecord { query_id, model_id: 1, was_accepted, ground_truth: None, received_at: Utc::now() })
    }

    #[test]
    fn a_querys_writes_share_one_writer_and_queries_spread_over_all_of_them() {
        let mut per_writer = [0usize; WRITERS];
        for _ in 0..2_000 {
            let query_id = Uuid::new_v4();
            let writer = BatchWriter::shard(&feedback(query_id, true));
            assert_eq!(BatchWriter::shard(&feedback(query_id, false)), writer, "a second word on the query follows its first");
            per_writer[writer] += 1;
        }
        assert!(per_writer.iter().all(|&n| n > 2_000 / WRITERS / 2), "{per_writer:?}");
    }
}
