use std::collections::BTreeMap;

use code4me_shared::connect::{MIGRATOR, lazy_pool};
use code4me_tests::postgres::cluster;
use pgvector::Vector;
use sqlx::{PgPool, Row};

async fn migrated_pool() -> PgPool {
    lazy_pool(&cluster().fresh_database().await)
}

const TABLES: &[&str] = &[
    "config",
    "user",
    "model_name",
    "plugin_version",
    "trigger_type",
    "programming_language",
    "context",
    "contextual_telemetry",
    "behavioral_telemetry",
    "project",
    "project_users",
    "session",
    "session_projects",
    "chat",
    "meta_query",
    "completion_query",
    "chat_query",
    "had_generation",
    "ground_truth",
    "documentation",
    "study",
    "config_assignment_history",
];

#[tokio::test]
async fn migrations_apply_from_zero_and_a_second_run_changes_nothing() {
    let pool = lazy_pool(&cluster().empty_database().await);
    if let Err(error) = MIGRATOR.run(&pool).await {
        panic!("first run applies everything: {error}\n{}", cluster().log_tail(40));
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&pool).await.expect("count");
    assert_eq!(applied as usize, MIGRATOR.iter().count());

    MIGRATOR.run(&pool).await.expect("second run is a no-op");
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&pool).await.expect("count");
    assert_eq!(again, applied);
    let languages: i64 = sqlx::query_scalar("SELECT count(*) FROM programming_language").fetch_one(&pool).await.expect("count");
    assert_eq!(languages, 179, "seeds were not inserted twice");

    let tables: Vec<String> = sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
        .fetch_all(&pool)
        .await
        .expect("tables");
    for table in TABLES {
        assert!(tables.iter().any(|t| t == table), "table {table} exists");
    }
    let vector: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetch_optional(&pool).await.expect("extension");
    assert!(vector.is_some(), "pgvector is installed by the first migration");
}

#[tokio::test]
async fn all_179_languages_are_seeded_in_the_documented_id_order() {
    let pool = migrated_pool().await;
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT language_id, language_name FROM programming_language ORDER BY language_id").fetch_all(&pool).await.expect("languages");
    assert_eq!(rows.len(), 179);
    assert!(rows.iter().enumerate().all(|(i, (id, _))| *id == i as i64 + 1), "ids are 1..=179 without gaps");
    let by_id: BTreeMap<i64, &str> = rows.iter().map(|(id, name)| (*id, name.as_str())).collect();
    for (id, name) in [
        (1, "Oracle NetSuite"),
        (11, "Java"),
        (41, "TypeScript"),
        (47, "Python"),
        (55, "C#"),
        (82, "Go"),
        (98, "Kotlin"),
        (112, "Plain text"),
        (123, "C/C++"),
        (169, "JavaScript"),
        (179, "unknown"),
    ] {
        assert_eq!(by_id[&id], name, "language {id}");
    }
}

#[tokio::test]
async fn the_config_languages_map_agrees_with_the_language_table() {
    let pool = migrated_pool().await;
    let hocon: String = sqlx::query_scalar("SELECT config_data FROM config WHERE config_id = 1").fetch_one(&pool).await.expect("config 1");
    let block = hocon.split("languages {").nth(1).expect("languages block").split('}').next().expect("block end");
    let from_config: BTreeMap<i64, String> = block
        .lines()
        .filter_map(|line| {
            let (name, id) = line.trim().trim_end_matches(',').rsplit_once(" = ")?;
            Some((id.parse().ok()?, serde_json::from_str::<String>(name).ok()?))
        })
        .collect();
    let from_table: BTreeMap<i64, String> = sqlx::query_as::<_, (i64, String)>("SELECT language_id, language_name FROM programming_language")
        .fetch_all(&pool)
        .await
        .expect("languages")
        .into_iter()
        .collect();
    assert_eq!(from_config.len(), 179);
    assert_eq!(from_config, from_table);
}

