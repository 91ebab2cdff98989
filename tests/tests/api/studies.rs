//! `/api/analytics/studies/...`: sticky assignment of verified users to a study's arms (also on
//! first login while it runs), the exposure each query logs, and an evaluation whose z-test,
//! user-level interval, sample-ratio check and CUPED are checked against reference values
//! (tests/reference/study_statistics.py).

use chrono::{Duration, Utc};
use code4me_tests::TestApp;
use code4me_tests::plugin::{Plugin, completion_body};
use code4me_tests::worker::Worker;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// A verified user, signed in.
async fn verified(app: &TestApp, email: &str, admin: bool) -> (Plugin, Uuid) {
    let mut plugin = app.plugin();
    assert_eq!(plugin.sign_up(email, "Study User", "Secret123").await.status, 201);
    let id: Uuid = sqlx::query_scalar("UPDATE \"user\" SET verified = TRUE, is_admin = $2 WHERE email = $1 RETURNING user_id")
        .bind(email)
        .bind(admin)
        .fetch_one(&app.db)
        .await
        .expect("user");
    assert_eq!(plugin.log_in(email, "Secret123").await.status, 200);
    (plugin, id)
}

async fn arm_of(app: &TestApp, user: Uuid, study: &str) -> (i64, i64) {
    sqlx::query_as("SELECT h.assigned_config_id, u.config_id FROM config_assignment_history h JOIN \"user\" u USING (user_id) WHERE h.user_id = $1 AND h.study_id = $2::uuid")
        .bind(user)
        .bind(study)
        .fetch_one(&app.db)
        .await
        .expect("an assignment")
}

/// `n` completion generations served by `config_id` to `user`, the first `accepted` accepted.
async fn served(app: &TestApp, user: Uuid, config_id: i64, n: i32, accepted: i32) {
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
    sqlx::query(
        "WITH q AS (INSERT INTO meta_query (meta_query_id, user_id, session_id, project_id, \"timestamp\", total_serving_time, query_type, config_id) \
                    SELECT gen_random_uuid(), $1, $2, $3, now(), 100, 'completion', $4 FROM generate_series(1, $5) RETURNING meta_query_id), \
              numbered AS (SELECT meta_query_id, row_number() OVER () AS i FROM q) \
         INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs) \
         SELECT meta_query_id, 5, 'x', 50, ARRAY[now()], i <= $6, 0.5, ARRAY[-0.1] FROM numbered",
    )
    .bind(user)
    .bind(session)
    .bind(project)
    .bind(config_id)
    .bind(n)
    .bind(i64::from(accepted))
    .execute(&app.db)
    .await
    .expect("generations");
}

