//! The `db` queue's handler: telemetry goes to the batching writer ([`crate::telemetry`]) and the
//! job is acknowledged once its rows are committed.
//!
//! Idempotent: rows are keyed by their ids and written with `ON CONFLICT DO NOTHING`, so a job run
//! twice stores its rows once.

use apalis::prelude::{AbortError, BoxDynError, Data};
use code4me_shared::jobs::index::IndexJob;
use code4me_shared::jobs::telemetry::{DbJob, DbWrite};
use code4me_shared::jobs::{Incoming, Job};
use code4me_shared::queue::Producer;

use crate::telemetry::{BatchWriter, WriteError};

/// What every `db` job handler shares.
#[derive(Clone)]
pub struct TelemetryContext {
    /// Telemetry writes.
    pub writer: BatchWriter,
    /// Where index work queued on `db` by an older server goes instead.
    pub index: Producer<IndexJob>,
}

/// Handles one `db` job. Only a write PostgreSQL can never accept, or a payload this build cannot
/// read, is an error (aborted: the dead set, never apalis' 25 retries).
pub async fn handle(incoming: Incoming<DbJob>, context: Data<TelemetryContext>) -> Result<(), BoxDynError> {
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
        // Queued before indexing had its own queue: moved there, so this queue never embeds. The
        // index is derived data, as when the server queues it: should the push fail, the files are
        // indexed with their next change.
        tracing::info!(project_id = %record.project_id, "moving an index job queued on db to the index queue");
        if let Err(error) = context.index.push(IndexJob::new(record.clone())).await {
            tracing::warn!(%error, project_id = %record.project_id, "could not move an index job to the index queue; dropped");
        }
        return Ok(());
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
