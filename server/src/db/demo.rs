//! The bulk inserts of the demo data (`code4me-server demo-data`; the data itself is drawn in
//! [`crate::services::demo`]): whole columns at a time through `UNNEST`, in one transaction.

// The row structs are plain columns; each field is named after the column it fills.
#![allow(missing_docs)]

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Rows are inserted this many at a time.
const BATCH: usize = 20_000;

/// Everything to insert, column by column.
#[derive(Default)]
pub struct DemoRows {
    pub projects: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    pub sessions: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    pub queries: Vec<DemoQuery>,
    pub generations: Vec<DemoGeneration>,
    /// Ground truths of accepted completions.
    pub truths: Vec<DemoTruth>,
    /// (chat, project, user, title, time)
    pub chats: Vec<(Uuid, Uuid, Uuid, String, DateTime<Utc>)>,
}

/// Seconds between a demo query and the acceptance of its completion.
pub const ACCEPTED_AFTER_SECONDS: i64 = 2;

/// The longest queue wait of a demo generation (they wait 1 ms to this many).
pub const QUEUE_WAIT_MAX_MS: i32 = 6;

/// A ground truth sent after an accepted completion.
pub struct DemoTruth {
    /// The completion query.
    pub query: Uuid,
    /// The accepted model.
    pub model: i64,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The text around the completion.
    pub text: String,
    /// How much of the completion it still holds (`shared::survival`).
    pub similarity: f64,
}

/// One query with its contextual and behavioural telemetry.
pub struct DemoQuery {
    pub id: Uuid,
    pub user: Uuid,
    pub session: Uuid,
    pub project: Uuid,
    pub at: DateTime<Utc>,
    pub serving_ms: i32,
    pub is_chat: bool,
    pub config_id: i64,
    pub trigger: i64,
    pub language: i64,
    pub document_length: i32,
    pub position: f64,
    pub typing_speed: f64,
}

/// One model's answer to a query.
pub struct DemoGeneration {
    pub query: Uuid,
    pub model: i64,
    pub text: String,
    pub ms: i32,
    pub at: DateTime<Utc>,
    pub accepted: bool,
    pub confidence: f64,
}

impl DemoRows {
    /// Inserts every row, in batches, inside the caller's transaction.
    pub async fn insert(self, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> sqlx::Result<()> {
        let (ids, users, times): (Vec<Uuid>, Vec<Uuid>, Vec<DateTime<Utc>>) = unzip3(&self.projects);
        sqlx::query("INSERT INTO project (project_id, project_name, created_at) SELECT p, 'demo project', t FROM UNNEST($1::uuid[], $2::timestamptz[]) AS x(p, t)")
            .bind(&ids)
            .bind(&times)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO project_users (project_id, user_id, joined_at) SELECT p, u, t FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) AS x(p, u, t)")
            .bind(&ids)
            .bind(&users)
            .bind(&times)
            .execute(&mut **tx)
            .await?;
        let (ids, users, times) = unzip3(&self.sessions);
        sqlx::query("INSERT INTO session (session_id, user_id, start_time, end_time) SELECT s, u, t, t + interval '9 hours' FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) AS x(s, u, t)")
            .bind(&ids)
            .bind(&users)
            .bind(&times)
            .execute(&mut **tx)
            .await?;
        for batch in self.queries.chunks(BATCH) {
            let ids: Vec<Uuid> = batch.iter().map(|q| q.id).collect();
            sqlx::query(
                "WITH x AS (SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::int[], $5::float8[], $6::float8[]) AS x(id, t, l, len, pos, speed)), \
                 c AS (INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, document_char_length, relative_document_position) \
                       SELECT id, 3, t, l, len, pos FROM x) \
                 INSERT INTO behavioral_telemetry (behavioral_telemetry_id, time_since_last_shown, time_since_last_accepted, typing_speed) \
                 SELECT id, 4000, 30000, speed FROM x",
            )
            .bind(&ids)
            .bind(batch.iter().map(|q| q.trigger).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.language).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.document_length).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.position).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.typing_speed).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, behavioral_telemetry_id, session_id, project_id, \"timestamp\", total_serving_time, server_version_id, query_type, config_id) \
                 SELECT id, u, id, id, s, p, t, ms, 1, CASE WHEN chat THEN 'chat' ELSE 'completion' END, c \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::int[], $7::bool[], $8::bigint[]) AS x(id, u, s, p, t, ms, chat, c)",
            )
            .bind(&ids)
            .bind(batch.iter().map(|q| q.user).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.session).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.project).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.at).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.serving_ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.is_chat).collect::<Vec<_>>())
            .bind(batch.iter().map(|q| q.config_id).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
            let completions: Vec<Uuid> = batch.iter().filter(|q| !q.is_chat).map(|q| q.id).collect();
            sqlx::query("INSERT INTO completion_query (meta_query_id) SELECT UNNEST($1::uuid[])").bind(&completions).execute(&mut **tx).await?;
        }
        let chat_queries: Vec<Uuid> = self.queries.iter().filter(|q| q.is_chat).map(|q| q.id).collect();
        sqlx::query(
            "INSERT INTO chat (chat_id, project_id, user_id, title, created_at) SELECT c, p, u, t, at \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[]) AS x(c, p, u, t, at)",
        )
        .bind(self.chats.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(self.chats.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(self.chats.iter().map(|c| c.2).collect::<Vec<_>>())
        .bind(self.chats.iter().map(|c| c.3.clone()).collect::<Vec<_>>())
        .bind(self.chats.iter().map(|c| c.4).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO chat_query (meta_query_id, chat_id, web_enabled) SELECT q, c, FALSE FROM UNNEST($1::uuid[], $2::uuid[]) AS x(q, c)")
            .bind(&chat_queries)
            .bind(self.chats.iter().map(|c| c.0).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        for batch in self.generations.chunks(BATCH) {
            sqlx::query(
                "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, accepted_at, \
                                             queue_wait_ms, first_token_ms) \
                 SELECT q, m, c, ms, ARRAY[t], a, conf, ARRAY[ln(conf)], CASE WHEN a THEN t + make_interval(secs => $8) END, \
                        1 + abs(hashtext(q::text)) % $9, (ms * 0.35)::int \
                 FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[], $6::bool[], $7::float8[]) AS x(q, m, c, ms, t, a, conf)",
            )
            .bind(batch.iter().map(|g| g.query).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.model).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.text.clone()).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.at).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.accepted).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.confidence).collect::<Vec<_>>())
            .bind(ACCEPTED_AFTER_SECONDS as f64)
            .bind(QUEUE_WAIT_MAX_MS)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth, model_id, similarity) SELECT q, t, g, m, s \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[], $5::float8[]) AS x(q, t, g, m, s) ON CONFLICT DO NOTHING",
        )
        .bind(self.truths.iter().map(|t| t.query).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.at).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.text.clone()).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.model).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.similarity).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

