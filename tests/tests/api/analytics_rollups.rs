//! The analytics rollups: every endpoint answers an admin's everyone-view (rollup day and hour rows
//! plus raw rows at the window's edges) exactly as it answers the same admin's view of the one user
//! who has data (raw rows only), for windows that cut hours and days, with part of the rows
//! compacted and part still deltas; updates, deletes and compaction keep the sums.

use chrono::{DateTime, Duration, DurationRound, Utc};
use code4me_tests::TestApp;
use code4me_tests::plugin::Plugin;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

/// One completion (or chat) query with its generation, as the worker would store it.
struct Row {
    at: DateTime<Utc>,
    chat: bool,
    model: i64,
    language: i64,
    trigger: i64,
    confidence: f64,
    accepted: bool,
    generation_ms: i32,
    stages: Option<(i32, i32)>,
    typing_speed: Option<f64>,
    document: Option<(i32, f64)>,
}

async fn store(app: &TestApp, user: Uuid, session: Uuid, project: Uuid, row: &Row) -> Uuid {
    let query = Uuid::new_v4();
    let (length, position) = row.document.map_or((None, None), |(l, p)| (Some(l), Some(p)));
    sqlx::query(
        "INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, document_char_length, relative_document_position, \
                                           file_path) \
         VALUES ($1, 1, $2, $3, $4, $5, CASE WHEN $4 IS NULL THEN NULL ELSE 'src/file' || $2 || '.py' END)",
    )
    .bind(query)
    .bind(row.trigger)
    .bind(row.language)
    .bind(length)
    .bind(position)
    .execute(&app.db)
    .await
    .expect("contextual telemetry");
    sqlx::query("INSERT INTO behavioral_telemetry (behavioral_telemetry_id, typing_speed, time_since_last_shown) VALUES ($1, $2, 1500)")
        .bind(query)
        .bind(row.typing_speed)
        .execute(&app.db)
        .await
        .expect("behavioral telemetry");
    sqlx::query(
        "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, behavioral_telemetry_id, session_id, project_id, \"timestamp\", \
                                 total_serving_time, query_type, config_id) \
         VALUES ($1, $2, $1, $1, $3, $4, $5, $6, $7, 1)",
    )
    .bind(query)
    .bind(user)
    .bind(session)
    .bind(project)
    .bind(row.at)
    .bind(row.generation_ms + 40)
    .bind(if row.chat { "chat" } else { "completion" })
    .execute(&app.db)
    .await
    .expect("query");
    if !row.chat {
        sqlx::query("INSERT INTO completion_query (meta_query_id) VALUES ($1)").bind(query).execute(&app.db).await.expect("completion query");
    }
    let (queue, first_token) = row.stages.map_or((None, None), |(q, f)| (Some(q), Some(f)));
    sqlx::query(
        "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, \
                                     queue_wait_ms, first_token_ms) \
         VALUES ($1, $2, 'x = 1', $3, ARRAY[$4::timestamptz], $5, $6, ARRAY[-0.1, -0.2], $7, $8)",
    )
    .bind(query)
    .bind(row.model)
    .bind(row.generation_ms)
    .bind(row.at)
    .bind(row.accepted)
    .bind(row.confidence)
    .bind(queue)
    .bind(first_token)
    .execute(&app.db)
    .await
    .expect("generation");
    if row.accepted && !row.chat {
        // The plugin's ground truths after acceptance: at 40 s (the 30 s checkpoint) and at 150 s
        // (2 min), the second one scored lower.
        sqlx::query(
            "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth, model_id, similarity) \
             VALUES ($1, $2 + interval '40 seconds', ' x = 1 ', $3, 1.0), ($1, $2 + interval '150 seconds', 'x = 12', $3, $4)",
        )
        .bind(query)
        .bind(row.at)
        .bind(row.model)
        .bind(row.confidence)
        .execute(&app.db)
        .await
        .expect("ground truth");
    }
    query
}