#[tokio::test]
async fn five_models_are_seeded_and_smollm2_is_the_default_for_completion_and_chat() {
    let pool = migrated_pool().await;
    let rows = sqlx::query("SELECT model_id, model_name, is_instruction_tuned, prompt_templates, model_parameters FROM model_name ORDER BY model_id")
        .fetch_all(&pool)
        .await
        .expect("models");
    assert_eq!(rows.len(), 5);
    let names: Vec<String> = rows.iter().map(|r| r.get("model_name")).collect();
    assert_eq!(
        names,
        [
            "deepseek-ai/deepseek-coder-1.3b-base",
            "bigcode/starcoder2-3b",
            "mistralai/Ministral-8B-Instruct-2410",
            "JetBrains/Mellum-4b-base",
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        ]
    );
    for row in &rows {
        let templates: serde_json::Value = serde_json::from_str(row.get("prompt_templates")).expect("prompt_templates is JSON");
        let parameters: serde_json::Value = serde_json::from_str(row.get("model_parameters")).expect("model_parameters is JSON");
        assert!(templates.is_object() && parameters.is_object());
    }
    let starcoder: serde_json::Value = serde_json::from_str(rows[1].get("prompt_templates")).expect("json");
    assert_eq!(starcoder["fim_template"]["single_file_template"], "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>");
    assert_eq!(starcoder["stop_tokens"], serde_json::json!(["<file_sep>", "\n\n"]));

    let smol_parameters: serde_json::Value = serde_json::from_str(rows[4].get("model_parameters")).expect("json");
    assert_eq!(smol_parameters["file"], "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(smol_parameters["kinds"], serde_json::json!(["completion", "chat"]));

    let hocon: String = sqlx::query_scalar("SELECT config_data FROM config WHERE config_id = 1").fetch_one(&pool).await.expect("config 1");
    for role in ["isChatModel = false", "isChatModel = true"] {
        let line = format!("{{ id = 5, name = \"SmolLM2-135M-Instruct\", {role}, isDefault = true }}");
        assert!(hocon.contains(&line), "config row 1 makes SmolLM2 the default ({role})");
    }
    let other_defaults = hocon.lines().filter(|l| l.contains("isDefault = true") && !l.contains("id = 5,")).count();
    assert_eq!(other_defaults, 0, "no other model is a default");
}

#[tokio::test]
async fn reference_rows_keep_their_ids_and_new_rows_continue_after_them() {
    let pool = migrated_pool().await;
    let triggers: Vec<String> =
        sqlx::query_scalar("SELECT trigger_type_name FROM trigger_type ORDER BY trigger_type_id").fetch_all(&pool).await.expect("triggers");
    assert_eq!(triggers, ["manual", "auto", "idle"]);
    let versions: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT version_id, version_name, ide_type FROM plugin_version ORDER BY version_id").fetch_all(&pool).await.expect("versions");
    assert_eq!(versions.len(), 5);
    assert_eq!(versions[2], (3, "0.1.0j".to_owned(), "JetBrains".to_owned()));
    assert_eq!(versions[4], (5, "0.1.0w".to_owned(), "Web".to_owned()), "the web editor's queries carry their own version");

    let next_config: i64 =
        sqlx::query_scalar("INSERT INTO config (config_data) VALUES ('{}') RETURNING config_id").fetch_one(&pool).await.expect("insert");
    assert_eq!(next_config, 2, "sequences start after the seeded ids");
    let next_model: i64 =
        sqlx::query_scalar("INSERT INTO model_name (model_name) VALUES ('local/x') RETURNING model_id").fetch_one(&pool).await.expect("insert");
    assert_eq!(next_model, 6);
}

#[tokio::test]
async fn the_schema_enforces_the_contract_constraints() {
    let pool = migrated_pool().await;
    let bad_type = sqlx::query(
        "INSERT INTO meta_query (meta_query_id, session_id, project_id, \"timestamp\", query_type) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), now(), 'other')",
    )
    .execute(&pool)
    .await
    .expect_err("query_type outside chat/completion is rejected");
    assert!(bad_type.to_string().contains("violates"), "{bad_type}");
    let orphan_user = sqlx::query(
        "INSERT INTO \"user\" (user_id, joined_at, email, name, password, config_id) VALUES (gen_random_uuid(), now(), 'a@b.c', 'abc', 'x', 999)",
    )
    .execute(&pool)
    .await
    .expect_err("config_id must reference a config");
    assert!(orphan_user.to_string().contains("foreign key"), "{orphan_user}");
}

#[tokio::test]
async fn pgvector_cosine_search_returns_the_nearest_documentation_row() {
    let pool = migrated_pool().await;
    let basis = |axis: usize, tilt: f32| {
        let mut v = vec![0.0_f32; 384];
        v[axis] = 1.0;
        v[(axis + 1) % 384] = tilt;
        Vector::from(v)
    };
    for (content, embedding) in [("about sorting", basis(0, 0.1)), ("about parsing", basis(10, 0.1)), ("about networking", basis(200, 0.1))] {
        sqlx::query("INSERT INTO documentation (content, language, embedding) VALUES ($1, 'Python', $2)")
            .bind(content)
            .bind(embedding)
            .execute(&pool)
            .await
            .unwrap_or_else(|error| panic!("insert: {error}\n{}", cluster().log_tail(40)));
    }
    let query = basis(10, 0.3);
    let (nearest, distance): (String, f64) =
        sqlx::query_as("SELECT content, embedding <=> $1 AS distance FROM documentation ORDER BY embedding <=> $1 LIMIT 1")
            .bind(query)
            .fetch_one(&pool)
            .await
            .expect("search");
    assert_eq!(nearest, "about parsing");
    assert!(distance > 0.0 && distance < 0.1, "cosine distance {distance}");

    let wrong_dimension = sqlx::query("INSERT INTO documentation (content, language, embedding) VALUES ('x', 'Go', $1)")
        .bind(Vector::from(vec![1.0_f32; 3]))
        .execute(&pool)
        .await;
    assert!(wrong_dimension.is_err(), "embeddings must have 384 dimensions");
}

#[tokio::test]
async fn telemetry_stored_out_of_range_before_the_door_checked_it_is_repaired_and_kept_out() {
    let pool = lazy_pool(&cluster().empty_database().await);
    MIGRATOR.run_to(20261203000003, &pool).await.expect("the schema before the repair");
    // What an old server let through: the overflowing typing speed of the report, a
    // duration near 2^63, NaN, negative and oversized positions — beside a sane row.
    sqlx::query(
        "INSERT INTO behavioral_telemetry (behavioral_telemetry_id, time_since_last_shown, time_since_last_accepted, typing_speed) VALUES \
         ('00000000-0000-0000-0000-000000000001', 9223372036854775000, 5, 1e308), \
         ('00000000-0000-0000-0000-000000000002', 10, -7, 'NaN'), \
         ('00000000-0000-0000-0000-000000000003', 1200, 5000, 250.5), \
         ('00000000-0000-0000-0000-000000000004', NULL, NULL, 1e308)",
    )
    .execute(&pool)
    .await
    .expect("poisoned rows");
    sqlx::query(
        "INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, caret_line, document_char_length, relative_document_position) \
         VALUES ('00000000-0000-0000-0000-000000000001', 1, 1, 1, -1, 2000000000, 'Infinity'), ('00000000-0000-0000-0000-000000000002', 1, 1, 1, 3, 120, 0.5)",
    )
    .execute(&pool)
    .await
    .expect("poisoned rows");
    let overflow = sqlx::query_scalar::<_, Option<f64>>("SELECT avg(typing_speed)::float8 FROM behavioral_telemetry WHERE typing_speed <> 'NaN'")
        .fetch_one(&pool)
        .await;
    assert!(overflow.is_err(), "two poisoned values overflow avg(), as in the report: {overflow:?}");

    MIGRATOR.run(&pool).await.expect("the repair");
    let behaviour: Vec<(Option<i64>, Option<i64>, Option<f64>)> = sqlx::query_as(
        "SELECT time_since_last_shown, time_since_last_accepted, typing_speed FROM behavioral_telemetry ORDER BY behavioral_telemetry_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert_eq!(behaviour, vec![(None, Some(5), None), (Some(10), None, None), (Some(1200), Some(5000), Some(250.5)), (None, None, None)]);
    let context: Vec<(Option<i32>, Option<i32>, Option<f64>)> = sqlx::query_as(
        "SELECT caret_line, document_char_length, relative_document_position FROM contextual_telemetry ORDER BY contextual_telemetry_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert_eq!(context, vec![(None, None, None), (Some(3), Some(120), Some(0.5))]);
    let average: Option<f64> =
        sqlx::query_scalar("SELECT avg(typing_speed)::float8 FROM behavioral_telemetry").fetch_one(&pool).await.expect("no overflow");
    assert_eq!(average, Some(250.5));
    let refused = sqlx::query("INSERT INTO behavioral_telemetry (behavioral_telemetry_id, typing_speed) VALUES (gen_random_uuid(), 1e308)")
        .execute(&pool)
        .await;
    let code = refused.expect_err("the CHECK keeps it out").as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23514"), "check_violation");
}

#[tokio::test]
async fn the_analytics_rollups_are_backfilled_from_the_rows_stored_before_them() {
    let pool = lazy_pool(&cluster().empty_database().await);
    MIGRATOR.run_to(20261204000003, &pool).await.expect("the schema before the rollups");
    // Three completions over two UTC days and one chat, one user, one session.
    sqlx::query(
        "WITH u AS (INSERT INTO \"user\" (user_id, email, name, password, joined_at, verified, config_id) \
                    VALUES ('00000000-0000-0000-0000-0000000000aa', 'a@example.com', 'A', 'x', now(), true, 1)), \
              s AS (INSERT INTO session (session_id, user_id, start_time) VALUES ('00000000-0000-0000-0000-0000000000bb', '00000000-0000-0000-0000-0000000000aa', now())) \
         INSERT INTO project (project_id, project_name, created_at) VALUES ('00000000-0000-0000-0000-0000000000cc', 'p', now())",
    )
    .execute(&pool)
    .await
    .expect("user, session, project");
    for (i, (at, kind, accepted)) in [
        ("2026-11-01T09:15:00Z", "completion", true),
        ("2026-11-01T23:59:00Z", "completion", false),
        ("2026-11-02T00:01:00Z", "completion", true),
        ("2026-11-02T08:00:00Z", "chat", false),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("00000000-0000-0000-0000-00000000000{i}");
        sqlx::query(
            "INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id) VALUES ($1::uuid, 1, 2, 47)",
        )
        .bind(&id)
        .execute(&pool)
        .await
        .expect("telemetry");
        sqlx::query(
            "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, session_id, project_id, \"timestamp\", query_type) \
             VALUES ($1::uuid, '00000000-0000-0000-0000-0000000000aa', $1::uuid, '00000000-0000-0000-0000-0000000000bb', '00000000-0000-0000-0000-0000000000cc', $2::timestamptz, $3)",
        )
        .bind(&id)
        .bind(at)
        .bind(kind)
        .execute(&pool)
        .await
        .expect("query");
        sqlx::query(
            "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs) \
             VALUES ($1::uuid, 5, 'x', 100 + $2, '{}', $3, 0.5, '{}')",
        )
        .bind(&id)
        .bind(i as i32)
        .bind(accepted)
        .execute(&pool)
        .await
        .expect("generation");
    }

    MIGRATOR.run(&pool).await.expect("the rollups and their backfill");
    let days: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD'), sum(generations)::bigint, sum(accepted)::bigint FROM analytics_generation_rollup \
         WHERE grain = 'd' AND query_type = 'completion' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("day rows");
    assert_eq!(days, vec![("2026-11-01".to_owned(), 2, 1), ("2026-11-02".to_owned(), 1, 1)]);
    let hours: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT bucket) FROM analytics_query_rollup WHERE grain = 'h'").fetch_one(&pool).await.expect("hours");
    assert_eq!(hours, 4);
    let users: (i64, i64) = sqlx::query_as("SELECT sum(queries)::bigint, sum(generations)::bigint FROM analytics_user_rollup WHERE grain = 'd'")
        .fetch_one(&pool)
        .await
        .expect("user rows");
    assert_eq!(users, (4, 3), "four queries, three completion generations");
    let latencies: Vec<i32> = sqlx::query_scalar("SELECT value_ms FROM analytics_latency_rollup WHERE grain = 'd' AND stage = 0 ORDER BY 1")
        .fetch_all(&pool)
        .await
        .expect("histogram");
    assert_eq!(latencies, vec![100, 101, 102]);
    let loose: i64 =
        sqlx::query_scalar("SELECT count(*) FROM analytics_generation_rollup WHERE NOT compacted").fetch_one(&pool).await.expect("loose rows");
    assert_eq!(loose, 0, "the backfill writes merged rows");
    let copied: (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT config_id, language_id FROM had_generation LIMIT 1").fetch_one(&pool).await.expect("copied");
    assert_eq!(copied, (Some(1), Some(47)), "generations carry their query's telemetry and the user's config");
}
