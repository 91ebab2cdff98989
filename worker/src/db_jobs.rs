//! The `db` queue's handler: telemetry goes to the batching writer ([`crate::telemetry`]), project
//! files to the retrieval index ([`crate::retrieval`]).

use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data};
use code4me_shared::jobs::{DbJob, DbWrite, Incoming, IndexFilesRecord, Job};

use crate::retrieval::{RetrievalError, Retriever};
use crate::telemetry::{BatchWriter, WriteError, is_rejection};

/// What every `db` job handler shares.
#[derive(Clone)]
pub struct DbContext {
    /// Telemetry writes.
    pub writer: BatchWriter,
    /// The retrieval index; `None` when the embedding model is not loaded.
    pub retriever: Option<Retriever>,
}

/// Handles one `db` job. Only a write PostgreSQL can never accept, or a payload this build cannot
/// read, is an error (aborted: the dead set, never apalis' 25 retries).
pub async fn handle(incoming: Incoming<DbJob>, context: Data<DbContext>) -> Result<(), BoxDynError> {
    let job = match incoming {
        Incoming::Job(job) => job,
        Incoming::Unreadable { payload, error } => {
            tracing::error!(%payload, %error, "unreadable db job; moved to the dead set");
            return Err(AbortError::new(error).into());
        }
    };
    if job.version() != DbJob::VERSION {
        let reason = format!("db job version {} is not supported by this worker (expects {})", job.version, DbJob::VERSION);
        tracing::error!(job = ?job, "{reason}");
        return Err(AbortError::new(reason).into());
    }
    if let DbWrite::IndexFiles(record) = &job.write {
        return index(context.retriever.as_ref(), record).await;
    }
    match context.writer.write(job.write.clone()).await {
        Ok(()) => Ok(()),
        Err(WriteError::Rejected(reason)) => {
            tracing::error!(job = ?job, %reason, "telemetry PostgreSQL will never accept; moved to the dead set");
            Err(AbortError::new(reason).into())
        }
        // Stopping: the job goes back to the queue with the worker's other in-flight jobs.
        Err(WriteError::Stopped) => Err(WriteError::Stopped.into()),
    }
}

/// Indexes project files, retrying while PostgreSQL is unreachable (the job stays in flight).
async fn index(retriever: Option<&Retriever>, record: &IndexFilesRecord) -> Result<(), BoxDynError> {
    let Some(retriever) = retriever else {
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