/// Rows every few hours over four days from `base`, at minutes that fall inside and outside the
/// windows' edges; every generation time distinct (the fastest-samples list has no ties).
fn history(base: DateTime<Utc>) -> Vec<Row> {
    let mut rows = Vec::new();
    for i in 0..96_i64 {
        let at = base + Duration::hours(i) + Duration::minutes((i * 17) % 60);
        if i % 4 == 3 && i % 8 != 7 {
            continue;
        }
        rows.push(Row {
            at,
            chat: i % 11 == 0,
            model: if i % 3 == 0 { 1 } else { 5 },
            language: [47, 11, 82][(i % 3) as usize],
            trigger: 1 + i % 3,
            confidence: ((i * 37) % 100) as f64 / 100.0 + 0.004,
            accepted: (i * 7) % 5 < 2,
            generation_ms: 100 + i as i32 * 3,
            stages: (i % 2 == 0).then_some((5 + i as i32, 20 + i as i32)),
            typing_speed: (i % 5 != 0).then_some(100.0 + i as f64),
            document: (i % 6 != 0).then_some(((i as i32) * 1_337, (i % 10) as f64 / 10.0)),
        });
    }
    rows
}

/// `a` and `b` equal up to floating-point rounding (sums in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

/// Every analytics read with its parameters, each answered twice below.
const READS: &[&str] = &[
    "/api/analytics/overview/dashboard",
    "/api/analytics/overview/activity-timeline?granularity=1h",
    "/api/analytics/overview/activity-timeline?granularity=6h",
    "/api/analytics/overview/activity-timeline?granularity=1d",
    "/api/analytics/overview/activity-timeline?granularity=15m",
    "/api/analytics/usage/queries-over-time?granularity=1d",
    "/api/analytics/usage/queries-over-time?granularity=1h&query_type=completion",
    "/api/analytics/usage/acceptance-rates?group_by=model",
    "/api/analytics/usage/acceptance-rates?group_by=config",
    "/api/analytics/usage/acceptance-rates?group_by=language",
    "/api/analytics/usage/acceptance-rates?group_by=trigger",
    "/api/analytics/usage/latency-distribution",
    "/api/analytics/usage/user-behavior",
    "/api/analytics/models/comparison",
    "/api/analytics/models/performance-by-context",
    "/api/analytics/models/model-usage-trends?granularity=hour",
    "/api/analytics/models/model-usage-trends?granularity=day",
    "/api/analytics/models/model-usage-trends?granularity=week",
    "/api/analytics/models/model-usage-trends?granularity=6h",
    "/api/analytics/calibration/reliability-diagram",
    "/api/analytics/calibration/reliability-diagram?bins=7",
    "/api/analytics/calibration/brier-score?group_by=config",
    "/api/analytics/calibration/brier-score?group_by=language",
    "/api/analytics/calibration/brier-score?group_by=model&bins=20",
    "/api/analytics/calibration/confidence-distribution",
    "/api/analytics/calibration/confidence-distribution?bins=25",
    "/api/analytics/calibration/calibration-summary",
    "/api/analytics/research/latency-stages",
    "/api/analytics/research/effort",
    "/api/analytics/research/code-survival",
    "/api/analytics/models/ground-truth-analysis",
];

/// The query parameters of `read` for `window`: its start and end, or for the overview's reads
/// (which end now) the window from its start to now, as `time_window` in minutes.
fn window_parameters(read: &str, window: (DateTime<Utc>, DateTime<Utc>)) -> String {
    if read.starts_with("/api/analytics/overview/") {
        format!("time_window={}m", (Utc::now() - window.0).num_minutes())
    } else {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
        format!("start_time={}&end_time={}", at(window.0), at(window.1))
    }
}

/// Each read over `window` as everyone's (rollups) and as `user`'s (raw rows): the same answer.
async fn assert_views_agree(admin: &mut Plugin, user: Uuid, window: (DateTime<Utc>, DateTime<Utc>), label: &str) {
    for read in READS {
        let sep = if read.contains('?') { '&' } else { '?' };
        let times = window_parameters(read, window);
        let everyone = admin.call(Method::GET, &format!("{read}{sep}{times}"), None).await;
        let one = admin.call(Method::GET, &format!("{read}{sep}{times}&user_id={user}"), None).await;
        assert_eq!((everyone.status, one.status), (200, 200), "{label} {read}: {} / {}", everyone.text, one.text);
        let (mut everyone, mut one) = (everyone.body, one.body);
        for body in [&mut everyone, &mut one] {
            if let Some(object) = body.as_object_mut() {
                object.remove("filters");
                object.remove("period");
            }
        }
        assert!(same(&everyone, &one), "{label} {read}:\n everyone (rollups) {everyone}\n one user (raw)     {one}");
    }
}

