//! Demo data: fills a fresh install with realistic telemetry so the dashboard shows something real
//! (`code4me-server demo-data`, offered by `./run.sh` on an empty database).
//!
//! Users with sessions and projects, `days` days of completion and chat queries across languages
//! and trigger types on weekdays' working hours, generations of two models whose acceptance rises
//! with confidence (model 5 a little over-confident, model 1 about calibrated), ground truth for
//! part of the accepted ones, and a finished study (config 1 against a copy with retrieval off)
//! whose participants' queries log their arm. Seeded: the same options give the same data.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

use crate::services::auth::password::PasswordHasher;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Users to create.
    pub users: usize,
    /// Days of history, ending now.
    pub days: i64,
    /// Mean queries per user on a day they work.
    pub queries_per_day: usize,
    /// Random seed.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { users: 40, days: 30, queries_per_day: 25, seed: 7 }
    }
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Users created.
    pub users: usize,
    /// Queries (completion and chat).
    pub queries: usize,
    /// `had_generation` rows.
    pub generations: usize,
    /// Ground truths.
    pub ground_truths: usize,
}

/// The password every demo user has (printed by the CLI).
pub const DEMO_PASSWORD: &str = "DemoUser1";

/// Rows are inserted this many at a time.
const BATCH: usize = 20_000;

/// Fills the database; refuses when it already holds telemetry (demo data is for a fresh install).
pub async fn fill(db: &PgPool, hasher: &PasswordHasher, options: DemoOptions) -> anyhow::Result<DemoSummary> {
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM meta_query").fetch_one(db).await?;
    anyhow::ensure!(existing == 0, "the database already holds {existing} queries; demo data is only added to a fresh install");
    let mut rng = StdRng::seed_from_u64(options.seed);
    let now = Utc::now();
    let start = now - Duration::days(options.days);
    let password = hasher.hash(DEMO_PASSWORD).await?;
    let languages: Vec<i64> = sqlx::query_scalar(
        "SELECT language_id FROM programming_language WHERE language_name IN ('Python', 'Java', 'JavaScript', 'TypeScript', 'Rust', 'Go', 'Kotlin', 'C++') ORDER BY language_id",
    )
    .fetch_all(db)
    .await?;
    anyhow::ensure!(!languages.is_empty(), "the language table is empty; run the migrations first");

    let mut tx = db.begin().await?;
    let variant: i64 = sqlx::query_scalar(
        "INSERT INTO config (config_data) SELECT config_data || E'\\nconfig { retrieval { enabled = false } }\\n' FROM config WHERE config_id = 1 RETURNING config_id",
    )
    .fetch_one(&mut *tx)
    .await?;
    let users: Vec<Uuid> = (0..options.users).map(|_| uuid_from(&mut rng)).collect();
    let emails: Vec<String> = (0..options.users).map(|i| format!("demo-user-{:03}@example.com", i + 1)).collect();
    let names: Vec<String> = (0..options.users).map(|i| format!("Demo User {}", i + 1)).collect();
    let joined: Vec<DateTime<Utc>> = users.iter().map(|_| start - Duration::days(rng.random_range(1..60))).collect();
    sqlx::query(
        "INSERT INTO \"user\" (user_id, joined_at, email, name, password, is_oauth_signup, verified, config_id, is_admin) \
         SELECT u, j, e, n, $5, FALSE, TRUE, 1, FALSE FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) AS x(u, j, e, n)",
    )
    .bind(&users)
    .bind(&joined)
    .bind(&emails)
    .bind(&names)
    .bind(&password)
    .execute(&mut *tx)
    .await?;

    // The finished study: from two thirds of the way back to one sixth, half the users on each arm.
    let (study_start, study_end) = (now - Duration::days(options.days * 2 / 3), now - Duration::days(options.days / 6));
    let study = uuid_from(&mut rng);
    sqlx::query("INSERT INTO study (study_id, name, description, created_by, starts_at, ends_at, is_active, default_config_id) VALUES ($1, 'Retrieval context', 'Does retrieval raise acceptance?', $2, $3, $4, FALSE, 1)")
        .bind(study)
        .bind(users[0])
        .bind(study_start)
        .bind(study_end)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO study_config (study_id, config_id) VALUES ($1, 1), ($1, $2)").bind(study).bind(variant).execute(&mut *tx).await?;
    let arms: Vec<i64> = users.iter().enumerate().map(|(i, _)| if i % 2 == 0 { 1 } else { variant }).collect();
    sqlx::query("INSERT INTO config_assignment_history (user_id, study_id, assigned_config_id, assigned_at) SELECT u, $2, c, $3 FROM UNNEST($1::uuid[], $4::bigint[]) AS x(u, c)")
        .bind(&users)
        .bind(study)
        .bind(study_start)
        .bind(&arms)
        .execute(&mut *tx)
        .await?;

    let mut rows = Rows::default();
    for (index, user) in users.iter().enumerate() {
        let project = uuid_from(&mut rng);
        rows.projects.push((project, *user, joined[index]));
        let diligence = rng.random_range(0.4..0.9);
        for day in 0..options.days {
            let date = start + Duration::days(day);
            if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || !rng.random_bool(diligence) {
                continue;
            }
            let session = uuid_from(&mut rng);
            let day_start = date.with_hour(8).unwrap_or(date) + Duration::minutes(rng.random_range(0..120));
            rows.sessions.push((session, *user, day_start));
            let count = rng.random_range(options.queries_per_day / 2..=options.queries_per_day * 3 / 2);
            for _ in 0..count {
                let at = day_start + Duration::seconds(rng.random_range(0..9 * 3600));
                if at > now {
                    continue;
                }
                let config = if at >= study_start && at <= study_end { arms[index] } else { 1 };
                rows.query(&mut rng, *user, session, project, at, config, &languages, variant);
            }
        }
    }
    let summary =
        DemoSummary { users: users.len(), queries: rows.queries.len(), generations: rows.generations.len(), ground_truths: rows.truths.len() };
    rows.insert(&mut tx).await?;
    tx.commit().await?;
    Ok(summary)
}

