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

use code4me_shared::survival::edit_similarity_within;

use crate::db::demo::{self, ACCEPTED_AFTER_SECONDS, DemoGeneration, DemoQuery, DemoRows, DemoTruth, QUEUE_WAIT_MAX_MS};
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

/// Fills the database; refuses when it already holds telemetry (demo data is for a fresh install).
pub async fn fill(db: &PgPool, hasher: &PasswordHasher, options: DemoOptions) -> anyhow::Result<DemoSummary> {
    let existing = demo::query_count(db).await?;
    anyhow::ensure!(existing == 0, "the database already holds {existing} queries; demo data is only added to a fresh install");
    let mut rng = StdRng::seed_from_u64(options.seed);
    let now = Utc::now();
    let start = now - Duration::days(options.days);
    let password = hasher.hash(DEMO_PASSWORD).await?;
    let languages = demo::language_ids(db, &["Python", "Java", "JavaScript", "TypeScript", "Rust", "Go", "Kotlin", "C++"]).await?;
    anyhow::ensure!(!languages.is_empty(), "the language table is empty; run the migrations first");

    let mut tx = db.begin().await?;
    let variant = demo::insert_config_without_retrieval(&mut tx).await?;
    let users: Vec<Uuid> = (0..options.users).map(|_| uuid_from(&mut rng)).collect();
    let emails: Vec<String> = (0..options.users).map(|i| format!("demo-user-{:03}@example.com", i + 1)).collect();
    let names: Vec<String> = (0..options.users).map(|i| format!("Demo User {}", i + 1)).collect();
    let joined: Vec<DateTime<Utc>> = users.iter().map(|_| start - Duration::days(rng.random_range(1..60))).collect();
    demo::insert_users(&mut tx, &users, &joined, &emails, &names, &password).await?;

    // The finished study: from two thirds of the way back to one sixth, half the users on each arm.
    let (study_start, study_end) = (now - Duration::days(options.days * 2 / 3), now - Duration::days(options.days / 6));
    let study = uuid_from(&mut rng);
    demo::insert_finished_study(&mut tx, study, users[0], study_start, study_end, variant).await?;
    let arms: Vec<i64> = users.iter().enumerate().map(|(i, _)| if i % 2 == 0 { 1 } else { variant }).collect();
    demo::insert_assignments(&mut tx, &users, study, study_start, &arms).await?;

    let mut rows = DemoRows::default();
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

impl DemoRows {
    #[allow(clippy::too_many_arguments)]
    fn query(&mut self, rng: &mut StdRng, user: Uuid, session: Uuid, project: Uuid, at: DateTime<Utc>, config: i64, languages: &[i64], variant: i64) {
        let id = uuid_from(rng);
        let is_chat = rng.random_bool(0.12);
        let trigger = *[1, 2, 2, 2, 3].get(rng.random_range(0..5)).expect("in range");
        let language = languages[rng.random_range(0..languages.len())];
        // The server's own time beyond queue and model; the slowest generation and the longest
        // queue wait `db::demo` stores are added below, so the stages add up.
        let overhead = rng.random_range(8..60);
        self.queries.push(DemoQuery {
            id,
            user,
            session,
            project,
            at,
            serving_ms: overhead,
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
            self.queries.last_mut().expect("pushed above").serving_ms += ms + QUEUE_WAIT_MAX_MS;
            self.generations.push(DemoGeneration {
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
                // Ground truths as a plugin sending them 30 s, 2 min, 5 min and 10 min after the
                // acceptance (`ACCEPTED_AFTER_SECONDS` after the query): code erodes over time.
                let accepted_at = at + Duration::seconds(ACCEPTED_AFTER_SECONDS);
                for (span, keeps) in [((30, 60), 0.8), ((120, 170), 0.7), ((300, 400), 0.6), ((600, 700), 0.5)] {
                    // Kept verbatim, else lightly edited (its last tenth rewritten: mostly unchanged)
                    // or mostly rewritten (three fifths of it gone).
                    let kept = if rng.random_bool(keeps) {
                        1.0
                    } else if rng.random_bool(0.5) {
                        0.9
                    } else {
                        0.4
                    };
                    let length = text.chars().count();
                    let start: String = text.chars().take((length as f64 * kept).round() as usize).collect();
                    let truth = if kept < 1.0 { format!("    {start}  # edited\n") } else { format!("    {text}\n") };
                    let similarity = edit_similarity_within(&text, &truth).unwrap_or(0.0);
                    self.truths.push(DemoTruth {
                        query: id,
                        model,
                        at: accepted_at + Duration::seconds(rng.random_range(span.0..span.1)),
                        text: truth,
                        similarity,
                    });
                }
            }
            let ms = rng.random_range(time.0..time.1);
            self.generations.push(DemoGeneration { query: id, model, text, ms, at, accepted, confidence: c });
        }
        let slowest = self.generations.iter().rev().take_while(|g| g.query == id).map(|g| g.ms).max().unwrap_or(0);
        self.queries.last_mut().expect("pushed above").serving_ms += slowest + QUEUE_WAIT_MAX_MS;
    }
}