#[tokio::test]
async fn every_analytics_read_answers_from_the_rollups_exactly_as_from_the_raw_rows() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let (_user, user) = app.signed_up("typist@example.com", false).await;
    let (session, project) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, now())")
        .bind(session)
        .bind(user)
        .execute(&app.db)
        .await
        .expect("session");
    sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, 'p', now())")
        .bind(project)
        .execute(&app.db)
        .await
        .expect("project");
    let base = Utc::now().duration_trunc(Duration::days(1)).expect("midnight") - Duration::days(5);
    let rows = history(base);
    let mut stored = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        stored.push(store(&app, user, session, project, row).await);
        if i == rows.len() / 2 {
            // Half the history merged into one row per key, the rest still one delta row per write.
            let loose: i64 =
                sqlx::query_scalar("SELECT count(*) FROM analytics_generation_rollup WHERE NOT compacted").fetch_one(&app.db).await.expect("count");
            let all: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_generation_rollup").fetch_one(&app.db).await.expect("count");
            let merged: i64 = sqlx::query_scalar("SELECT analytics_compact()").fetch_one(&app.db).await.expect("compact");
            assert!(merged > 0, "{loose} {all}");
        }
    }
    // Feedback after the fact: acceptance changes reach the rollups as deltas of what changed (a
    // generation's latency does not, so its rollup gains no row), and feedback repeating what a
    // generation already says writes nothing at all.
    let latency_rows = "SELECT count(*) FROM analytics_latency_rollup";
    let rollup_rows = "SELECT (SELECT count(*) FROM analytics_generation_rollup) + (SELECT count(*) FROM analytics_latency_rollup) \
                       + (SELECT count(*) FROM analytics_confidence_rollup) + (SELECT count(*) FROM analytics_user_rollup)";
    let latencies_before: i64 = sqlx::query_scalar(latency_rows).fetch_one(&app.db).await.expect("count");
    sqlx::query("UPDATE had_generation SET was_accepted = NOT was_accepted WHERE meta_query_id = ANY($1)")
        .bind(&stored[..10])
        .execute(&app.db)
        .await
        .expect("feedback");
    assert_eq!(sqlx::query_scalar::<_, i64>(latency_rows).fetch_one(&app.db).await.expect("count"), latencies_before);
    let rows_before: i64 = sqlx::query_scalar(rollup_rows).fetch_one(&app.db).await.expect("count");
    sqlx::query("UPDATE had_generation SET was_accepted = was_accepted WHERE meta_query_id = ANY($1)")
        .bind(&stored[10..20])
        .execute(&app.db)
        .await
        .expect("repeated feedback");
    assert_eq!(sqlx::query_scalar::<_, i64>(rollup_rows).fetch_one(&app.db).await.expect("count"), rows_before);

    let windows = [
        // Cuts an hour at each end and spans whole days between.
        (base + Duration::hours(9) + Duration::minutes(20), base + Duration::days(3) + Duration::hours(13) + Duration::minutes(30)),
        // Exactly two whole UTC days, the end inclusive.
        (base + Duration::days(1), base + Duration::days(3)),
        // Within one day, cutting hours.
        (
            base + Duration::days(2) + Duration::hours(3) + Duration::minutes(7),
            base + Duration::days(2) + Duration::hours(20) + Duration::minutes(50),
        ),
        // Within one hour.
        (base + Duration::hours(30) + Duration::minutes(1), base + Duration::hours(30) + Duration::minutes(59)),
    ];
    for (i, window) in windows.into_iter().enumerate() {
        assert_views_agree(&mut admin, user, window, &format!("window {i}")).await;
    }

    // Engagement answers one user with their own figures and everyone with a summary: with one
    // user, the summary's means are that user's figures.
    let personal = admin.call(Method::GET, &format!("/api/analytics/overview/user-engagement?time_window=10d&user_id={user}"), None).await.body;
    let summary = admin.call(Method::GET, "/api/analytics/overview/user-engagement?time_window=10d", None).await.body;
    let (personal, summary) = (&personal["engagement"], &summary["engagement"]);
    assert_eq!(personal["total_queries"].as_i64(), Some(rows.len() as i64), "{personal}");
    assert!(same(&summary["avg_queries_per_user"], &personal["total_queries"]), "{summary} / {personal}");
    assert!(same(&summary["avg_active_days"], &personal["active_days"]) && same(&summary["avg_sessions_per_user"], &personal["total_sessions"]));
    assert!(same(&summary["avg_user_acceptance_rate"], &personal["acceptance_rate"]), "{summary} / {personal}");
    let raw_acceptance: f64 = sqlx::query_scalar("SELECT avg(was_accepted::int)::float8 FROM had_generation WHERE query_type = 'completion'")
        .fetch_one(&app.db)
        .await
        .expect("raw acceptance");
    assert!(same(&personal["acceptance_rate"], &serde_json::json!(raw_acceptance)), "{personal} vs {raw_acceptance}");

    // Survival is placed by the checkpoints and threshold the database defines: the route reports
    // the same ones.
    let survival = admin.call(Method::GET, "/api/analytics/research/code-survival", None).await.body;
    let checkpoints: Vec<i64> = survival["data"].as_array().expect("data").iter().filter_map(|p| p["checkpoint_seconds"].as_i64()).collect();
    let (placed, mostly): (Vec<i32>, f64) =
        sqlx::query_as("SELECT analytics_survival_checkpoints(), analytics_mostly_unchanged()").fetch_one(&app.db).await.expect("definition");
    assert_eq!(checkpoints, placed.iter().map(|&c| i64::from(c)).collect::<Vec<_>>(), "{survival}");
    assert_eq!(survival["mostly_unchanged_threshold"].as_f64(), Some(mostly));
    assert!(survival["data"][0]["generations"].as_i64().unwrap_or(0) > 0, "{survival}");

    // The windows above did read rows: the everyone-view counts what was stored.
    let dashboard = admin.call(Method::GET, "/api/analytics/overview/dashboard?time_window=10d", None).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.text);
    assert_eq!(dashboard.body["overview"]["total_queries"].as_i64(), Some(rows.len() as i64), "{}", dashboard.body);
}

