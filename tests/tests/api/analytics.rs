//! `/api/analytics/calibration/...` on a small hand-built data set whose ECE, Brier score and
//! decomposition are computed by hand, and who may see which rows.

use chrono::{DateTime, Duration, Utc};
use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Stores one completion generation of `user` (Python, in a session and project of their own).
async fn generation(app: &TestApp, user: Uuid, model_id: i64, confidence: f64, accepted: bool, at: DateTime<Utc>) {
    let (session, project, telemetry, query) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut tx = app.db.begin().await.expect("tx");
    sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, $3)")
        .bind(session)
        .bind(user)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("session");
    sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, 'p', $2)")
        .bind(project)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("project");
    sqlx::query("INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id) VALUES ($1, 3, 1, 47)")
        .bind(telemetry)
        .execute(&mut *tx)
        .await
        .expect("telemetry");
    sqlx::query(
        "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, session_id, project_id, \"timestamp\", total_serving_time, query_type) \
         VALUES ($1, $2, $3, $4, $5, $6, 100, 'completion')",
    )
    .bind(query)
    .bind(user)
    .bind(telemetry)
    .bind(session)
    .bind(project)
    .bind(at)
    .execute(&mut *tx)
    .await
    .expect("meta_query");
    sqlx::query(
        "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs) \
         VALUES ($1, $2, 'x', 50, ARRAY[$3::timestamptz], $4, $5, ARRAY[-0.1])",
    )
    .bind(query)
    .bind(model_id)
    .bind(at)
    .bind(accepted)
    .bind(confidence)
    .execute(&mut *tx)
    .await
    .expect("had_generation");
    tx.commit().await.expect("commit");
}

