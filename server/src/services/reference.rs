//! The ids contextual telemetry points at (`plugin_version`, `trigger_type`, `programming_language`),
//! checked when a request arrives: an id that names no row is the client's mistake and gets a 422,
//! instead of an answer whose telemetry PostgreSQL later refuses.
//!
//! The tables change only when an admin adds rows, so the ids are cached; an id the cache does not
//! know makes it re-read the tables once before the request is refused. When PostgreSQL cannot be
//! read, unknown ids are let through (completions keep working during an outage; the telemetry
//! writer reports a row it cannot store).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use serde_json::json;
use sqlx::PgPool;

use crate::contract::error::ApiError;
use crate::contract::parse::field_issue;
use crate::contract::requests::ContextualTelemetryData;
use crate::db;

/// The cached id sets; cheap to clone.
#[derive(Clone, Default)]
pub struct ReferenceIds {
    sets: Arc<RwLock<Option<Sets>>>,
}

#[derive(Default)]
struct Sets {
    versions: HashSet<i64>,
    triggers: HashSet<i64>,
    languages: HashSet<i64>,
}

impl Sets {
    /// `(field, id)` of each id in `t` this set does not know.
    fn unknown(&self, t: &ContextualTelemetryData) -> Vec<(&'static str, i64)> {
        [
            ("version_id", t.version_id, &self.versions),
            ("trigger_type_id", t.trigger_type_id, &self.triggers),
            ("language_id", t.language_id, &self.languages),
        ]
        .into_iter()
        .filter(|(_, id, known)| !known.contains(id))
        .map(|(field, id, _)| (field, id))
        .collect()
    }
}

impl ReferenceIds {
    /// `Ok` when every id names a row (or the tables cannot be read right now); a 422 naming each
    /// unknown field otherwise.
    pub async fn check(&self, db: &PgPool, telemetry: &ContextualTelemetryData) -> Result<(), ApiError> {
        let cached = self.sets.read().expect("lock").as_ref().map(|s| s.unknown(telemetry));
        if cached.as_ref().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        let sets = match load(db).await {
            Ok(sets) => sets,
            Err(error) => {
                tracing::warn!(%error, "cannot read the reference tables; telemetry ids not checked");
                return Ok(());
            }
        };
        let unknown = sets.unknown(telemetry);
        *self.sets.write().expect("lock") = Some(sets);
        if unknown.is_empty() {
            return Ok(());
        }
        Err(ApiError::Validation(
            unknown
                .into_iter()
                .map(|(field, id)| {
                    field_issue(&["contextual_telemetry", field], "value_error", format!("Value error, no row has {field} {id}"), json!(id))
                })
                .collect(),
        ))
    }
}

async fn load(db: &PgPool) -> Result<Sets, sqlx::Error> {
    Ok(Sets {
        versions: db::reference::version_ids(db).await?.into_iter().collect(),
        triggers: db::reference::trigger_type_ids(db).await?.into_iter().collect(),
        languages: db::reference::language_ids(db).await?.into_iter().collect(),
    })
}
