//! The research exports' reads, streamed row by row (a million generations are never held in
//! memory). Consent is applied here, in the statements: a user's current `preference` decides what
//! of theirs leaves — code (the completion text) only with `store_context`, contextual telemetry
//! unless `store_contextual_telemetry` is false, behavioural telemetry unless
//! `store_behavioral_telemetry` is false (the contract's defaults). Rows stored under a request's
//! own `store_*` flags were never written in the first place. User and session ids come out raw and
//! are pseudonymised by the caller.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::PgPool;
use uuid::Uuid;

/// A user's consent flags as columns `consent.context`, `consent.contextual`, `consent.behavioral`
/// (joined after `"user" u`; a preference that is not a JSON object means the defaults).
macro_rules! with_consent {
    () => {
        "CROSS JOIN LATERAL (SELECT CASE WHEN pg_input_is_valid(u.preference, 'jsonb') THEN u.preference::jsonb END AS p) pref \
         CROSS JOIN LATERAL (SELECT coalesce(pref.p -> 'store_context' = 'true'::jsonb, FALSE) AS context, \
                                    coalesce(pref.p -> 'store_contextual_telemetry' <> 'false'::jsonb, TRUE) AS contextual, \
                                    coalesce(pref.p -> 'store_behavioral_telemetry' <> 'false'::jsonb, TRUE) AS behavioral) consent"
    };
}

/// One generation as exported.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GenerationExport {
    /// The query.
    pub meta_query_id: Uuid,
    /// Its user; `None` when the account is gone.
    pub user_id: Option<Uuid>,
    /// Its session; `None` for open-API queries.
    pub session_id: Option<Uuid>,
    /// When it was asked.
    pub query_time: DateTime<Utc>,
    /// Which door it came through.
    pub client: String,
    /// The model.
    pub model_name: String,
    /// The config that served it.
    pub config_id: Option<i64>,
    /// The editor's language (contextual consent).
    pub language: Option<String>,
    /// What triggered it (contextual consent).
    pub trigger_type: Option<String>,
    /// The completion's text (context consent).
    pub completion: Option<String>,
    /// Its length in characters.
    pub completion_chars: i32,
    /// Tokens generated.
    pub completion_tokens: i32,
    /// Model time, ms.
    pub generation_time_ms: i32,
    /// Server time for the whole query, ms.
    pub total_serving_time_ms: Option<i32>,
    /// Mean token probability.
    pub confidence: f64,
    /// Whether it was shown (non-empty, with a shown time).
    pub shown: bool,
    /// Whether it was accepted.
    pub was_accepted: bool,
    /// When it was first accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Who answered: `local` or a configured provider.
    pub provider: Option<String>,
}

/// Every generation whose query falls in `[start, end]`, in time order.
pub fn generations(db: &PgPool, start: DateTime<Utc>, end: DateTime<Utc>) -> BoxStream<'_, sqlx::Result<GenerationExport>> {
    const SQL: &str = concat!(
        "SELECT hg.meta_query_id, hg.user_id, mq.session_id, hg.query_timestamp AS query_time, mq.client, m.model_name, mq.config_id, \
                CASE WHEN consent.contextual THEN pl.language_name END AS language, \
                CASE WHEN consent.contextual THEN tt.trigger_type_name END AS trigger_type, \
                CASE WHEN consent.context THEN hg.completion END AS completion, \
                char_length(hg.completion) AS completion_chars, coalesce(cardinality(hg.logprobs), 0) AS completion_tokens, \
                hg.generation_time AS generation_time_ms, mq.total_serving_time AS total_serving_time_ms, hg.confidence, \
                (hg.completion <> '' AND coalesce(cardinality(hg.shown_at), 0) > 0) AS shown, hg.was_accepted, hg.accepted_at, hg.provider \
         FROM had_generation hg JOIN meta_query mq ON mq.meta_query_id = hg.meta_query_id JOIN model_name m ON m.model_id = hg.model_id \
         LEFT JOIN \"user\" u ON u.user_id = hg.user_id ",
        with_consent!(),
        " LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         LEFT JOIN programming_language pl ON pl.language_id = ct.language_id \
         LEFT JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         WHERE hg.query_timestamp BETWEEN $1 AND $2 ORDER BY hg.query_timestamp, hg.meta_query_id, hg.model_id"
    );
    sqlx::query_as(SQL).bind(start).bind(end).fetch(db)
}

/// One query as exported.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueryExport {
    /// The query.
    pub meta_query_id: Uuid,
    /// Its user; `None` when the account is gone.
    pub user_id: Option<Uuid>,
    /// Its session.
    pub session_id: Option<Uuid>,
    /// When it was asked.
    pub query_time: DateTime<Utc>,
    /// `completion` or `chat`.
    pub query_type: String,
    /// Which door it came through.
    pub client: String,
    /// The config that served it.
    pub config_id: Option<i64>,
    /// Server time, ms.
    pub total_serving_time_ms: Option<i32>,
    /// The plugin's version (contextual consent).
    pub plugin_version: Option<String>,
    /// The editor's language (contextual consent).
    pub language: Option<String>,
    /// What triggered it (contextual consent).
    pub trigger_type: Option<String>,
    /// Caret line (contextual consent).
    pub caret_line: Option<i32>,
    /// Document length (contextual consent).
    pub document_char_length: Option<i32>,
    /// Caret position in the document, 0..1 (contextual consent).
    pub relative_document_position: Option<f64>,
    /// ms since a completion was last shown (behavioural consent).
    pub time_since_last_shown_ms: Option<i64>,
    /// ms since a completion was last accepted (behavioural consent).
    pub time_since_last_accepted_ms: Option<i64>,
    /// Typing speed (behavioural consent).
    pub typing_speed: Option<f64>,
    /// Generations it had.
    pub generations: i64,
    /// Whether any was accepted.
    pub accepted: bool,
}