/// The data set: researcher's model 5 — four at 0.2 (one accepted), six at 0.8 (three accepted) —
/// and model 1 — one at 1.0 accepted, one at 0.0 rejected; another user's five at 0.5, all
/// accepted; and one of the researcher's 60 days old, outside the default window.
async fn data_set(app: &TestApp, researcher: Uuid, other: Uuid) {
    let now = Utc::now() - Duration::hours(1);
    for i in 0..4 {
        generation(app, researcher, 5, 0.2, i == 0, now).await;
    }
    for i in 0..6 {
        generation(app, researcher, 5, 0.8, i < 3, now).await;
    }
    generation(app, researcher, 1, 1.0, true, now).await;
    generation(app, researcher, 1, 0.0, false, now).await;
    for _ in 0..5 {
        generation(app, other, 5, 0.5, true, now).await;
    }
    generation(app, researcher, 5, 0.9, false, now - Duration::days(60)).await;
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

fn model(body: &Value, model_id: i64) -> &Value {
    body["data"].as_array().expect("data").iter().find(|m| m["model_id"] == model_id).unwrap_or_else(|| panic!("model {model_id} in {body}"))
}

#[tokio::test]
async fn reliability_brier_distribution_and_summary_match_hand_computed_values() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;

    let diagram = researcher.call(Method::GET, "/api/analytics/calibration/reliability-diagram", None).await;
    assert_eq!(diagram.status, 200, "{}", diagram.text);
    let smol = model(&diagram.body, 5);
    assert_eq!(smol["total_samples"], 10, "only the caller's rows, only inside the window");
    assert!(close(&smol["expected_calibration_error"], 0.4 * 0.05 + 0.6 * 0.3), "{smol}");
    let bins = smol["bins"].as_array().expect("bins");
    assert_eq!(bins.len(), 2);
    assert_eq!((bins[0]["bin_number"].clone(), bins[0]["sample_size"].clone()), (json!(3), json!(4)));
    assert!(close(&bins[0]["empirical_accuracy"], 0.25) && close(&bins[0]["avg_predicted_confidence"], 0.2));
    assert!(close(&bins[1]["bin_range"]["min"], 0.8) && close(&bins[1]["bin_range"]["max"], 0.9));
    let deepseek = model(&diagram.body, 1);
    let numbers: Vec<&Value> = deepseek["bins"].as_array().expect("bins").iter().map(|b| &b["bin_number"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(10)], "a confidence of 1.0 lands in the last bin");
    assert!(close(&deepseek["expected_calibration_error"], 0.0));

    let brier = researcher.call(Method::GET, "/api/analytics/calibration/brier-score", None).await;
    assert_eq!(brier.status, 200, "{}", brier.text);
    let smol = brier.body["data"].as_array().expect("data").iter().find(|g| g["model_id"] == 5).expect("model 5");
    assert!(close(&smol["brier_score"], 0.28), "{smol}");
    assert!(close(&smol["base_rate"], 0.4) && close(&smol["uncertainty"], 0.24));
    assert!(close(&smol["reliability_component"], 0.4 * 0.0025 + 0.6 * 0.09));
    assert!(close(&smol["resolution_component"], 0.4 * 0.0225 + 0.6 * 0.01));
    assert!(close(&smol["skill_score"], 1.0 - 0.28 / 0.24));
    assert!(close(&smol["avg_confidence"], 0.56));
    let by_language = researcher.call(Method::GET, "/api/analytics/calibration/brier-score?group_by=language", None).await;
    assert_eq!(by_language.body["data"][0]["group_name"], "Python");
    assert_eq!(by_language.body["data"][0]["sample_size"], 12);
    assert_eq!(by_language.body["group_by"], "language");
    let by_config = researcher.call(Method::GET, "/api/analytics/calibration/brier-score?group_by=config", None).await;
    assert_eq!(by_config.body["data"][0]["group_name"], "config 1");

    let histogram = researcher.call(Method::GET, "/api/analytics/calibration/confidence-distribution?bins=10", None).await;
    assert_eq!(histogram.status, 200, "{}", histogram.text);
    let smol = model(&histogram.body, 5);
    assert_eq!(smol["statistics"]["most_frequent_bin"], 9);
    assert!(close(&smol["statistics"]["mode_confidence"], 0.85) && close(&smol["statistics"]["mean_confidence"], 0.56));
    assert_eq!(smol["histogram"][1]["frequency"], 6);

    let summary = researcher.call(Method::GET, "/api/analytics/calibration/calibration-summary", None).await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    let order: Vec<&Value> = summary.body["data"].as_array().expect("data").iter().map(|m| &m["model_id"]).collect();
    assert_eq!(order, [&json!(1), &json!(5)], "lowest Brier first");
    let smol = model(&summary.body, 5);
    assert!(close(&smol["confidence_gap"], 0.16) && smol["is_overconfident"] == true && smol["is_underconfident"] == false);
    assert!(close(&smol["confidence_std"], 0.0864f64.sqrt()), "{smol}");
    assert_eq!(smol["confidence_range"], json!({"min": 0.2, "max": 0.8}));
}

#[tokio::test]
async fn non_admins_see_only_their_rows_and_admins_may_pick_a_user() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    data_set(&app, researcher_id, other_id).await;
    let path = "/api/analytics/calibration/reliability-diagram";

    let sneaky = researcher.call(Method::GET, &format!("{path}?user_id={other_id}"), None).await;
    assert_eq!(model(&sneaky.body, 5)["total_samples"], 10, "a non-admin's user_id is ignored");
    assert_eq!(sneaky.body["filters"]["user_id"], json!(researcher_id));

    let everyone = admin.call(Method::GET, path, None).await;
    assert_eq!(model(&everyone.body, 5)["total_samples"], 15);
    let one = admin.call(Method::GET, &format!("{path}?user_id={other_id}"), None).await;
    assert_eq!(one.body["data"].as_array().expect("data").len(), 1, "{}", one.text);
    assert_eq!(model(&one.body, 5)["total_samples"], 5);
    let long = admin.call(Method::GET, &format!("{path}?start_time=2020-01-01T00:00:00Z"), None).await;
    assert_eq!(model(&long.body, 5)["total_samples"], 16, "a wider window includes the old row");

    let anonymous = app.plugin().call(Method::GET, path, None).await;
    assert_eq!((anonymous.status, anonymous.body), (401, json!({"detail": "Authentication required"})));
}