#[tokio::test]
async fn assignment_is_sticky_new_users_join_on_login_and_queries_log_their_config() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = verified(&app, "admin@example.com", true).await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(verified(&app, &format!("user{i}@example.com"), false).await.1);
    }
    let arm_b: i64 = sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('config { retrieval { enabled = false } }') RETURNING config_id")
        .fetch_one(&app.db)
        .await
        .expect("config");
    let body = json!({"name": "Retrieval off", "description": "Does retrieval help?", "starts_at": (Utc::now() - Duration::minutes(1)).to_rfc3339(),
                      "config_ids": [arm_b], "default_config_id": 1});
    let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!((created.body["is_active"].clone(), created.body["message"].clone()), (json!(true), json!("Study created successfully")));
    let study = created.body["study_id"].as_str().expect("id").to_owned();

    let mut first = Vec::new();
    for user in &users {
        let (assigned, current) = arm_of(&app, *user, &study).await;
        assert!([1, arm_b].contains(&assigned));
        assert_eq!(assigned, current, "the user runs with their arm's config");
        first.push(assigned);
    }
    let details = admin.call(Method::GET, &format!("/api/analytics/studies/{study}/details"), None).await;
    assert_eq!(details.body["study"]["config_ids"], json!([1, arm_b]), "the arms are stored with the study");
    let listed = admin.call(Method::GET, "/api/analytics/studies/list", None).await;
    assert_eq!(listed.body["studies"][0]["assigned_users_count"], 5, "four users and the admin: {}", listed.text);

    // Deactivating resets everyone to the default; re-activating restores the same arms.
    let ended = admin.call(Method::POST, &format!("/api/analytics/studies/{study}/deactivate"), None).await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(ended.body["default_config_id"], 1);
    let on_default: i64 = sqlx::query_scalar("SELECT count(*) FROM \"user\" WHERE config_id = 1").fetch_one(&app.db).await.expect("count");
    assert_eq!(on_default, 5);
    assert_eq!(admin.call(Method::POST, &format!("/api/analytics/studies/{study}/deactivate"), None).await.status, 404);
    let again = admin.call(Method::POST, &format!("/api/analytics/studies/{study}/activate"), None).await;
    assert_eq!(again.status, 200, "{}", again.text);
    for (user, before) in users.iter().zip(&first) {
        assert_eq!(arm_of(&app, *user, &study).await, (*before, *before), "sticky");
    }

    // A user who signs up while the study runs is assigned at their first login, and the login
    // answers with their arm's config.
    let mut newcomer = app.plugin();
    assert_eq!(newcomer.sign_up("late@example.com", "Late Comer", "Secret123").await.status, 201);
    let late: Uuid = sqlx::query_scalar("UPDATE \"user\" SET verified = TRUE WHERE email = 'late@example.com' RETURNING user_id")
        .fetch_one(&app.db)
        .await
        .expect("user");
    let login = newcomer.log_in("late@example.com", "Secret123").await;
    let (assigned, _) = arm_of(&app, late, &study).await;
    assert_eq!(login.body["user"]["config_id"], assigned, "{}", login.text);
    if assigned == arm_b {
        assert_eq!(login.body["config"], "config { retrieval { enabled = false } }");
    }

    // Each query logs the config that served it.
    let worker = Worker::start(&app, "study").await;
    assert_eq!(newcomer.acquire_session().await.status, 200);
    let project = newcomer.call(Method::POST, "/api/project/create", Some(json!({"project_name": "study"}))).await;
    assert_eq!(project.status, 201, "{}", project.text);
    let reply = newcomer.call(Method::POST, "/api/completion/request", Some(completion_body(&[5], "def f():\n    "))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let query = Uuid::parse_str(reply.body["data"]["meta_query_id"].as_str().expect("id")).expect("uuid");
    app.eventually("SELECT EXISTS (SELECT 1 FROM meta_query WHERE meta_query_id = $1)", query).await;
    let exposure: Option<i64> =
        sqlx::query_scalar("SELECT config_id FROM meta_query WHERE meta_query_id = $1").bind(query).fetch_one(&app.db).await.expect("row");
    assert_eq!(exposure, Some(assigned));
    worker.stop().await;
}

