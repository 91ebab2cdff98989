//! Completion queries of a batch written with one statement per table: every column goes to
//! PostgreSQL as an array and `unnest` turns the arrays back into rows. A batch of 256 queries is
//! then seven statements instead of about two thousand, and the analytics triggers (statement
//! level, over the inserted rows) run once per batch instead of once per row.
//!
//! The rows are the ones [`super::write_query`] writes for a completion, with the same ids, the same
//! text preparation and the same `ON CONFLICT DO NOTHING`, so a job run twice (or written once
//! alone after its batch was refused) stores its rows once. Chat turns keep the per-query path: the
//! chat they attach to decides which rows they get.
//!
//! Feedback is bulk too ([`write_feedback`]): one `UPDATE` sets the acceptance of every generation
//! the batch has feedback for, one `INSERT` stores the ground truths, one parks the feedback that
//! came before its query.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use code4me_shared::jobs::telemetry::{BehavioralRow, ContextualRow, FeedbackRecord, QueryRecord};
use code4me_shared::survival::edit_similarity_within;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::identifying;
use crate::pg_text::{pg_keys, pg_text, pg_text_opt};

/// Writes the rows of `queries` (all of them completions) in one statement per table.
pub async fn write_completions(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    if queries.is_empty() {
        return Ok(());
    }
    insert_contexts(tx, queries).await?;
    insert_contextual(tx, queries).await?;
    insert_behavioral(tx, queries).await?;
    insert_meta_queries(tx, queries).await?;
    let ids: Vec<Uuid> = queries.iter().map(|q| q.query_id).collect();
    sqlx::query("INSERT INTO completion_query (meta_query_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    insert_generations(tx, queries).await
}

async fn insert_contexts(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    let (mut ids, mut prefixes, mut suffixes, mut file_names, mut selections) = (vec![], vec![], vec![], vec![], vec![]);
    for q in queries {
        let Some(c) = &q.context else { continue };
        ids.push(q.query_id);
        prefixes.push(pg_text(&c.prefix));
        suffixes.push(pg_text(&c.suffix));
        file_names.push(c.file_name.as_deref().map(identifying));
        selections.push(pg_text_opt(c.selected_text.as_deref()));
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO context (context_id, prefix, suffix, file_name, selected_text) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&prefixes)
    .bind(&suffixes)
    .bind(&file_names)
    .bind(&selections)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_contextual(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    let mut ids = vec![];
    let (mut versions, mut triggers, mut languages, mut paths) = (vec![], vec![], vec![], Vec::<Option<Cow<'_, str>>>::new());
    let (mut caret_lines, mut lengths, mut positions) = (vec![], vec![], vec![]);
    let rows: Vec<(Uuid, ContextualRow)> = queries.iter().filter_map(|q| Some((q.query_id, q.contextual.as_ref()?.within_bounds()))).collect();
    for (id, t) in &rows {
        ids.push(*id);
        versions.push(t.version_id);
        triggers.push(t.trigger_type_id);
        languages.push(t.language_id);
        paths.push(t.file_path.as_deref().map(identifying));
        caret_lines.push(t.caret_line);
        lengths.push(t.document_char_length);
        positions.push(t.relative_document_position);
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO contextual_telemetry (contextual_telemetry_id, version_id, trigger_type_id, language_id, file_path, caret_line, \
         document_char_length, relative_document_position) \
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::integer[], $7::integer[], $8::float8[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&versions)
    .bind(&triggers)
    .bind(&languages)
    .bind(&paths)
    .bind(&caret_lines)
    .bind(&lengths)
    .bind(&positions)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_behavioral(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    let (mut ids, mut since_shown, mut since_accepted, mut speeds) = (vec![], vec![], vec![], vec![]);
    for q in queries {
        let Some(b) = q.behavioral.as_ref().map(BehavioralRow::within_bounds) else { continue };
        ids.push(q.query_id);
        since_shown.push(b.time_since_last_shown);
        since_accepted.push(b.time_since_last_accepted);
        speeds.push(b.typing_speed);
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO behavioral_telemetry (behavioral_telemetry_id, time_since_last_shown, time_since_last_accepted, typing_speed) \
         SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::float8[]) ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&since_shown)
    .bind(&since_accepted)
    .bind(&speeds)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_meta_queries(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    let n = queries.len();
    let (mut ids, mut users, mut contextual, mut behavioral, mut contexts) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut sessions, mut projects, mut indexes, mut timestamps) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut serving, mut versions, mut configs, mut clients, mut keys) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for q in queries {
        let id = q.query_id;
        ids.push(id);
        users.push(q.user_id);
        contextual.push(q.contextual.as_ref().map(|_| id));
        behavioral.push(q.behavioral.as_ref().map(|_| id));
        contexts.push(q.context.as_ref().map(|_| id));
        sessions.push(q.session_id);
        projects.push(q.project_id);
        // Keys are file names: a NUL would survive as a `\u0000` escape that a `jsonb` reader refuses.
        indexes.push(serde_json::to_string(&pg_keys(&q.multi_file_context_changes_indexes)).expect("a map serialises"));
        timestamps.push(q.timestamp);
        serving.push(q.total_serving_time_ms);
        versions.push(q.server_version_id);
        configs.push(q.config_id);
        clients.push(q.client.as_str());
        keys.push(q.api_key_id);
    }
    sqlx::query(
        "INSERT INTO meta_query (meta_query_id, user_id, contextual_telemetry_id, behavioral_telemetry_id, context_id, session_id, project_id, \
         multi_file_context_changes_indexes, \"timestamp\", total_serving_time, server_version_id, query_type, config_id, client, api_key_id) \
         SELECT id, user_id, contextual, behavioral, context, session, project, indexes, at, serving, version, 'completion', config, client, key \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::text[], $9::timestamptz[], \
                     $10::integer[], $11::bigint[], $12::bigint[], $13::text[], $14::uuid[]) \
              AS q(id, user_id, contextual, behavioral, context, session, project, indexes, at, serving, version, config, client, key) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&users)
    .bind(&contextual)
    .bind(&behavioral)
    .bind(&contexts)
    .bind(&sessions)
    .bind(&projects)
    .bind(&indexes)
    .bind(&timestamps)
    .bind(&serving)
    .bind(&versions)
    .bind(&configs)
    .bind(&clients)
    .bind(&keys)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The `had_generation` columns of a batch, one entry per generation.
#[derive(Default)]
struct GenerationColumns<'a> {
    ids: Vec<Uuid>,
    models: Vec<i64>,
    completions: Vec<Cow<'a, str>>,
    times: Vec<i32>,
    shown: Vec<DateTime<Utc>>,
    confidences: Vec<f64>,
    logprobs: Vec<String>,
    providers: Vec<Option<Cow<'a, str>>>,
    queue_waits: Vec<Option<i32>>,
    first_tokens: Vec<Option<i32>>,
}

async fn insert_generations(tx: &mut Transaction<'_, Postgres>, queries: &[&QueryRecord]) -> Result<(), sqlx::Error> {
    let mut c = GenerationColumns::default();
    for q in queries {
        for g in &q.generations {
            c.ids.push(q.query_id);
            c.models.push(g.model_id);
            c.completions.push(pg_text(&g.completion));
            c.times.push(g.generation_time_ms);
            c.shown.push(g.shown_at);
            c.confidences.push(g.confidence);
            c.logprobs.push(float_array_literal(&g.logprobs));
            c.providers.push(g.provider.as_deref().map(identifying));
            c.queue_waits.push(g.stages.queue_wait_ms.filter(|ms| *ms >= 0));
            c.first_tokens.push(g.stages.first_token_ms.filter(|ms| *ms >= 0));
        }
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    // Each generation has its own number of logprobs; PostgreSQL arrays are rectangular, so each
    // row's list travels as an array literal and is parsed back per row. The query-scope columns
    // come from `generation_query_scope` here, one index lookup per row inside this statement
    // (`OFFSET 0` keeps it a lookup by id), so the per-row trigger that would fill them is skipped
    // (migration 20261211000001).
    sqlx::query(
        "INSERT INTO had_generation (meta_query_id, model_id, completion, generation_time, shown_at, was_accepted, confidence, logprobs, provider, \
         queue_wait_ms, first_token_ms, query_timestamp, user_id, query_type, session_id, config_id, language_id, trigger_type_id, \
         document_char_length, relative_document_position, total_serving_time) \
         SELECT g.id, g.model, g.completion, g.took, ARRAY[g.shown], FALSE, g.confidence, g.logprobs::float8[], g.provider, g.queue_wait, \
                g.first_token, scope.* \
         FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::integer[], $5::timestamptz[], $6::float8[], $7::text[], $8::text[], \
                     $9::integer[], $10::integer[]) \
              AS g(id, model, completion, took, shown, confidence, logprobs, provider, queue_wait, first_token) \
         LEFT JOIN LATERAL (SELECT * FROM generation_query_scope(g.id) OFFSET 0) AS scope ON true \
         ON CONFLICT DO NOTHING",
    )
    .bind(&c.ids)
    .bind(&c.models)
    .bind(&c.completions)
    .bind(&c.times)
    .bind(&c.shown)
    .bind(&c.confidences)
    .bind(&c.logprobs)
    .bind(&c.providers)
    .bind(&c.queue_waits)
    .bind(&c.first_tokens)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies `feedback` (at most one record per query and model: the caller writes repeats one by
/// one, in order): sets each generation's acceptance (and when it first happened), stores each
/// ground truth scored for how much of the completion it still holds, and parks the feedback
/// whose generation is not stored yet, for [`super::apply_deferred_feedback`].
pub async fn write_feedback(tx: &mut Transaction<'_, Postgres>, feedback: &[&FeedbackRecord]) -> Result<(), sqlx::Error> {
    if feedback.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = feedback.iter().map(|f| f.query_id).collect();
    let models: Vec<i64> = feedback.iter().map(|f| f.model_id).collect();
    let accepted: Vec<bool> = feedback.iter().map(|f| f.was_accepted).collect();
    let received: Vec<DateTime<Utc>> = feedback.iter().map(|f| f.received_at).collect();
    let updated: Vec<(Uuid, i64, String)> = sqlx::query_as(
        "UPDATE had_generation g SET was_accepted = f.accepted, accepted_at = CASE WHEN f.accepted THEN coalesce(g.accepted_at, f.at) END \
         FROM unnest($1::uuid[], $2::bigint[], $3::boolean[], $4::timestamptz[]) AS f(id, model, accepted, at) \
         WHERE g.meta_query_id = f.id AND g.model_id = f.model RETURNING g.meta_query_id, g.model_id, g.completion",
    )
    .bind(&ids)
    .bind(&models)
    .bind(&accepted)
    .bind(&received)
    .fetch_all(&mut **tx)
    .await?;
    let completions: std::collections::HashMap<(Uuid, i64), String> =
        updated.into_iter().map(|(id, model, completion)| ((id, model), completion)).collect();

    let (mut truths, mut parked) = (TruthColumns::default(), ParkedColumns::default());
    for f in feedback {
        match completions.get(&(f.query_id, f.model_id)) {
            Some(completion) => {
                let Some(truth) = &f.ground_truth else { continue };
                truths.ids.push(f.query_id);
                truths.at.push(f.received_at);
                truths.texts.push(pg_text(truth));
                truths.models.push(f.model_id);
                truths.similarities.push(edit_similarity_within(completion, truth));
            }
            None => {
                parked.ids.push(f.query_id);
                parked.models.push(f.model_id);
                parked.accepted.push(f.was_accepted);
                parked.truths.push(pg_text_opt(f.ground_truth.as_deref()));
                parked.at.push(f.received_at);
            }
        }
    }
    if !truths.ids.is_empty() {
        sqlx::query(
            "INSERT INTO ground_truth (completion_query_id, truth_timestamp, ground_truth, model_id, similarity) \
             SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[], $5::float8[]) ON CONFLICT DO NOTHING",
        )
        .bind(&truths.ids)
        .bind(&truths.at)
        .bind(&truths.texts)
        .bind(&truths.models)
        .bind(&truths.similarities)
        .execute(&mut **tx)
        .await?;
    }
    if !parked.ids.is_empty() {
        sqlx::query(
            "INSERT INTO deferred_feedback (meta_query_id, model_id, was_accepted, ground_truth, received_at) \
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::boolean[], $4::text[], $5::timestamptz[]) ON CONFLICT DO NOTHING",
        )
        .bind(&parked.ids)
        .bind(&parked.models)
        .bind(&parked.accepted)
        .bind(&parked.truths)
        .bind(&parked.at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The `ground_truth` columns of a batch.
#[derive(Default)]
struct TruthColumns<'a> {
    ids: Vec<Uuid>,
    at: Vec<DateTime<Utc>>,
    texts: Vec<Cow<'a, str>>,
    models: Vec<i64>,
    similarities: Vec<Option<f64>>,
}

/// The `deferred_feedback` columns of a batch.
#[derive(Default)]
struct ParkedColumns<'a> {
    ids: Vec<Uuid>,
    models: Vec<i64>,
    accepted: Vec<bool>,
    truths: Vec<Option<Cow<'a, str>>>,
    at: Vec<DateTime<Utc>>,
}

/// `values` as a PostgreSQL array literal (`{-0.5,-1.25}`), every value round-tripping exactly:
/// Rust prints the shortest decimal that parses back to the same `f64`, and the non-finite values
/// are spelled the way PostgreSQL reads them.
fn float_array_literal(values: &[f64]) -> String {
    let mut literal = String::with_capacity(2 + values.len() * 8);
    literal.push('{');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            literal.push(',');
        }
        match *value {
            v if v.is_nan() => literal.push_str("NaN"),
            v if v == f64::INFINITY => literal.push_str("Infinity"),
            v if v == f64::NEG_INFINITY => literal.push_str("-Infinity"),
            v => literal.push_str(&v.to_string()),
        }
    }
    literal.push('}');
    literal
}

#[cfg(test)]
mod tests {
    use super::float_array_literal;

    #[test]
    fn float_array_literals_round_trip_every_value() {
        let values = [-0.5, -1e-300, -123456.789, 0.0, -0.0, f64::MIN_POSITIVE, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -2.5e-7];
        let literal = float_array_literal(&values);
        assert_eq!(float_array_literal(&[]), "{}");
        let parsed: Vec<f64> = literal
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .map(|v| match v {
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                v => v.parse().expect("a number"),
            })
            .collect();
        assert_eq!(parsed.len(), values.len());
        for (parsed, value) in parsed.iter().zip(values) {
            assert!(parsed.to_bits() == value.to_bits() || (parsed.is_nan() && value.is_nan()), "{value} came back as {parsed}");
        }
    }
}