fn unzip3(rows: &[(Uuid, Uuid, DateTime<Utc>)]) -> (Vec<Uuid>, Vec<Uuid>, Vec<DateTime<Utc>>) {
    (rows.iter().map(|r| r.0).collect(), rows.iter().map(|r| r.1).collect(), rows.iter().map(|r| r.2).collect())
}

/// Queries already stored (demo data only goes into a fresh install).
pub async fn query_count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM meta_query").fetch_one(db).await
}

/// The ids of the languages with these names, by id.
pub async fn language_ids(db: &PgPool, names: &[&str]) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT language_id FROM programming_language WHERE language_name = ANY($1) ORDER BY language_id")
        .bind(names)
        .fetch_all(db)
        .await
}

/// A copy of config 1 with retrieval off (the study's second arm); returns its id.
pub async fn insert_config_without_retrieval(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO config (config_data) SELECT config_data || E'\\nconfig { retrieval { enabled = false } }\\n' FROM config WHERE config_id = 1 RETURNING config_id",
    )
    .fetch_one(&mut **tx)
    .await
}

/// Verified demo users on config 1, all with the same password hash.
pub async fn insert_users(
    tx: &mut Transaction<'_, Postgres>,
    users: &[Uuid],
    joined: &[DateTime<Utc>],
    emails: &[String],
    names: &[String],
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO \"user\" (user_id, joined_at, email, name, password, is_oauth_signup, verified, config_id, is_admin) \
         SELECT u, j, e, n, $5, FALSE, TRUE, 1, FALSE FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) AS x(u, j, e, n)",
    )
    .bind(users)
    .bind(joined)
    .bind(emails)
    .bind(names)
    .bind(password_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The finished study "Retrieval context": config 1 against `variant`.
pub async fn insert_finished_study(
    tx: &mut Transaction<'_, Postgres>,
    study: Uuid,
    created_by: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    variant: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO study (study_id, name, description, created_by, starts_at, ends_at, is_active, default_config_id) VALUES ($1, 'Retrieval context', 'Does retrieval raise acceptance?', $2, $3, $4, FALSE, 1)")
        .bind(study)
        .bind(created_by)
        .bind(starts_at)
        .bind(ends_at)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO study_config (study_id, config_id) VALUES ($1, 1), ($1, $2)").bind(study).bind(variant).execute(&mut **tx).await?;
    Ok(())
}

/// Each user's arm in the study, assigned at `at`.
pub async fn insert_assignments(
    tx: &mut Transaction<'_, Postgres>,
    users: &[Uuid],
    study: Uuid,
    at: DateTime<Utc>,
    arms: &[i64],
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO config_assignment_history (user_id, study_id, assigned_config_id, assigned_at) SELECT u, $2, c, $3 FROM UNNEST($1::uuid[], $4::bigint[]) AS x(u, c)")
        .bind(users)
        .bind(study)
        .bind(at)
        .bind(arms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