#[tokio::test]
async fn evaluation_compares_each_arm_with_the_baseline() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = verified(&app, "admin@example.com", true).await;
    let (_, treated) = verified(&app, "treated@example.com", false).await;
    let (_, control) = verified(&app, "control@example.com", false).await;
    let mut arms = Vec::new();
    for _ in 0..2 {
        arms.push(
            sqlx::query_scalar::<_, i64>("INSERT INTO config (config_data) VALUES ('config {}') RETURNING config_id")
                .fetch_one(&app.db)
                .await
                .expect("config"),
        );
    }
    let (arm_b, arm_c) = (arms[0], arms[1]);
    let body = json!({"name": "Three arms", "starts_at": (Utc::now() - Duration::minutes(1)).to_rfc3339(), "config_ids": [arm_b, arm_c], "default_config_id": 1});
    let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
    let study = created.body["study_id"].as_str().expect("id").to_owned();
    // Pin the two users' arms (the draw is random), then give each arm its generations.
    for (user, arm) in [(treated, arm_b), (control, 1)] {
        sqlx::query("UPDATE config_assignment_history SET assigned_config_id = $3 WHERE user_id = $1 AND study_id = $2::uuid")
            .bind(user)
            .bind(&study)
            .bind(arm)
            .execute(&app.db)
            .await
            .expect("pin");
    }
    served(&app, treated, arm_b, 100, 60).await;
    served(&app, control, 1, 100, 45).await;
    served(&app, treated, 1, 50, 50).await; // served by a config that is not the user's arm: not counted

    let evaluation = admin.call(Method::GET, &format!("/api/analytics/studies/{study}/evaluation"), None).await;
    assert_eq!(evaluation.status, 200, "{}", evaluation.text);
    let results = evaluation.body["results"].as_array().expect("results");
    let result = |config: i64| results.iter().find(|r| r["config_id"] == config).expect("arm");
    let baseline = result(1);
    assert_eq!((baseline["is_baseline"].clone(), baseline["metrics"]["total_generations"].clone()), (json!(true), json!(100)));
    assert!(baseline.get("vs_baseline").is_none());
    let b = &result(arm_b)["vs_baseline"];
    // 60/100 vs 45/100: difference 0.15, pooled z = 2.1240, p = 0.0337, uplift 33.3 %.
    assert!((b["acceptance_rate_difference"].as_f64().expect("d") - 0.15).abs() < 1e-9, "{b}");
    assert!((b["z"].as_f64().expect("z") - 2.124).abs() < 1e-3, "{b}");
    assert!((b["p_value"].as_f64().expect("p") - 0.0337).abs() < 2e-4, "{b}");
    assert!((b["acceptance_rate_uplift_pct"].as_f64().expect("uplift") - 100.0 / 3.0).abs() < 1e-6);
    assert_eq!((b["is_significant"].clone(), b["is_better_acceptance"].clone()), (json!(true), json!(true)));
    let lower = b["difference_95ci"]["lower"].as_f64().expect("lower");
    assert!((lower - (0.15 - 1.959_964 * 0.069_821)).abs() < 1e-4, "{b}");
    // One user per arm: no user-level inference, so the pooled result is flagged as unconfirmed.
    assert_eq!(b["robust"], Value::Null, "{b}");
    // The empty third arm: no comparison, and a warning.
    assert_eq!(result(arm_c)["metrics"]["total_generations"], 0);
    let warnings: Vec<&str> = evaluation.body["warnings"].as_array().expect("warnings").iter().filter_map(Value::as_str).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains(&format!("config {arm_c} has 0 generations"))), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains(&format!("config {arm_b}: significant per generation but not per user"))), "{warnings:?}");

    assert_eq!(
        admin.call(Method::GET, "/api/analytics/studies/not-a-uuid/evaluation", None).await.body,
        json!({"detail": "Invalid study ID format"})
    );
    assert_eq!(admin.call(Method::GET, &format!("/api/analytics/studies/{}/details", Uuid::new_v4()), None).await.status, 404);
    let bad = admin
        .call(
            Method::POST,
            "/api/analytics/studies/create",
            Some(json!({"name": "x", "starts_at": "soon", "config_ids": [1], "default_config_id": 1})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let unknown = admin
        .call(
            Method::POST,
            "/api/analytics/studies/create",
            Some(json!({"name": "x", "starts_at": Utc::now().to_rfc3339(), "config_ids": [99999], "default_config_id": 1})),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let (mut user, _) = verified(&app, "curious@example.com", false).await;
    assert_eq!(user.call(Method::GET, "/api/analytics/studies/list", None).await.status, 403);
}

/// A study over `arms` (the first the baseline) that started a minute ago, with nobody assigned
/// yet: the test pins its own participants.
async fn empty_study(app: &TestApp, admin: &mut Plugin, arms: &[i64]) -> String {
    let body =
        json!({"name": "Pinned", "starts_at": (Utc::now() - Duration::minutes(1)).to_rfc3339(), "config_ids": arms, "default_config_id": arms[0]});
    let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let study = created.body["study_id"].as_str().expect("id").to_owned();
    sqlx::query("DELETE FROM config_assignment_history WHERE study_id = $1::uuid").bind(&study).execute(&app.db).await.expect("unassign");
    study
}

/// `n` verified users created straight in the table and assigned to `arm` of `study`.
async fn participants(app: &TestApp, study: &str, arm: i64, n: i64) -> Vec<Uuid> {
    sqlx::query_scalar(
        "WITH u AS (INSERT INTO \"user\" (user_id, joined_at, email, name, password, verified, config_id) \
                    SELECT gen_random_uuid(), now(), 'p' || gen_random_uuid() || '@example.com', 'Participant', 'x', TRUE, $2 FROM generate_series(1, $3) \
                    RETURNING user_id) \
         INSERT INTO config_assignment_history (user_id, study_id, assigned_config_id) SELECT user_id, $1::uuid, $2 FROM u RETURNING user_id",
    )
    .bind(study)
    .bind(arm)
    .bind(n)
    .fetch_all(&app.db)
    .await
    .expect("participants")
}

async fn new_config(app: &TestApp) -> i64 {
    sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('config {}') RETURNING config_id").fetch_one(&app.db).await.expect("config")
}

#[tokio::test]
async fn a_difference_carried_by_a_few_heavy_users_is_significant_per_generation_but_not_per_user() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = verified(&app, "admin@example.com", true).await;
    let arm = new_config(&app).await;
    let study = empty_study(&app, &mut admin, &[1, arm]).await;
    // tests/reference/study_statistics.py, EQUAL_BASE / EQUAL_ARM: four users per arm with 100
    // generations each; the users' own rates differ a lot.
    for (config, accepted) in [(1, [20, 60, 30, 50]), (arm, [50, 70, 30, 60])] {
        for (user, accepted) in participants(&app, &study, config, 4).await.into_iter().zip(accepted) {
            served(&app, user, config, 100, accepted).await;
        }
    }
    let evaluation = admin.call(Method::GET, &format!("/api/analytics/studies/{study}/evaluation"), None).await;
    assert_eq!(evaluation.status, 200, "{}", evaluation.text);
    let body = &evaluation.body;
    let arm_row = body["results"].as_array().expect("results").iter().find(|r| r["config_id"] == arm).expect("arm");
    let vs = &arm_row["vs_baseline"];
    let number = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("a number in {vs}"));
    // Pooled: z = 3.5455, p = 0.000392 — "significant".
    assert!((number(&vs["p_value"]) - 0.000_391_84).abs() < 1e-7, "{vs}");
    assert_eq!(vs["is_significant"], true);
    // Per user: SE 0.125, p = 0.3173, interval [−0.12, 0.37] — not.
    let robust = &vs["robust"];
    assert!((number(&robust["standard_error"]) - 0.125).abs() < 1e-9, "{vs}");
    assert!((number(&robust["p_value"]) - 0.317_310_5).abs() < 1e-6, "{vs}");
    assert!((number(&robust["difference_95ci"]["lower"]) + 0.119_995_5).abs() < 1e-6, "{vs}");
    assert_eq!((robust["holm_p_value"].clone(), robust["is_significant"].clone()), (robust["p_value"].clone(), json!(false)));
    // The always-valid view is more careful still, and no pre-study data means no CUPED.
    assert!(number(&vs["sequential"]["p_value"]) >= number(&robust["p_value"]), "{vs}");
    assert_eq!(vs["cuped"], Value::Null);
    let warnings = body["warnings"].to_string();
    assert!(warnings.contains(&format!("config {arm}: significant per generation but not per user")), "{warnings}");
    assert_eq!(body["sample_ratio"]["mismatch"], false, "4 and 4 users: {}", body["sample_ratio"]);
    assert_eq!(body["methods"]["alpha"], 0.05);
}