#[tokio::test]
async fn invalid_parameters_are_client_errors_with_a_detail() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let cases = [
        ("/api/analytics/calibration/reliability-diagram?bins=4", 422),
        ("/api/analytics/calibration/reliability-diagram?bins=21", 422),
        ("/api/analytics/calibration/confidence-distribution?bins=9", 422),
        ("/api/analytics/calibration/reliability-diagram?bins=ten", 400),
        ("/api/analytics/calibration/brier-score?group_by=moon", 400),
        ("/api/analytics/calibration/brier-score?start_time=yesterday", 400),
        ("/api/analytics/calibration/brier-score?start_time=2026-02-01T00:00:00Z&end_time=2026-01-01T00:00:00Z", 400),
        ("/api/analytics/calibration/calibration-summary?user_id=42", 400),
        ("/api/analytics/calibration/reliability-diagram?model_id=x", 400),
    ];
    for (path, status) in cases {
        let reply = admin.call(Method::GET, path, None).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text);
        assert!(reply.body["detail"].is_string() || reply.body["detail"].is_array(), "{path}: {}", reply.text);
    }
    let empty = admin.call(Method::GET, "/api/analytics/calibration/calibration-summary", None).await;
    assert_eq!(empty.body["data"], json!([]), "no data is an empty list, not an error");
}

#[tokio::test]
async fn usage_acceptance_rates_latency_and_queries_over_time() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;

    let rates = researcher.call(Method::GET, "/api/analytics/usage/acceptance-rates", None).await;
    assert_eq!(rates.status, 200, "{}", rates.text);
    let smol =
        rates.body["data"].as_array().expect("data").iter().find(|g| g["group_name"] == "HuggingFaceTB/SmolLM2-135M-Instruct").expect("model 5");
    assert_eq!(smol["sample_size"], 10);
    assert!(close(&smol["acceptance_rate"], 0.4));
    // Wilson 95 % for 4 of 10: [0.1682, 0.6873].
    let interval = &smol["confidence_interval"];
    assert!((interval["lower"].as_f64().expect("lower") - 0.1682).abs() < 1e-4, "{interval}");
    assert!((interval["upper"].as_f64().expect("upper") - 0.6873).abs() < 1e-4, "{interval}");
    let by_trigger = researcher.call(Method::GET, "/api/analytics/usage/acceptance-rates?group_by=trigger", None).await;
    assert_eq!(
        by_trigger.body["data"],
        json!([{"group_name": "manual", "acceptance_rate": 5.0 / 12.0, "sample_size": 12,
        "confidence_interval": by_trigger.body["data"][0]["confidence_interval"].clone()}])
    );

    let latency = researcher.call(Method::GET, "/api/analytics/usage/latency-distribution?model_id=5", None).await;
    assert_eq!(latency.status, 200, "{}", latency.text);
    assert_eq!(
        latency.body["percentiles"],
        json!([{"model_name": "HuggingFaceTB/SmolLM2-135M-Instruct", "p50": 50.0, "p90": 50.0, "p95": 50.0, "p99": 50.0}])
    );
    assert_eq!(latency.body["raw_data"].as_array().expect("raw").len(), 10);
    assert_eq!(latency.body["raw_data"][0]["total_serving_time"], 100);

    let daily = researcher.call(Method::GET, "/api/analytics/usage/queries-over-time?granularity=1d&language=Python", None).await;
    assert_eq!(daily.status, 200, "{}", daily.text);
    let total: i64 = daily.body["data"].as_array().expect("data").iter().map(|b| b["count"].as_i64().expect("count")).sum();
    assert_eq!(total, 12, "{}", daily.text);
    assert!(daily.body["data"].as_array().expect("data").iter().all(|b| b["query_type"] == "completion" && b["trigger_type"] == "manual"));
    let chats = researcher.call(Method::GET, "/api/analytics/usage/queries-over-time?query_type=chat", None).await;
    assert_eq!(chats.body["data"], json!([]));
    for bad in ["granularity=2w", "query_type=voice"] {
        let reply = researcher.call(Method::GET, &format!("/api/analytics/usage/queries-over-time?{bad}"), None).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
    }
    assert_eq!(researcher.call(Method::GET, "/api/analytics/usage/acceptance-rates?group_by=planet", None).await.status, 400);
}

