//! Telemetry onto the `db` queue, coalesced: every write recorded while the previous push was in
//! flight goes out in the next job ([`DbWrite::Batch`]), so under load the queue's per-job cost
//! (a push script, a wake-up, a fetch, an acknowledgement) is paid once per batch instead of once
//! per write — the queue, not PostgreSQL, bounded ingest before. An idle server pushes each write
//! alone, as soon as it comes, in the single-write format every worker reads.
//!
//! A caller still returns only once Redis holds its write, so nothing acknowledged is lost.

use code4me_shared::jobs::telemetry::{DbJob, DbWrite, WriteBatch};
use code4me_shared::queue::Producer;
use tokio::sync::{mpsc, oneshot};

/// Most writes in one job: a query's context can be tens of kilobytes, and a job is one Redis value.
pub const MAX_WRITES_PER_JOB: usize = 32;

type Pending = (DbWrite, oneshot::Sender<Result<(), String>>);

/// Front of the coalescing task; cheap to clone.
#[derive(Clone)]
pub struct TelemetrySink {
    tx: mpsc::Sender<Pending>,
}

impl TelemetrySink {
    /// Starts the task pushing onto `producer`'s queue.
    pub fn start(producer: Producer<DbJob>) -> Self {
        let (tx, rx) = mpsc::channel(16 * MAX_WRITES_PER_JOB);
        tokio::spawn(run(producer, rx));
        Self { tx }
    }

    /// Queues `write`; returns once Redis holds it.
    pub async fn record(&self, write: DbWrite) -> anyhow::Result<()> {
        let (done_tx, done_rx) = oneshot::channel();
        self.tx.send((write, done_tx)).await.map_err(|_| anyhow::anyhow!("the telemetry queue stopped"))?;
        done_rx.await.map_err(|_| anyhow::anyhow!("the telemetry queue stopped"))?.map_err(anyhow::Error::msg)
    }
}

async fn run(producer: Producer<DbJob>, mut rx: mpsc::Receiver<Pending>) {
    let mut pending: Vec<Pending> = Vec::with_capacity(MAX_WRITES_PER_JOB);
    while rx.recv_many(&mut pending, MAX_WRITES_PER_JOB).await > 0 {
        let (mut writes, done): (Vec<DbWrite>, Vec<_>) = pending.drain(..).unzip();
        let write = if writes.len() == 1 { writes.pop().expect("one write") } else { DbWrite::Batch(WriteBatch { writes }) };
        let result = producer.push(DbJob::new(write)).await.map_err(|error| format!("{error:#}"));
        metrics::counter!("telemetry_jobs_pushed_total").increment(1);
        for done in done {
            let _ = done.send(result.clone());
        }
    }
}