#[tokio::test]
async fn an_assignment_far_from_the_planned_split_raises_the_sample_ratio_warning_and_cuped_uses_pre_study_acceptance() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = verified(&app, "admin@example.com", true).await;
    let arm = new_config(&app).await;
    let study = empty_study(&app, &mut admin, &[1, arm]).await;
    let baseline_users = participants(&app, &study, 1, 300).await;
    let arm_users = participants(&app, &study, arm, 100).await;
    // Each user accepts about as often as before the study: their pre-study rate explains most
    // of the between-user variance, which CUPED removes.
    for (i, user) in baseline_users.iter().take(6).chain(arm_users.iter().take(6)).enumerate() {
        let (config, rate) = if i < 6 { (1, 10 + 12 * i as i32) } else { (arm, 14 + 12 * (i as i32 - 6)) };
        served(&app, *user, config, 100, rate).await;
        served_before(&app, *user, 100, rate - 2).await;
    }
    let evaluation = admin.call(Method::GET, &format!("/api/analytics/studies/{study}/evaluation"), None).await;
    assert_eq!(evaluation.status, 200, "{}", evaluation.text);
    let srm = &evaluation.body["sample_ratio"];
    // 300 vs 100 against 200/200: χ² = 100, p ≈ 1.5e-23.
    assert!((srm["chi_square"].as_f64().expect("χ²") - 100.0).abs() < 1e-9, "{srm}");
    assert_eq!((srm["mismatch"].clone(), srm["degrees_of_freedom"].clone()), (json!(true), json!(1)));
    assert!(srm["p_value"].as_f64().expect("p") < 1e-20, "{srm}");
    assert!(evaluation.body["warnings"].to_string().contains("sample ratio mismatch"), "{}", evaluation.body["warnings"]);
    let vs = &evaluation.body["results"].as_array().expect("results").iter().find(|r| r["config_id"] == arm).expect("arm")["vs_baseline"];
    let cuped = &vs["cuped"];
    assert_eq!(cuped["users_with_covariate"], 12, "{vs}");
    assert!(cuped["variance_ratio"].as_f64().expect("ratio") < 0.2, "{vs}");
    assert!(cuped["standard_error"].as_f64().expect("se") < vs["robust"]["standard_error"].as_f64().expect("se"), "CUPED narrows the interval: {vs}");
}