#[tokio::test]
async fn models_side_by_side_over_time_and_by_context() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;

    let compared = researcher.call(Method::GET, "/api/analytics/models/comparison", None).await;
    assert_eq!(compared.status, 200, "{}", compared.text);
    let smol = &model(&compared.body, 5)["metrics"];
    assert_eq!((smol["total_generations"].clone(), smol["unique_users"].clone(), smol["active_days"].clone()), (json!(10), json!(1), json!(1)));
    assert!(close(&smol["acceptance_rate"], 0.4) && close(&smol["avg_confidence"], 0.56) && close(&smol["p95_generation_time"], 50.0));
    assert!(close(&smol["confidence_std"], 0.0864f64.sqrt()) && close(&smol["avg_logprob_length"], 1.0), "{smol}");
    let one = researcher.call(Method::GET, "/api/analytics/models/comparison?model_ids=1", None).await;
    assert_eq!(one.body["data"].as_array().expect("data").len(), 1);
    assert_eq!(one.body["filters"]["model_ids"], json!([1]));
    assert_eq!(researcher.call(Method::GET, "/api/analytics/models/comparison?model_ids=1,x", None).await.status, 400);

    let trends = researcher.call(Method::GET, "/api/analytics/models/model-usage-trends", None).await;
    assert_eq!(trends.status, 200, "upstream's default granularity fails; ours answers: {}", trends.text);
    let counts: Vec<(i64, i64)> = trends.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| (r["model_id"].as_i64().expect("id"), r["usage_count"].as_i64().expect("n")))
        .collect();
    assert_eq!(counts, [(1, 2), (5, 10)]);
    assert_eq!(researcher.call(Method::GET, "/api/analytics/models/model-usage-trends?granularity=1h", None).await.status, 200);
    assert_eq!(researcher.call(Method::GET, "/api/analytics/models/model-usage-trends?granularity=fortnight", None).await.status, 400);

    let context = researcher.call(Method::GET, "/api/analytics/models/performance-by-context", None).await;
    assert_eq!(context.status, 200, "{}", context.text);
    let segments = context.body["data"].as_array().expect("data");
    assert_eq!(segments.len(), 1, "model 1's two generations are below the five-row floor: {}", context.text);
    assert_eq!(segments[0]["context"], json!({"document_size": "unknown", "document_position": "unknown"}));
    assert_eq!((segments[0]["language"].clone(), segments[0]["metrics"]["sample_size"].clone()), (json!("Python"), json!(10)));
}

