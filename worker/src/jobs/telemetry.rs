//! The `db` queue's handler: telemetry (one write, or a server's batch of them) goes to the
//! batching writer ([`crate::telemetry`]) and the job is acknowledged once its rows are committed.
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
    let writes = match job.write {
        DbWrite::Batch(batch) => batch.writes,
        write => vec![write],
    };
    // The writer commits what reaches it together: a batch's writes go in at once and usually
    // share a transaction.
    let results = futures::future::join_all(writes.into_iter().map(|write| write_one(&context, write))).await;
    let mut rejected = Vec::new();
    for result in results {
        match result {
            Ok(()) => {}
            Err(WriteError::Rejected(reason)) => rejected.push(reason),
            // Stopping: the job goes back to the queue with the worker's other in-flight jobs (its
            // writes that landed are written again, idempotently).
            Err(WriteError::Stopped) => return Err(WriteError::Stopped.into()),
        }
    }
    if rejected.is_empty() {
        return Ok(());
    }
    // The job is kept whole in the dead set. Re-running it stores nothing twice, but applies its
    // feedback again: an acceptance newer than the job's would be overwritten by the job's.
    let reason = rejected.join("; ");
    tracing::error!(%reason, rejected = rejected.len(), "telemetry PostgreSQL will never accept; the job moved to the dead set");
    Err(AbortError::new(reason).into())
}

/// One write of a job: legacy index work moves to its own queue, a nested batch is refused (no
/// server writes one), anything else goes to the batching writer.
async fn write_one(context: &TelemetryContext, write: DbWrite) -> Result<(), WriteError> {
    match write {
        DbWrite::IndexFiles(record) => {
            // Queued before indexing had its own queue: moved there, so this queue never embeds. The
            // index is derived data, as when the server queues it: should the push fail, the files are
            // indexed with their next change.
            tracing::info!(project_id = %record.project_id, "moving an index job queued on db to the index queue");
            if let Err(error) = context.index.push(IndexJob::new(record.clone())).await {
                tracing::warn!(%error, project_id = %record.project_id, "could not move an index job to the index queue; dropped");
            }
            Ok(())
        }
        DbWrite::Batch(_) => Err(WriteError::Rejected("a batch of writes inside a batch".into())),
        write => context.writer.write(write).await,
    }
}
