//! The `index` queue's handler: project files go to the retrieval index ([`crate::retrieval`]),
//! cut into chunks, embedded and stored in pgvector. On its own queue (`INDEX_CONCURRENCY` jobs at
//! once) so embedding never holds up telemetry.
//!
//! Idempotent: a file is replaced only by a newer version, so a job run twice changes nothing the
//! second time.

use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data};
use code4me_shared::jobs::index::IndexJob;
use code4me_shared::jobs::{Incoming, Job};

use crate::retrieval::{RetrievalError, Retriever};
use crate::telemetry::is_rejection;

/// What every `index` job handler shares.
#[derive(Clone)]
pub struct IndexContext {
    /// The retrieval index; `None` when the embedding model is not loaded.
    pub retriever: Option<Retriever>,
}

/// Handles one `index` job, retrying while PostgreSQL is unreachable (the job stays in flight).
/// Only files PostgreSQL can never store, or a payload this build cannot read, are an error
/// (aborted: the dead set, never apalis' 25 retries).
pub async fn handle(incoming: Incoming<IndexJob>, context: Data<IndexContext>) -> Result<(), BoxDynError> {
    let job = match incoming {
        Incoming::Job(job) => job,
        Incoming::Unreadable { payload, error } => {
            tracing::error!(%payload, %error, "unreadable index job; moved to the dead set");
            return Err(AbortError::new(error).into());
        }
    };
    if job.version() != IndexJob::VERSION {
        let reason = format!("index job version {} is not supported by this worker (expects {})", job.version, IndexJob::VERSION);
        tracing::error!(project_id = %job.record.project_id, "{reason}");
        return Err(AbortError::new(reason).into());
    }
    let record = &job.record;
    let Some(retriever) = &context.retriever else {
        tracing::warn!(project_id = %record.project_id, "the embedding model is not loaded; project files not indexed");
        return Ok(());
    };
    let mut delay = Duration::from_millis(100);
    loop {
        match retriever.index(record).await {
            Ok(report) => {
                tracing::debug!(project_id = %record.project_id, ?report, "indexed project files");
                return Ok(());
            }
            Err(RetrievalError::Database(error)) if !is_rejection(&error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "PostgreSQL unavailable; indexing retried");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(%error, project_id = %record.project_id, "project files could not be indexed; moved to the dead set");
                return Err(AbortError::new(error).into());
            }
        }
    }
}
