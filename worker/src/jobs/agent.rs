//! The `agent` queue's handler: one repository agent run ([`crate::agent`]), cancellable through
//! the shared cancel channel (the run's id is its request id). `AGENT_CONCURRENCY` runs at once.
//!
//! Idempotent: a run that has ended is skipped; one whose first worker died ends with an error
//! event (it may have pushed already, so it is not pushed twice).

use std::sync::atomic::Ordering;

use apalis::prelude::{AbortError, BoxDynError, Data};
use code4me_shared::cancellation;
use code4me_shared::jobs::agent::AgentJob;
use code4me_shared::jobs::{Incoming, Job};
use tracing::Instrument;

use crate::agent::Agent;
use crate::signals::Signals;

/// What every `agent` job handler shares.
#[derive(Clone)]
pub struct AgentContext {
    /// The agent.
    pub agent: Agent,
    /// Cancellations.
    pub signals: Signals,
}

/// Handles one `agent` job. A failure of our own (PostgreSQL gone for the whole run) is logged, not
/// retried: the run may have pushed already.
pub async fn handle(incoming: Incoming<AgentJob>, context: Data<AgentContext>) -> Result<(), BoxDynError> {
    let job = match incoming {
        Incoming::Job(job) => job,
        Incoming::Unreadable { payload, error } => {
            tracing::error!(%payload, %error, "unreadable agent job; moved to the dead set");
            return Err(AbortError::new(error).into());
        }
    };
    if job.version() != AgentJob::VERSION {
        let reason = format!("agent job version {} is not supported by this worker (expects {})", job.version, AgentJob::VERSION);
        tracing::error!(request_id = %job.run_id, "{reason}");
        return Err(AbortError::new(reason).into());
    }
    let tracked = context.signals.track(job.run_id);
    let mut redis = context.agent.redis.clone();
    if cancellation::is_marked(&mut redis, job.run_id).await.unwrap_or(false) {
        tracked.flag.store(true, Ordering::Relaxed);
    }
    // Every line the run logs carries its id (JSON lines carry their spans' fields).
    let span = tracing::info_span!("agent_run", request_id = %job.run_id);
    if let Err(error) = context.agent.run(&job, tracked.flag.clone()).instrument(span).await {
        tracing::error!(request_id = %job.run_id, %error, "agent run could not be recorded");
    }
    Ok(())
}