#[tokio::test]
async fn overview_dashboard_timeline_and_engagement() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    data_set(&app, researcher_id, other_id).await;

    let dashboard = researcher.call(Method::GET, "/api/analytics/overview/dashboard", None).await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.text);
    let overview = &dashboard.body["overview"];
    assert_eq!(
        (
            overview["total_queries"].clone(),
            overview["completion_queries"].clone(),
            overview["chat_queries"].clone(),
            overview["active_users"].clone()
        ),
        (json!(12), json!(12), json!(0), json!(1))
    );
    assert_eq!((overview["models_used"].clone(), overview["total_accepted_generations"].clone()), (json!(2), json!(5)));
    assert!(close(&overview["overall_acceptance_rate"], 5.0 / 12.0) && close(&overview["avg_generation_time_ms"], 50.0));
    assert_eq!(
        dashboard.body["trends"]["direction"],
        json!({"queries": "stable", "users": "stable", "acceptance": "stable"}),
        "nothing the week before"
    );
    let top: Vec<&Value> = dashboard.body["top_models"].as_array().expect("models").iter().map(|m| &m["model_id"]).collect();
    assert_eq!(top, [&json!(1), &json!(5)], "by acceptance");
    assert_eq!(dashboard.body["top_languages"][0]["language"], "Python");
    assert_eq!(dashboard.body["top_languages"][0]["query_count"], 12);
    assert_eq!(researcher.call(Method::GET, "/api/analytics/overview/dashboard?time_window=2w", None).await.status, 400);

    let timeline = researcher.call(Method::GET, "/api/analytics/overview/activity-timeline?time_window=7d&granularity=1d", None).await;
    assert_eq!(timeline.status, 200, "{}", timeline.text);
    let buckets = timeline.body["timeline"].as_array().expect("timeline");
    let queries: i64 = buckets.iter().map(|b| b["query_count"].as_i64().expect("n")).sum();
    assert_eq!(queries, 12, "{}", timeline.text);
    assert_eq!(researcher.call(Method::GET, "/api/analytics/overview/activity-timeline?granularity=7x", None).await.status, 400);

    let personal = researcher.call(Method::GET, "/api/analytics/overview/user-engagement", None).await;
    assert_eq!(personal.status, 200, "{}", personal.text);
    let mine = &personal.body["engagement"];
    assert_eq!((mine["summary_type"].clone(), mine["total_queries"].clone(), mine["active_days"].clone()), (json!("personal"), json!(12), json!(1)));
    assert!(close(&mine["acceptance_rate"], 5.0 / 12.0));
    let everyone = admin.call(Method::GET, "/api/analytics/overview/user-engagement", None).await;
    let all = &everyone.body["engagement"];
    assert_eq!(
        (all["summary_type"].clone(), all["total_active_users"].clone(), all["highly_active_users"].clone()),
        (json!("aggregated"), json!(2), json!(1))
    );
    assert!(close(&all["median_queries_per_user"], 8.5) && close(&all["avg_queries_per_user"], 8.5), "{all}");
}

#[tokio::test]
async fn user_behavior_and_ground_truth_analysis() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;

    let behaviour = researcher.call(Method::GET, "/api/analytics/usage/user-behavior", None).await;
    assert_eq!(behaviour.status, 200, "{}", behaviour.text);
    let rows = behaviour.body["data"].as_array().expect("data");
    assert_eq!(rows.len(), 1, "only the caller: {}", behaviour.text);
    assert_eq!(
        (rows[0]["user_name"].clone(), rows[0]["total_queries"].clone(), rows[0]["session_count"].clone()),
        (json!("Researcher"), json!(12), json!(12))
    );
    assert!(close(&rows[0]["acceptance_rate"], 5.0 / 12.0));

    // Two of model 5's completions ("x") get a ground truth: one equal (up to whitespace), one not.
    let queries: Vec<Uuid> = sqlx::query_scalar(
        "SELECT mq.meta_query_id FROM meta_query mq JOIN had_generation hg USING (meta_query_id) \
         WHERE mq.user_id = $1 AND hg.model_id = 5 AND mq.\"timestamp\" > now() - interval '1 day' ORDER BY 1 LIMIT 2",
    )
    .bind(researcher_id)
    .fetch_all(&app.db)
    .await
    .expect("queries");
    for (query, truth) in queries.iter().zip(["x\n", "yy"]) {
        sqlx::query("INSERT INTO completion_query (meta_query_id) VALUES ($1)").bind(query).execute(&app.db).await.expect("completion_query");
        sqlx::query("INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth) VALUES ($1, now(), $2)")
            .bind(query)
            .bind(truth)
            .execute(&app.db)
            .await
            .expect("ground truth");
    }
    let truth = researcher.call(Method::GET, "/api/analytics/models/ground-truth-analysis", None).await;
    assert_eq!(truth.status, 200, "{}", truth.text);
    let smol = model(&truth.body, 5);
    assert_eq!(smol["total_with_ground_truth"], 2);
    assert!(close(&smol["exact_match_rate"], 0.5) && close(&smol["avg_completion_length"], 1.0), "{smol}");
    assert!(close(&smol["avg_ground_truth_length"], 2.0) && close(&smol["avg_length_diff"], 1.0), "{smol}");
    let none = researcher
        .call(Method::GET, "/api/analytics/models/ground-truth-analysis?end_time=2020-01-01T00:00:00Z&start_time=2019-01-01T00:00:00Z", None)
        .await;
    assert_eq!(none.body["data"], json!([]), "the window applies to the ground truth's time");
}

