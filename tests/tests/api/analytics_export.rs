//! `GET /api/analytics/export`: datasets as CSV and Parquet for an admin, with pseudonymised ids
//! (one key per export), consent honoured (completion text only with `store_context`, telemetry
//! unless withdrawn), study participants with their assignment, exposure and pre-period.

use chrono::{Duration, Utc};
use code4me_tests::TestApp;
use code4me_tests::plugin::Plugin;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// A signed-in user, verified (so studies take them), with `preference` stored as their consent.
async fn user(app: &TestApp, email: &str, admin: bool, preference: Option<&str>) -> (Plugin, Uuid) {
    let (plugin, id) = app.signed_up(email, admin).await;
    sqlx::query("UPDATE \"user\" SET verified = TRUE, preference = $2 WHERE user_id = $1")
        .bind(id)
        .bind(preference)
        .execute(&app.db)
        .await
        .expect("consent");
    (plugin, id)
}

/// A completion query of `user` an hour ago under `config`, with telemetry and one generation.
async fn completion(app: &TestApp, user: Uuid, config: i64, text: &str, accepted: bool, ago: Duration) -> Uuid {
    let (session, project, query) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let at = Utc::now() - ago;
    sqlx::query("INSERT INTO session (session_id, user_id, start_time) VALUES ($1, $2, $3)")
        .bind(session)
        .bind(user)
        .bind(at)
        .execute(&app.db)
        .await
        .expect("session");
    sqlx::query("INSERT INTO project (project_id, project_name, created_at) VALUES ($1, 'p', $2)")
        .bind(project)
        .bind(at)
        .execute(&app.db)
        .await
        .expect("project");
    sqlx::query(
        "WITH c AS (INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, caret_line, document_char_length) \
                    VALUES ($1, 3, 1, 47, 12, 400)), \
              b AS (INSERT INTO behavioral_telemetry (behavioral_telemetry_id, typing_speed) VALUES ($1, 321.5)) \
         INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, behavioral_telemetry_id, session_id, project_id, \"timestamp\", total_serving_time, query_type, config_id) \
         VALUES ($1, $2, $1, $1, $3, $4, $5, 120, 'completion', $6)",
    )
    .bind(query)
    .bind(user)
    .bind(session)
    .bind(project)
    .bind(at)
    .bind(config)
    .execute(&app.db)
    .await
    .expect("query");
    sqlx::query(
        "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, accepted_at) \
         VALUES ($1, 5, $2, 80, ARRAY[$3::timestamptz], $4, 0.7, ARRAY[-0.3, -0.4], CASE WHEN $4 THEN $3 END)",
    )
    .bind(query)
    .bind(text)
    .bind(at)
    .bind(accepted)
    .execute(&app.db)
    .await
    .expect("generation");
    query
}

struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    bytes: Vec<u8>,
}

async fn download(plugin: &mut Plugin, query: &str) -> Download {
    let response = plugin.raw(Method::GET, &format!("/api/analytics/export?{query}")).await;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    Download { status: response.status().as_u16(), content_type, disposition, bytes: response.bytes().await.expect("body").to_vec() }
}

fn csv_rows(bytes: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().expect("header").clone();
    reader.records().map(|r| headers.iter().map(str::to_owned).zip(r.expect("record").iter().map(str::to_owned)).collect()).collect()
}