fn uuid_from(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// A rough bell in [0.05, 0.98]: the mean of three uniforms, stretched.
fn confidence(rng: &mut StdRng) -> f64 {
    let mean = (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>()) / 3.0;
    (0.05 + 0.93 * mean).clamp(0.05, 0.98)
}

/// Everything to insert, column by column.
#[derive(Default)]
struct Rows {
    projects: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    sessions: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    queries: Vec<Query>,
    generations: Vec<Generation>,
    /// (query, time, text)
    truths: Vec<(Uuid, DateTime<Utc>, String)>,
    /// (chat, project, user, title, time)
    chats: Vec<(Uuid, Uuid, Uuid, String, DateTime<Utc>)>,
}

/// One query with its contextual and behavioural telemetry.
struct Query {
    id: Uuid,
    user: Uuid,
    session: Uuid,
    project: Uuid,
    at: DateTime<Utc>,
    serving_ms: i32,
    is_chat: bool,
    config_id: i64,
    trigger: i64,
    language: i64,
    document_length: i32,
    position: f64,
    typing_speed: f64,
}

/// One model's answer to a query.
struct Generation {
    query: Uuid,
    model: i64,
    text: String,
    ms: i32,
    at: DateTime<Utc>,
    accepted: bool,
    confidence: f64,
}

const SNIPPETS: &[&str] = &[
    "return result",
    "for item in items:",
    "if err != nil {",
    "self.cache.get(key)",
    "await client.fetch(url)",
    "i += 1",
    "});",
    "println!(\"{}\", value);",
];

impl Rows {
    #[allow(clippy::too_many_arguments)]
    fn query(&mut self, rng: &mut StdRng, user: Uuid, session: Uuid, project: Uuid, at: DateTime<Utc>, config: i64, languages: &[i64], variant: i64) {
        let id = uuid_from(rng);
        let is_chat = rng.random_bool(0.12);
        let trigger = *[1, 2, 2, 2, 3].get(rng.random_range(0..5)).expect("in range");
        let language = languages[rng.random_range(0..languages.len())];
        let serving = rng.random_range(120..900);
        self.queries.push(Query {
            id,
            user,
            session,
            project,
            at,
            serving_ms: serving,
            is_chat,
            config_id: config,
            trigger,
            language,
            document_length: rng.random_range(200..60_000),
            position: rng.random(),
            typing_speed: rng.random_range(1.0..9.0),
        });
        if is_chat {
            let chat = uuid_from(rng);
            self.chats.push((chat, project, user, "How do I write this?".into(), at));
            let (ms, c) = (rng.random_range(400..2_500), confidence(rng));
            self.generations.push(Generation {
                query: id,
                model: 5,
                text: "You can use a list comprehension.".into(),
                ms,
                at,
                accepted: false,
                confidence: c,
            });
            // chat_query rows are derived from `chats` in insertion order.
            return;
        }
        // Model 5 answers every completion; model 1 a third of them. Retrieval (config 1) helps a little.
        let boost = if config == variant { 0.0 } else { 0.04 };
        for (model, share, calibration, time) in [(5_i64, 1.0, 0.85, (90, 320)), (1, 0.33, 1.0, (250, 700))] {
            if !rng.random_bool(share) {
                continue;
            }
            let c = confidence(rng);
            let accepted = rng.random_bool((c * calibration + boost).clamp(0.0, 1.0));
            let text = SNIPPETS[rng.random_range(0..SNIPPETS.len())].to_owned();
            if accepted && rng.random_bool(0.3) {
                let truth = if rng.random_bool(0.6) { text.clone() } else { format!("{text} # edited") };
                self.truths.push((id, at + Duration::seconds(rng.random_range(5..120)), truth));
            }
            let ms = rng.random_range(time.0..time.1);
            self.generations.push(Generation { query: id, model, text, ms, at, accepted, confidence: c });
        }
    }

    async fn insert(self, tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> anyhow::Result<()> {
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
                "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs) \
                 SELECT q, m, c, ms, ARRAY[t], a, conf, ARRAY[ln(conf)] \
                 FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[], $6::bool[], $7::float8[]) AS x(q, m, c, ms, t, a, conf)",
            )
            .bind(batch.iter().map(|g| g.query).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.model).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.text.clone()).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.ms).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.at).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.accepted).collect::<Vec<_>>())
            .bind(batch.iter().map(|g| g.confidence).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth) SELECT q, t, g \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[]) AS x(q, t, g) ON CONFLICT DO NOTHING",
        )
        .bind(self.truths.iter().map(|t| t.0).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.1).collect::<Vec<_>>())
        .bind(self.truths.iter().map(|t| t.2.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

fn unzip3(rows: &[(Uuid, Uuid, DateTime<Utc>)]) -> (Vec<Uuid>, Vec<Uuid>, Vec<DateTime<Utc>>) {
    (rows.iter().map(|r| r.0).collect(), rows.iter().map(|r| r.1).collect(), rows.iter().map(|r| r.2).collect())
}