#[tokio::test]
async fn every_analytics_endpoint_is_documented_with_its_parameters() {
    let app = TestApp::spawn().await;
    let spec: Value = app.get("/openapi.json").await.json().await.expect("spec");
    for path in [
        "/api/analytics/overview/dashboard",
        "/api/analytics/overview/activity-timeline",
        "/api/analytics/overview/user-engagement",
        "/api/analytics/usage/queries-over-time",
        "/api/analytics/usage/acceptance-rates",
        "/api/analytics/usage/latency-distribution",
        "/api/analytics/usage/user-behavior",
        "/api/analytics/models/comparison",
        "/api/analytics/models/ground-truth-analysis",
        "/api/analytics/models/performance-by-context",
        "/api/analytics/models/model-usage-trends",
        "/api/analytics/calibration/reliability-diagram",
        "/api/analytics/calibration/brier-score",
        "/api/analytics/calibration/confidence-distribution",
        "/api/analytics/calibration/calibration-summary",
    ] {
        let parameters = spec["paths"][path]["get"]["parameters"].as_array().unwrap_or_else(|| panic!("{path} documented"));
        assert!(parameters.iter().any(|p| p["name"] == "user_id"), "{path} documents user_id");
    }
    let reliability = &spec["paths"]["/api/analytics/calibration/reliability-diagram"]["get"]["parameters"];
    let names: Vec<&str> = reliability.as_array().expect("params").iter().map(|p| p["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["start_time", "end_time", "user_id", "model_id", "bins"]);
}

#[tokio::test]
async fn granularities_and_windows_take_any_whole_number_of_minutes_hours_or_days_within_bounds() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;
    let counted = |reply: &code4me_tests::plugin::Reply, key: &str, field: &str| -> i64 {
        reply.body[key].as_array().unwrap_or_else(|| panic!("{}", reply.text)).iter().map(|b| b[field].as_i64().expect("count")).sum()
    };

    // Upstream's website's "6 Hours", and other widths and windows upstream never offered.
    let six = researcher.call(Method::GET, "/api/analytics/usage/queries-over-time?granularity=6h", None).await;
    assert_eq!(six.status, 200, "{}", six.text);
    assert_eq!((six.body["filters"]["granularity"].clone(), counted(&six, "data", "count")), (json!("6h"), 12));
    let timeline = researcher.call(Method::GET, "/api/analytics/overview/activity-timeline?time_window=48h&granularity=030m", None).await;
    assert_eq!(timeline.status, 200, "{}", timeline.text);
    assert_eq!((timeline.body["time_window"].clone(), timeline.body["granularity"].clone()), (json!("48h"), json!("30m")));
    assert_eq!(counted(&timeline, "timeline", "query_count"), 12);
    let dashboard = researcher.call(Method::GET, "/api/analytics/overview/dashboard?time_window=14d", None).await;
    assert_eq!(
        (dashboard.status, dashboard.body["time_window"].clone(), dashboard.body["overview"]["total_queries"].clone()),
        (200, json!("14d"), json!(12))
    );
    let engagement = researcher.call(Method::GET, "/api/analytics/overview/user-engagement?time_window=120m", None).await;
    assert_eq!((engagement.status, engagement.body["engagement"]["total_queries"].clone()), (200, json!(12)), "{}", engagement.text);
    let trends = researcher.call(Method::GET, "/api/analytics/models/model-usage-trends?granularity=6h", None).await;
    assert_eq!((trends.status, trends.body["filters"]["granularity"].clone(), counted(&trends, "data", "usage_count")), (200, json!("6h"), 12));

    // Bounds: N ≥ 1, at most 3660 days, at most 10,000 buckets per window; each a 400 with the reason.
    for (path, reason) in [
        ("/api/analytics/usage/queries-over-time?granularity=0h", "must be at least 1"),
        ("/api/analytics/usage/queries-over-time?granularity=1m", "at most 10000"),
        ("/api/analytics/usage/queries-over-time?granularity=5m&start_time=2026-01-01&end_time=2026-12-31", "at most 10000"),
        ("/api/analytics/overview/activity-timeline?time_window=7d&granularity=1m", "at most 10000"),
        ("/api/analytics/models/model-usage-trends?granularity=hour&start_time=2020-01-01", "at most 10000"),
        ("/api/analytics/overview/dashboard?time_window=3661d", "at most 3660 days"),
        ("/api/analytics/overview/dashboard?time_window=2w", "expected a whole number"),
        ("/api/analytics/usage/queries-over-time?granularity=1.5h", "expected a whole number"),
    ] {
        let reply = researcher.call(Method::GET, path, None).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        assert!(reply.body["detail"].as_str().expect("detail").contains(reason), "{path}: {}", reply.text);
    }
}

#[tokio::test]
async fn time_parameters_take_every_iso_8601_form_python_reads_with_no_zone_meaning_utc() {
    let app = TestApp::spawn().await;
    let (mut researcher, researcher_id) = app.signed_up("researcher@example.com", false).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, researcher_id, other_id).await;
    let today = Utc::now().date_naive();
    let (from, to) = (today - Duration::days(2), today + Duration::days(2));
    let cases = [
        (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string()),
        (from.format("%Y%m%d").to_string(), to.format("%Y%m%dT235959").to_string()),
        (from.format("%Y-%m-%dT00:00").to_string(), to.format("%Y-%m-%d 12").to_string()),
        (from.format("%Y-%m-%dT01:00:00.5%%2B01:00").to_string(), to.format("%Y-%m-%dT00:00:00.123456789Z").to_string()),
        (from.format("%G-W%V-%u").to_string(), to.format("%Y-%m-%dT00:00-0530").to_string()),
    ];
    for (start, end) in cases {
        let path = format!("/api/analytics/usage/queries-over-time?granularity=1d&start_time={start}&end_time={end}");
        let reply = researcher.call(Method::GET, &path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let total: i64 = reply.body["data"].as_array().expect("data").iter().map(|b| b["count"].as_i64().expect("count")).sum();
        assert_eq!(total, 12, "{path}");
    }
    let zone_less =
        researcher.call(Method::GET, &format!("/api/analytics/calibration/brier-score?start_time={}T06:30", from.format("%Y-%m-%d")), None).await;
    assert_eq!(
        zone_less.body["filters"]["start_time"],
        json!(format!("{}T06:30:00Z", from.format("%Y-%m-%d"))),
        "no zone means UTC: {}",
        zone_less.text
    );
    for bad in ["2026-01", "2026-01-31T24:00", "2026-01-31T12:30:60", "31/01/2026", "2026-01-31T12:30%2B24:00"] {
        let reply = researcher.call(Method::GET, &format!("/api/analytics/usage/queries-over-time?start_time={bad}"), None).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert!(reply.body["detail"].as_str().expect("detail").starts_with("Invalid start_time: expected an ISO 8601 time"), "{}", reply.text);
    }
}

/// A generation carries its query's time, user and type (copied when it is stored); deleting the
/// account but keeping its data detaches its generations exactly as its queries: an admin asking
/// for that user finds nothing, while the platform totals still count them.
#[tokio::test]
async fn a_deleted_accounts_generations_stay_counted_but_belong_to_no_one() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = app.signed_up("admin@example.com", true).await;
    let (mut leaver, leaver_id) = app.signed_up("leaver@example.com", false).await;
    let at = Utc::now() - Duration::hours(1);
    generation(&app, leaver_id, 5, 0.5, true, at).await;
    let copied: (DateTime<Utc>, Option<Uuid>, String) =
        sqlx::query_as("SELECT query_timestamp, user_id, query_type FROM had_generation").fetch_one(&app.db).await.expect("generation");
    assert_eq!((copied.0.timestamp_micros(), copied.1, copied.2.as_str()), (at.timestamp_micros(), Some(leaver_id), "completion"));

    assert_eq!(leaver.call(Method::DELETE, "/api/user/delete?delete_data=false", None).await.status, 200);
    let theirs = admin.call(Method::GET, &format!("/api/analytics/models/comparison?user_id={leaver_id}"), None).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(theirs.body["data"], json!([]), "no generation is linked to the deleted account");
    let everyone = admin.call(Method::GET, "/api/analytics/models/comparison", None).await;
    assert_eq!(model(&everyone.body, 5)["metrics"]["total_generations"], 1, "the generation itself is kept");
}