/// Every query in `[start, end]`, in time order.
pub fn queries(db: &PgPool, start: DateTime<Utc>, end: DateTime<Utc>) -> BoxStream<'_, sqlx::Result<QueryExport>> {
    const SQL: &str = concat!(
        "SELECT mq.meta_query_id, mq.user_id, mq.session_id, mq.\"timestamp\" AS query_time, mq.query_type, mq.client, mq.config_id, \
                mq.total_serving_time AS total_serving_time_ms, \
                CASE WHEN consent.contextual THEN pv.version_name END AS plugin_version, \
                CASE WHEN consent.contextual THEN pl.language_name END AS language, \
                CASE WHEN consent.contextual THEN tt.trigger_type_name END AS trigger_type, \
                CASE WHEN consent.contextual THEN ct.caret_line END AS caret_line, \
                CASE WHEN consent.contextual THEN ct.document_char_length END AS document_char_length, \
                CASE WHEN consent.contextual THEN ct.relative_document_position END AS relative_document_position, \
                CASE WHEN consent.behavioral THEN bt.time_since_last_shown END AS time_since_last_shown_ms, \
                CASE WHEN consent.behavioral THEN bt.time_since_last_accepted END AS time_since_last_accepted_ms, \
                CASE WHEN consent.behavioral THEN bt.typing_speed END AS typing_speed, \
                g.generations, g.accepted \
         FROM meta_query mq LEFT JOIN \"user\" u ON u.user_id = mq.user_id ",
        with_consent!(),
        " LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id \
         LEFT JOIN plugin_version pv ON pv.version_id = ct.version_id \
         LEFT JOIN programming_language pl ON pl.language_id = ct.language_id \
         LEFT JOIN trigger_type tt ON tt.trigger_type_id = ct.trigger_type_id \
         LEFT JOIN behavioral_telemetry bt ON bt.behavioral_telemetry_id = mq.behavioral_telemetry_id \
         CROSS JOIN LATERAL (SELECT count(*)::bigint AS generations, coalesce(bool_or(hg.was_accepted), FALSE) AS accepted \
                             FROM had_generation hg WHERE hg.meta_query_id = mq.meta_query_id) g \
         WHERE mq.\"timestamp\" BETWEEN $1 AND $2 ORDER BY mq.\"timestamp\", mq.meta_query_id"
    );
    sqlx::query_as(SQL).bind(start).bind(end).fetch(db)
}

/// One study participant as exported: assignment, exposure and the per-user aggregates.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantExport {
    /// The study.
    pub study_id: Uuid,
    /// Its name.
    pub study_name: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends (`None`: open-ended).
    pub ends_at: Option<DateTime<Utc>>,
    /// The participant.
    pub user_id: Uuid,
    /// Their arm.
    pub arm_config_id: i64,
    /// Whether their arm is the baseline.
    pub is_baseline: bool,
    /// When they were assigned.
    pub assigned_at: DateTime<Utc>,
    /// Queries their arm served them during the study (their exposure).
    pub exposed_queries: i64,
    /// Completion generations among them.
    pub generations: i64,
    /// Of them, accepted.
    pub accepted: i64,
    /// Their completion generations in the pre-period, under any config.
    pub pre_generations: i64,
    /// Of them, accepted.
    pub pre_accepted: i64,
}

/// Every participant of the studies running at some time in `[start, end]`, with their
/// pre-period of `pre_days` days before each study's start.
pub fn participants(db: &PgPool, start: DateTime<Utc>, end: DateTime<Utc>, pre_days: i32) -> BoxStream<'_, sqlx::Result<ParticipantExport>> {
    sqlx::query_as(
        "SELECT s.study_id, s.name AS study_name, s.starts_at, s.ends_at, h.user_id, h.assigned_config_id AS arm_config_id, \
                h.assigned_config_id = s.default_config_id AS is_baseline, h.assigned_at, \
                d.queries AS exposed_queries, d.generations, d.accepted, p.generations AS pre_generations, p.accepted AS pre_accepted \
         FROM config_assignment_history h JOIN study s ON s.study_id = h.study_id \
         CROSS JOIN LATERAL (SELECT count(DISTINCT mq.meta_query_id)::bigint AS queries, \
                                    (count(hg.meta_query_id) FILTER (WHERE mq.query_type = 'completion'))::bigint AS generations, \
                                    (count(hg.meta_query_id) FILTER (WHERE mq.query_type = 'completion' AND hg.was_accepted))::bigint AS accepted \
                             FROM meta_query mq LEFT JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
                             WHERE mq.user_id = h.user_id AND mq.config_id = h.assigned_config_id \
                               AND mq.\"timestamp\" >= s.starts_at AND mq.\"timestamp\" <= coalesce(s.ends_at, now())) d \
         CROSS JOIN LATERAL (SELECT count(*)::bigint AS generations, (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted \
                             FROM meta_query mq JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
                             WHERE mq.user_id = h.user_id AND mq.query_type = 'completion' \
                               AND mq.\"timestamp\" >= s.starts_at - make_interval(days => $3) AND mq.\"timestamp\" < s.starts_at) p \
         WHERE s.starts_at <= $2 AND coalesce(s.ends_at, now()) >= $1 \
         ORDER BY s.starts_at, s.study_id, h.assigned_config_id, h.assigned_at",
    )
    .bind(start)
    .bind(end)
    .bind(pre_days)
    .fetch(db)
}
