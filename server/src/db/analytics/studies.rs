//! The studies' reads: each arm's assigned users and how many of them queried, and each arm's
//! usage over the queries it served (its exposure: `meta_query.config_id`) during the study, and
//! each participant's own counts for the user-level statistics.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// An arm's assigned users.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ArmAssignment {
    /// The arm's config.
    pub config_id: i64,
    /// Users assigned to it (never 0: arms come from assignments).
    pub user_count: i64,
    /// Of them, users who queried during the study.
    pub engaged: i64,
}

/// Per arm of `study_id` with assigned users, by config id: the users and how many queried
/// between the study's start and its end (or now).
pub async fn assignments(db: impl PgExecutor<'_>, study_id: Uuid) -> sqlx::Result<Vec<ArmAssignment>> {
    sqlx::query_as(
        "SELECT h.assigned_config_id AS config_id, count(*)::bigint AS user_count, \
                (count(*) FILTER (WHERE EXISTS (SELECT 1 FROM meta_query mq WHERE mq.user_id = h.user_id \
                     AND mq.\"timestamp\" >= s.starts_at AND mq.\"timestamp\" <= coalesce(s.ends_at, now()))))::bigint AS engaged \
         FROM config_assignment_history h JOIN study s ON s.study_id = h.study_id WHERE h.study_id = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(study_id)
    .fetch_all(db)
    .await
}

/// One arm's usage during a study; times in ms, averages `None` without rows to average.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ArmUsage {
    /// The arm's config.
    pub config_id: i64,
    /// Users assigned to it.
    pub total_users: i64,
    /// Of them, users it served a query.
    pub active_users: i64,
    /// Queries it served.
    pub total_queries: i64,
    /// Completion generations.
    pub total_generations: i64,
    /// Completion generations accepted.
    pub total_accepted: i64,
    /// Mean generation time.
    pub avg_generation_time: Option<f64>,
    /// Mean confidence of completion generations.
    pub avg_confidence: Option<f64>,
    /// Distinct sessions.
    pub total_sessions: i64,
    /// Mean time the server took per query.
    pub avg_serving_time: Option<f64>,
}

/// Per arm of `study_id`, by config id, over the queries each served its participants between
/// `starts_at` and `ends_at` (or now).
pub async fn arm_usage(
    db: impl PgExecutor<'_>,
    study_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<ArmUsage>> {
    sqlx::query_as(
        "WITH arms AS (SELECT config_id FROM study_config WHERE study_id = $1), \
              members AS (SELECT user_id, assigned_config_id FROM config_assignment_history WHERE study_id = $1), \
              served AS (SELECT mq.* FROM meta_query mq JOIN members m ON m.user_id = mq.user_id AND m.assigned_config_id = mq.config_id \
                         WHERE mq.\"timestamp\" >= $2 AND mq.\"timestamp\" <= coalesce($3, now())) \
         SELECT a.config_id, \
                (SELECT count(*) FROM members m WHERE m.assigned_config_id = a.config_id)::bigint AS total_users, \
                (SELECT count(DISTINCT user_id) FROM served s WHERE s.config_id = a.config_id)::bigint AS active_users, \
                (SELECT count(*) FROM served s WHERE s.config_id = a.config_id)::bigint AS total_queries, \
                (SELECT count(*) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id \
                  WHERE s.config_id = a.config_id AND s.query_type = 'completion')::bigint AS total_generations, \
                (SELECT count(*) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id \
                  WHERE s.config_id = a.config_id AND s.query_type = 'completion' AND hg.was_accepted)::bigint AS total_accepted, \
                (SELECT avg(hg.generation_time)::float8 FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id \
                  WHERE s.config_id = a.config_id) AS avg_generation_time, \
                (SELECT avg(hg.confidence) FROM served s JOIN had_generation hg ON hg.meta_query_id = s.meta_query_id \
                  WHERE s.config_id = a.config_id AND s.query_type = 'completion') AS avg_confidence, \
                (SELECT count(DISTINCT session_id) FROM served s WHERE s.config_id = a.config_id)::bigint AS total_sessions, \
                (SELECT avg(total_serving_time)::float8 FROM served s WHERE s.config_id = a.config_id) AS avg_serving_time \
         FROM arms a ORDER BY a.config_id",
    )
    .bind(study_id)
    .bind(starts_at)
    .bind(ends_at)
    .fetch_all(db)
    .await
}

/// One participant's completion generations in a study: those their arm served them during the
/// study, and all of theirs in the pre-period before it (the CUPED covariate).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ParticipantCounts {
    /// Their arm.
    pub config_id: i64,
    /// Generations their arm served them during the study.
    pub generations: i64,
    /// Of them, accepted.
    pub accepted: i64,
    /// Their generations between `pre_start` and the study's start, under any config.
    pub pre_generations: i64,
    /// Of them, accepted.
    pub pre_accepted: i64,
}

/// Per participant of `study_id` (every assigned user, with zeros when they did nothing), ordered by
/// arm: their counts during [`starts_at`, `ends_at` or now] and during [`pre_start`, `starts_at`).
pub async fn participant_counts(
    db: impl PgExecutor<'_>,
    study_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    pre_start: DateTime<Utc>,
) -> sqlx::Result<Vec<ParticipantCounts>> {
    sqlx::query_as(
        "SELECT h.assigned_config_id AS config_id, d.generations, d.accepted, p.generations AS pre_generations, p.accepted AS pre_accepted \
         FROM config_assignment_history h \
         CROSS JOIN LATERAL (SELECT count(*)::bigint AS generations, (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted \
                             FROM meta_query mq JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
                             WHERE mq.user_id = h.user_id AND mq.config_id = h.assigned_config_id AND mq.query_type = 'completion' \
                               AND mq.\"timestamp\" >= $2 AND mq.\"timestamp\" <= coalesce($3, now())) d \
         CROSS JOIN LATERAL (SELECT count(*)::bigint AS generations, (count(*) FILTER (WHERE hg.was_accepted))::bigint AS accepted \
                             FROM meta_query mq JOIN had_generation hg ON hg.meta_query_id = mq.meta_query_id \
                             WHERE mq.user_id = h.user_id AND mq.query_type = 'completion' \
                               AND mq.\"timestamp\" >= $4 AND mq.\"timestamp\" < $2) p \
         WHERE h.study_id = $1 ORDER BY h.assigned_config_id",
    )
    .bind(study_id)
    .bind(starts_at)
    .bind(ends_at)
    .bind(pre_start)
    .fetch_all(db)
    .await
}