#[tokio::test]
async fn poisoned_behavioural_telemetry_is_refused_and_the_behaviour_page_stays_up() {
    let app = TestApp::spawn().await;
    let (mut admin, admin_id) = app.signed_up("admin@example.com", true).await;
    let (_other, other_id) = app.signed_up("other@example.com", false).await;
    data_set(&app, admin_id, other_id).await;
    let mut plugin = app.plugin();
    plugin.signed_in_with_project("plugin@example.com", "Secret123").await;
    // The report: one plugin build sends typing_speed 1e308 and a duration near 2^63.
    let mut body = code4me_tests::plugin::completion_body(&[5], "def f():\n    return ");
    body["behavioral_telemetry"]["typing_speed"] = json!(1e308);
    body["behavioral_telemetry"]["time_since_last_shown"] = json!(9_223_372_036_854_775_000_i64);
    let refused = plugin.call(Method::POST, "/api/completion/request", Some(body)).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let paths: Vec<&Value> = refused.body["detail"].as_array().expect("issues").iter().map(|issue| &issue["loc"]).collect();
    assert_eq!(paths, [&json!(["body", "behavioral_telemetry", "time_since_last_shown"]), &json!(["body", "behavioral_telemetry", "typing_speed"])]);
    // The largest values the ranges allow, on every query, aggregate without overflow.
    sqlx::query(
        "WITH b AS (INSERT INTO behavioral_telemetry (behavioral_telemetry_id, time_since_last_shown, time_since_last_accepted, typing_speed) \
                    SELECT meta_query_id, 2592000000, 2592000000, 10000 FROM meta_query RETURNING behavioral_telemetry_id) \
         UPDATE meta_query SET behavioral_telemetry_id = meta_query_id",
    )
    .execute(&app.db)
    .await
    .expect("telemetry at the bounds");
    let behaviour = admin.call(Method::GET, "/api/analytics/usage/user-behavior", None).await;
    assert_eq!(behaviour.status, 200, "{}", behaviour.text);
    assert!(behaviour.body["data"].as_array().expect("rows").iter().all(|row| close(&row["avg_typing_speed"], 10_000.0)), "{}", behaviour.text);

    // A query the database refuses for what it is (here: a table gone) is a bug, reported as a 500
    // — not as an outage (503) that tells clients to retry.
    sqlx::query("ALTER TABLE behavioral_telemetry RENAME TO behavioral_telemetry_gone").execute(&app.db).await.expect("rename");
    let broken = admin.call(Method::GET, "/api/analytics/usage/user-behavior", None).await;
    assert_eq!((broken.status, broken.body.clone()), (500, json!({"detail": "Internal Server Error"})), "{}", broken.text);
}
