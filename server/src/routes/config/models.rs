//! The reference tables a config points into: languages, and models with the workers that have
//! them loaded (from the workers' `worker_models:<id>` announcements, so nothing here goes online).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use code4me_shared::redis_keys::{WORKER_MODELS, WorkerModelsValue};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::extract::AdminCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// `programming_language` rows and the name → id mapping the plugin's config uses.
#[utoipa::path(get, path = "/api/config/languages", tag = "config",
    responses(
        (status = 200, description = "`{\"languages\": [{language_id, language_name}], \"mapping\": {name: id}}`", body = crate::openapi::Detail),
        (status = 403, description = "Not an admin", body = crate::openapi::Detail)
    ))]
pub async fn languages(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<Value>, ApiError> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT language_id, language_name FROM programming_language ORDER BY language_id")
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)?;
    let mapping: BTreeMap<&str, i64> = rows.iter().map(|(id, name)| (name.as_str(), *id)).collect();
    let languages: Vec<Value> = rows.iter().map(|(id, name)| json!({"language_id": id, "language_name": name})).collect();
    Ok(Json(json!({"languages": languages, "mapping": mapping})))
}

/// Every model row, with the workers serving it now and why the others cannot.
#[utoipa::path(get, path = "/api/config/models", tag = "config",
    responses(
        (status = 200, description = "`{\"models\": [{model_id, model_name, is_instruction_tuned, available, loaded_by, unavailable}]}`", body = crate::openapi::Detail),
        (status = 403, description = "Not an admin", body = crate::openapi::Detail)
    ))]
pub async fn models(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<Value>, ApiError> {
    let rows = model_rows(&state).await?;
    let workers = announcements(&state).await?;
    Ok(Json(json!({"models": rows.iter().map(|row| model_json(row, &workers)).collect::<Vec<_>>()})))
}

/// `?name=`.
#[derive(Deserialize)]
pub struct ValidateParams {
    name: Option<String>,
}

/// Whether a model can be used, answered offline (upstream asks huggingface.co): `exists` when a
/// model row has this name, `available` when some live worker has its weights loaded.
#[utoipa::path(get, path = "/api/config/models/validate", tag = "config",
    params(("name" = String, Query, description = "A model name, e.g. `HuggingFaceTB/SmolLM2-135M-Instruct`")),
    responses(
        (status = 200, description = "`{name, exists, available, loaded_by, unavailable, model_id}`", body = crate::openapi::Detail),
        (status = 422, description = "`name` missing", body = crate::openapi::ValidationError)
    ))]
pub async fn validate(State(state): State<AppState>, _admin: AdminCaller, Query(params): Query<ValidateParams>) -> Result<Json<Value>, ApiError> {
    let Some(name) = params.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Err(ApiError::Validation(vec![code4me_shared::validation::Issue::new(
            "missing",
            vec![json!("query"), json!("name")],
            "Field required",
            Value::Null,
            None,
        )]));
    };
    let rows = model_rows(&state).await?;
    let Some(row) = rows.iter().find(|row| row.1 == name) else {
        return Ok(Json(json!({"name": name, "exists": false, "available": false, "error": "no model row has this name"})));
    };
    let workers = announcements(&state).await?;
    let mut answer = model_json(row, &workers);
    answer["name"] = json!(name);
    answer["exists"] = json!(true);
    Ok(Json(answer))
}

type ModelRow = (i64, String, bool);

async fn model_rows(state: &AppState) -> Result<Vec<ModelRow>, ApiError> {
    sqlx::query_as("SELECT model_id, model_name, is_instruction_tuned FROM model_name ORDER BY model_id")
        .fetch_all(&state.db)
        .await
        .map_err(ApiError::database)
}

fn model_json((model_id, model_name, instruct): &ModelRow, workers: &[WorkerModelsValue]) -> Value {
    let loaded_by: Vec<&str> = workers.iter().filter(|w| w.loaded.contains(model_id)).map(|w| w.worker_id.as_str()).collect();
    let unavailable: BTreeMap<&str, &str> =
        workers.iter().filter_map(|w| w.unavailable.get(model_id).map(|reason| (w.worker_id.as_str(), reason.as_str()))).collect();
    json!({
        "model_id": model_id,
        "model_name": model_name,
        "is_instruction_tuned": instruct,
        "available": !loaded_by.is_empty(),
        "loaded_by": loaded_by,
        "unavailable": unavailable,
    })
}

/// The live workers' announcements (each key expires 30 s after its worker stops refreshing it).
async fn announcements(state: &AppState) -> Result<Vec<WorkerModelsValue>, ApiError> {
    let mut redis = state.redis.clone();
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{WORKER_MODELS}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut redis)
            .await
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut redis).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let mut workers: Vec<WorkerModelsValue> = values.into_iter().flatten().filter_map(|raw| serde_json::from_str(&raw).ok()).collect();
    workers.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
    Ok(workers)
}