#[tokio::test]
async fn generations_and_queries_leave_pseudonymised_and_only_with_consent() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = user(&app, "admin@example.com", true, None).await;
    let (_, sharing) = user(&app, "sharing@example.com", false, Some(r#"{"store_context": true, "store_behavioral_telemetry": true}"#)).await;
    let (mut private, withdrawn) = user(
        &app,
        "private@example.com",
        false,
        Some(r#"{"store_context": false, "store_contextual_telemetry": false, "store_behavioral_telemetry": false}"#),
    )
    .await;
    completion(&app, sharing, 1, "return total", true, Duration::hours(1)).await;
    completion(&app, sharing, 1, "pass", false, Duration::hours(2)).await;
    completion(&app, withdrawn, 1, "secret_algorithm()", true, Duration::hours(3)).await;

    let file = download(&mut admin, "dataset=generations&format=csv").await;
    assert_eq!(file.status, 200);
    assert!(file.content_type.starts_with("text/csv"), "{}", file.content_type);
    assert!(file.disposition.starts_with("attachment; filename=\"code4me-generations-"), "{}", file.disposition);
    let text = String::from_utf8(file.bytes.clone()).expect("utf-8");
    assert!(!text.contains(&sharing.to_string()) && !text.contains(&withdrawn.to_string()), "no raw user id leaves");
    assert!(!text.contains("secret_algorithm"), "no code of a user without store_context consent");
    let rows = csv_rows(&file.bytes);
    assert_eq!(rows.len(), 3);
    // In time order: the withdrawn user's (3 h ago), then the sharing user's two.
    assert_eq!((rows[0]["completion"].as_str(), rows[0]["language"].as_str()), ("", ""), "{:?}", rows[0]);
    assert_eq!(rows[0]["completion_chars"], "18", "lengths stay: they are not code");
    assert_eq!((rows[2]["completion"].as_str(), rows[2]["language"].as_str(), rows[2]["accepted"].as_str()), ("return total", "Python", "true"));
    assert_eq!(rows[1]["participant"], rows[2]["participant"], "one pseudonym per user within an export");
    assert_ne!(rows[0]["participant"], rows[1]["participant"]);
    assert_eq!(rows[1]["participant"].len(), 16);
    let again = csv_rows(&download(&mut admin, "dataset=generations").await.bytes);
    assert_ne!(again[1]["participant"], rows[1]["participant"], "another export, another key");

    let queries = csv_rows(&download(&mut admin, "dataset=queries&format=csv").await.bytes);
    assert_eq!(queries.len(), 3);
    assert_eq!((queries[0]["typing_speed"].as_str(), queries[0]["caret_line"].as_str()), ("", ""), "withdrawn: {:?}", queries[0]);
    assert_eq!((queries[2]["typing_speed"].as_str(), queries[2]["caret_line"].as_str()), ("321.5", "12"));
    assert_eq!((queries[2]["generations"].as_str(), queries[1]["accepted"].as_str()), ("1", "false"));

    assert_eq!(download(&mut private, "dataset=generations").await.status, 403, "admins only");
    let bad = download(&mut admin, "dataset=passwords").await;
    assert_eq!(bad.status, 400);
    assert_eq!(download(&mut admin, "dataset=queries&format=xlsx").await.status, 400);
    assert_eq!(download(&mut admin, "dataset=queries&start_time=yesterday").await.status, 400);
}

#[tokio::test]
async fn parquet_holds_the_same_rows_with_types_and_nulls() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let app = TestApp::spawn().await;
    let (mut admin, _) = user(&app, "admin@example.com", true, None).await;
    let (_, someone) = user(&app, "someone@example.com", false, Some(r#"{"store_context": true}"#)).await;
    for i in 0..5 {
        completion(&app, someone, 1, "x = 1", i % 2 == 0, Duration::minutes(10 + i)).await;
    }
    let file = download(&mut admin, "dataset=generations&format=parquet").await;
    assert_eq!((file.status, file.content_type.as_str()), (200, "application/vnd.apache.parquet"));
    let reader = SerializedFileReader::new(axum::body::Bytes::from(file.bytes)).expect("a Parquet file");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 5);
    let rows: Vec<parquet::record::Row> = reader.get_row_iter(None).expect("rows").map(|r| r.expect("row")).collect();
    let field = |row: &parquet::record::Row, name: &str| row.get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f.clone()).expect(name);
    assert_eq!(field(&rows[0], "completion"), Field::Str("x = 1".into()));
    assert_eq!(field(&rows[0], "generation_ms"), Field::Long(80));
    assert_eq!(field(&rows[0], "confidence"), Field::Double(0.7));
    let accepted: Vec<Field> = rows.iter().map(|r| field(r, "accepted")).collect();
    assert_eq!(accepted.iter().filter(|f| **f == Field::Bool(true)).count(), 3);
    assert!(rows.iter().any(|r| field(r, "accepted_at") == Field::Null), "NULL stays NULL");
    assert!(matches!(field(&rows[0], "query_time"), Field::TimestampMicros(_)));
    // An empty window is a valid, empty file.
    let empty = download(&mut admin, "dataset=generations&format=parquet&start_time=2019-01-01&end_time=2019-02-01").await;
    let reader = SerializedFileReader::new(axum::body::Bytes::from(empty.bytes)).expect("a Parquet file");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    let header_only = download(&mut admin, "dataset=queries&start_time=2019-01-01&end_time=2019-02-01").await;
    assert!(String::from_utf8(header_only.bytes).expect("utf-8").starts_with("query_id,participant,session,query_time"));
}

#[tokio::test]
async fn a_study_export_has_one_row_per_participant_with_assignment_exposure_and_pre_period() {
    let app = TestApp::spawn().await;
    let (mut admin, _) = user(&app, "admin@example.com", true, None).await;
    let (_, a) = user(&app, "a@example.com", false, None).await;
    let (_, b) = user(&app, "b@example.com", false, None).await;
    let arm: i64 =
        sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('config {}') RETURNING config_id").fetch_one(&app.db).await.expect("config");
    let body = json!({"name": "Export me", "starts_at": (Utc::now() - Duration::hours(5)).to_rfc3339(), "config_ids": [arm], "default_config_id": 1});
    let created = admin.call(Method::POST, "/api/analytics/studies/create", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let study = created.body["study_id"].as_str().expect("id").to_owned();
    sqlx::query("DELETE FROM config_assignment_history WHERE study_id = $1::uuid").bind(&study).execute(&app.db).await.expect("unassign");
    for (user, config) in [(a, 1), (b, arm)] {
        sqlx::query("INSERT INTO config_assignment_history (user_id, study_id, assigned_config_id) VALUES ($1, $2::uuid, $3)")
            .bind(user)
            .bind(&study)
            .bind(config)
            .execute(&app.db)
            .await
            .expect("assign");
    }
    // b: two queries on their arm (one accepted), one on another config (not exposure), and one
    // before the study (pre-period).
    completion(&app, b, arm, "y", true, Duration::hours(1)).await;
    completion(&app, b, arm, "z", false, Duration::hours(2)).await;
    completion(&app, b, 1, "w", true, Duration::hours(3)).await;
    completion(&app, b, 1, "v", true, Duration::days(2)).await;
    let rows = csv_rows(&download(&mut admin, "dataset=studies&format=csv").await.bytes);
    let mine: Vec<_> = rows.iter().filter(|r| r["study_id"] == study).collect();
    assert_eq!(mine.len(), 2);
    let (baseline, treated) = (mine[0], mine[1]);
    assert_eq!((baseline["is_baseline"].as_str(), baseline["exposed_queries"].as_str()), ("true", "0"));
    assert_eq!(treated["arm_config_id"], arm.to_string());
    assert_eq!((treated["exposed_queries"].as_str(), treated["generations"].as_str(), treated["accepted"].as_str()), ("2", "2", "1"), "{treated:?}");
    assert_eq!((treated["pre_generations"].as_str(), treated["pre_accepted"].as_str()), ("1", "1"));
    assert_eq!(treated["study_name"], "Export me");
}

#[test]
fn the_readme_documents_every_exported_column() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
    let dictionary = readme.split("### Data export").nth(1).expect("a Data export section");
    for dataset in [
        code4me_server::services::export::Dataset::Generations,
        code4me_server::services::export::Dataset::Queries,
        code4me_server::services::export::Dataset::Studies,
    ] {
        for column in code4me_server::services::export::columns(dataset) {
            assert!(dictionary.contains(&format!("`{}`", column.name)), "README's dictionary lacks {}.{}", dataset.name(), column.name);
        }
    }
}
