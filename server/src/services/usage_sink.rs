//! Usage metering's way out: one [`UsageRecord`] per metered request, handed to a channel on the
//! request's path and queued on the `db` queue in batches by a task (the worker writes them in its
//! batched transactions and waits out PostgreSQL outages).

use std::time::Duration;

use code4me_shared::jobs::telemetry::{DbWrite, UsageBatch, UsageRecord};
use tokio::sync::mpsc;

use crate::pipeline::Pipeline;

/// Most records in one `db` job.
const BATCH_MAX: usize = 256;
/// How long the first record of a batch waits for company: a busy server sends one job per window
/// instead of one per request, and the request path only hands its record to a channel.
const BATCH_WINDOW: Duration = Duration::from_millis(25);
/// Records waiting for Redis at most (about 16 MiB); past it new ones are dropped and logged.
const BUFFER_RECORDS: usize = 65_536;
/// How long a batch is retried while Redis is away before it is given up (logged with its content).
const QUEUE_RETRY_FOR: Duration = Duration::from_secs(600);

/// Where metered requests leave their records: a channel drained by a task that queues them on the
/// `db` queue in batches (retried while Redis is away), so the worker writes them in its batched
/// transactions and PostgreSQL outages are waited out there. A record is in memory for at most
/// [`BATCH_WINDOW`] plus the push before Redis holds it.
#[derive(Clone)]
pub struct UsageSink {
    tx: mpsc::Sender<UsageRecord>,
}

impl UsageSink {
    /// Starts the batching task.
    pub fn start(pipeline: Pipeline) -> Self {
        let (tx, rx) = mpsc::channel(BUFFER_RECORDS);
        tokio::spawn(forward(pipeline, rx));
        Self { tx }
    }

    /// Hands `record` over without waiting.
    pub fn record(&self, record: UsageRecord) {
        if let Err(error) = self.tx.try_send(record) {
            tracing::error!(record = ?error.into_inner(), "usage buffer full (Redis unreachable for long); record lost");
        }
    }
}

/// Collects records into batches and queues each batch; ends (after a last batch) when every
/// sender is gone.
async fn forward(pipeline: Pipeline, mut rx: mpsc::Receiver<UsageRecord>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_MAX {
            let room = BATCH_MAX - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(received) if received > 0 => {}
                _ => break,
            }
        }
        queue_batch(&pipeline, std::mem::take(&mut batch)).await;
    }
}

/// Queues one batch, retrying with backoff for [`QUEUE_RETRY_FOR`] while Redis is away.
async fn queue_batch(pipeline: &Pipeline, records: Vec<UsageRecord>) {
    let mut delay = Duration::from_millis(50);
    let started = tokio::time::Instant::now();
    let write = DbWrite::Usage(UsageBatch { records });
    loop {
        match pipeline.record(write.clone()).await {
            Ok(()) => return,
            Err(error) if started.elapsed() < QUEUE_RETRY_FOR => {
                tracing::warn!(error = format!("{error:#}"), "usage records not queued yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), records = ?write, "usage records lost: Redis was unreachable for 10 minutes");
                return;
            }
        }
    }
}
