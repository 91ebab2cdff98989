//! `code4me-server demo-data`: a fresh install filled with telemetry the dashboard can show —
//! acceptance that rises with confidence, a finished study with exposure, users who can sign in.

use code4me_server::services::auth::password::PasswordHasher;
use code4me_server::services::demo::{DEMO_PASSWORD, DemoOptions, fill};
use code4me_shared::settings::PasswordHashSettings;
use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn demo_data_fills_a_fresh_install_with_telemetry_worth_studying() {
    let app = TestApp::spawn().await;
    let hasher = PasswordHasher::new(PasswordHashSettings { memory_kib: 8, iterations: 1 }).expect("hasher");
    let summary = fill(&app.db, &hasher, DemoOptions { users: 8, days: 21, queries_per_day: 20, seed: 3 }).await.expect("filled");
    assert_eq!(summary.users, 8);
    assert!(summary.queries > 300 && summary.generations > summary.queries / 2 && summary.ground_truths > 10, "{summary:?}");
    // Latency by stage adds up: no query's server time is shorter than a generation's queue wait
    // and model time together.
    let shortfall: Option<i32> = sqlx::query_scalar(
        "SELECT max(hg.generation_time + hg.queue_wait_ms - mq.total_serving_time) FROM had_generation hg \
         JOIN meta_query mq ON mq.meta_query_id = hg.meta_query_id",
    )
    .fetch_one(&app.db)
    .await
    .expect("shortfall");
    assert!(shortfall.expect("generations") <= 0, "a generation outlasts its query by {shortfall:?} ms");
    let again = fill(&app.db, &hasher, DemoOptions::default()).await;
    assert!(again.expect_err("refused").to_string().contains("fresh install"));

    // A demo user signs in, and an admin sees calibration that tracks confidence.
    let mut user = app.plugin();
    assert_eq!(user.log_in("demo-user-001@example.com", DEMO_PASSWORD).await.status, 200);
    sqlx::query("UPDATE \"user\" SET is_admin = TRUE WHERE email = 'demo-user-001@example.com'").execute(&app.db).await.expect("admin");
    let diagram = user.call(Method::GET, "/api/analytics/calibration/reliability-diagram?bins=5", None).await;
    assert_eq!(diagram.status, 200, "{}", diagram.text);
    let smol = diagram.body["data"].as_array().expect("data").iter().find(|m| m["model_id"] == 5).expect("model 5");
    let bins = smol["bins"].as_array().expect("bins");
    let accuracy = |b: &Value| b["empirical_accuracy"].as_f64().expect("accuracy");
    assert!(accuracy(bins.last().expect("top")) > accuracy(&bins[0]) + 0.3, "acceptance rises with confidence: {smol}");

    // Accepted code erodes: fewer completions survive verbatim at 10 minutes than at 30 seconds,
    // and some edited ones stay mostly unchanged.
    let survival = user.call(Method::GET, "/api/analytics/research/code-survival", None).await;
    assert_eq!(survival.status, 200, "{}", survival.text);
    let rate = |checkpoint: i64, field: &str| {
        let points = survival.body["data"].as_array().expect("data");
        let point = points.iter().find(|p| p["checkpoint_seconds"] == checkpoint).expect("checkpoint");
        point[field].as_f64().expect("a rate")
    };
    assert!(rate(600, "unchanged_rate") < rate(30, "unchanged_rate") - 0.1, "{}", survival.text);
    assert!(rate(600, "mostly_unchanged_rate") > rate(600, "unchanged_rate") + 0.05, "{}", survival.text);

    // The finished study evaluates on its two arms.
    let studies = user.call(Method::GET, "/api/analytics/studies/list?include_inactive=true", None).await;
    let study = studies.body["studies"][0]["study_id"].as_str().expect("a study").to_owned();
    let evaluation = user.call(Method::GET, &format!("/api/analytics/studies/{study}/evaluation"), None).await;
    let results = evaluation.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{}", evaluation.text);
    assert!(results.iter().all(|r| r["metrics"]["total_generations"].as_i64().expect("n") > 20), "{}", evaluation.text);
}