/// `n` completion generations `user` had a week before the study, under the baseline, `accepted` of them accepted.
async fn served_before(app: &TestApp, user: Uuid, n: i32, accepted: i32) {
    served(app, user, 1, n, accepted).await;
    sqlx::query(
        "UPDATE meta_query SET \"timestamp\" = now() - interval '7 days' WHERE meta_query_id IN \
         (SELECT meta_query_id FROM meta_query WHERE user_id = $1 ORDER BY \"timestamp\" DESC LIMIT $2)",
    )
    .bind(user)
    .bind(i64::from(n))
    .execute(&app.db)
    .await
    .expect("back-dated");
}

#[tokio::test]
async fn a_study_from_the_upstream_websites_form_is_created_with_its_zone_less_times_read_as_utc() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = verified(&app, "form@example.com", true).await;
    // `<input type="datetime-local">` values, as upstream's form sends them: no seconds, no zone.
    let body = json!({"name": "From the form", "description": "", "starts_at": "2030-03-01T09:30", "ends_at": "2030-04-01T17:00",
        "config_ids": [1], "default_config_id": 1});
    let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["is_active"], false, "it starts in the future");
    let id = created.body["study_id"].as_str().expect("id").to_owned();
    let details = admin.call(Method::GET, &format!("/api/analytics/studies/{id}/details"), None).await;
    assert_eq!(details.status, 200, "{}", details.text);
    let stored =
        |field: &str| chrono::DateTime::parse_from_rfc3339(details.body["study"][field].as_str().expect(field)).expect("RFC 3339 out").to_utc();
    assert_eq!(stored("starts_at").to_rfc3339(), "2030-03-01T09:30:00+00:00");
    assert_eq!(stored("ends_at").to_rfc3339(), "2030-04-01T17:00:00+00:00");

    // Other forms Python's fromisoformat reads: a date, a space, an offset without a colon.
    for (starts_at, expected) in [
        ("2031-01-02", "2031-01-02T00:00:00+00:00"),
        ("2031-01-02 08:15:00.5", "2031-01-02T08:15:00.500+00:00"),
        ("2031-01-02T10:00+0200", "2031-01-02T08:00:00+00:00"),
    ] {
        let body = json!({"name": starts_at, "starts_at": starts_at, "config_ids": [1], "default_config_id": 1});
        let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
        assert_eq!(created.status, 201, "{starts_at}: {}", created.text);
        let id = created.body["study_id"].as_str().expect("id").to_owned();
        let details = admin.call(Method::GET, &format!("/api/analytics/studies/{id}/details"), None).await;
        let at = chrono::DateTime::parse_from_rfc3339(details.body["study"]["starts_at"].as_str().expect("starts_at")).expect("RFC 3339").to_utc();
        assert_eq!(at.to_rfc3339(), expected, "{starts_at}");
    }
    for bad in ["2031-01", "2031-01-02T25:00", "tomorrow"] {
        let body = json!({"name": "x", "starts_at": bad, "config_ids": [1], "default_config_id": 1});
        let refused = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text);
        assert!(refused.body["detail"].as_str().expect("detail").starts_with("Invalid starts_at: expected an ISO 8601 time"), "{}", refused.text);
    }
}
