//! Every job this worker runs, one file per job, and the one list of them ([`registry`]): which
//! queue, which handler, how many at once. The consumer loop ([`crate::queues`]) runs whatever the
//! list holds; a new job is a payload in `code4me_shared::jobs`, a handler file here and a line below.
//!
//! - [`agent`] — `agent`: one repository agent run (`AGENT_CONCURRENCY` at once; 0 = none here).
//! - [`llm`] — `llm`: one model for one request, answered on the requester's reply channel.
//! - [`telemetry`] — `db`: a query's rows and feedback, committed in batches.
//! - [`index`] — `index`: project files embedded into the retrieval index; its own queue, so
//!   telemetry never waits behind embedding.
//!
//! Every handler is idempotent (delivery is at-least-once); a job that can never succeed is
//! aborted into the dead set instead of being retried.

pub mod agent;
pub mod index;
pub mod llm;
pub mod telemetry;

use code4me_shared::jobs::Job;
use code4me_shared::jobs::agent::AgentJob;
use code4me_shared::jobs::index::IndexJob;
use code4me_shared::jobs::llm::LlmJob;
use code4me_shared::jobs::telemetry::DbJob;
use code4me_shared::settings::WorkerSettings;

use self::agent::AgentContext;
use self::index::IndexContext;
use self::llm::LlmContext;
use self::telemetry::TelemetryContext;
use crate::queues::{Registration, consumer};

/// What the handlers share, built once at start.
pub struct Contexts {
    /// Models, replies, cancellations, retrieval.
    pub llm: LlmContext,
    /// The telemetry writer.
    pub telemetry: TelemetryContext,
    /// The retrieval index.
    pub index: IndexContext,
    /// The repository agent; `None` when this worker takes no agent runs.
    pub agent: Option<AgentContext>,
}

/// The queues this worker consumes, each with its handler and its concurrency setting.
pub fn registry(contexts: Contexts, settings: &WorkerSettings) -> Vec<Registration> {
    let mut registry = vec![
        Registration { queue: LlmJob::QUEUE, concurrency: settings.llm_concurrency, start: consumer!(LlmJob, llm::handle, contexts.llm) },
        Registration { queue: DbJob::QUEUE, concurrency: settings.db_concurrency, start: consumer!(DbJob, telemetry::handle, contexts.telemetry) },
        Registration { queue: IndexJob::QUEUE, concurrency: settings.index_concurrency, start: consumer!(IndexJob, index::handle, contexts.index) },
    ];
    if let Some(agent) = contexts.agent {
        registry.push(Registration {
            queue: AgentJob::QUEUE,
            concurrency: settings.agent.concurrency,
            start: consumer!(AgentJob, agent::handle, agent),
        });
    }
    registry
}