#[tokio::test]
async fn deletes_and_departed_users_reach_the_rollups_and_compaction_keeps_every_sum() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let (_one, one) = app.signed_up("one@example.com", false).await;
    let (_two, two) = app.signed_up("two@example.com", false).await;
    let base = Utc::now().duration_trunc(Duration::days(1)).expect("midnight") - Duration::days(3);
    let mut projects = Vec::new();
    for user in [one, two] {
        let (session, project) = (Uuid::new_v4(), Uuid::new_v4());
        sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, now())")
            .bind(session)
            .bind(user)
            .execute(&app.db)
            .await
            .expect("session");
        sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, 'p', now())")
            .bind(project)
            .execute(&app.db)
            .await
            .expect("project");
        for row in history(base).iter().take(20) {
            store(&app, user, session, project, row).await;
        }
        projects.push(project);
    }
    let path = "/api/analytics/overview/dashboard?time_window=10d";
    let before = admin.call(Method::GET, path, None).await.body["overview"].clone();
    assert_eq!((before["total_queries"].as_i64(), before["active_users"].as_i64()), (Some(40), Some(2)), "{before}");

    sqlx::query("SELECT analytics_compact()").execute(&app.db).await.expect("compact");
    assert!(same(&admin.call(Method::GET, path, None).await.body["overview"], &before), "compaction changed an answer");

    // A deleted project takes its queries (and generations) with it.
    sqlx::query("DELETE FROM project WHERE project_id = $1").bind(projects[1]).execute(&app.db).await.expect("delete project");
    let after = admin.call(Method::GET, path, None).await.body["overview"].clone();
    assert_eq!((after["total_queries"].as_i64(), after["active_users"].as_i64()), (Some(20), Some(1)), "{after}");
    let generations: i64 = sqlx::query_scalar("SELECT coalesce(sum(generations), 0)::bigint FROM analytics_generation_rollup WHERE grain = 'd'")
        .fetch_one(&app.db)
        .await
        .expect("sum");
    let raw: i64 = sqlx::query_scalar("SELECT count(*) FROM had_generation").fetch_one(&app.db).await.expect("count");
    assert_eq!(generations, raw);

    // A departed user's queries stay in the totals, no longer as an active user.
    sqlx::query("DELETE FROM \"user\" WHERE user_id = $1").bind(one).execute(&app.db).await.expect("delete user");
    sqlx::query("SELECT analytics_compact()").execute(&app.db).await.expect("compact");
    let gone = admin.call(Method::GET, path, None).await.body["overview"].clone();
    assert_eq!((gone["total_queries"].as_i64(), gone["active_users"].as_i64()), (Some(20), Some(0)), "{gone}");
    let loose: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics_user_rollup WHERE NOT compacted").fetch_one(&app.db).await.expect("count");
    assert_eq!(loose, 0, "a compaction leaves no delta rows");
}
