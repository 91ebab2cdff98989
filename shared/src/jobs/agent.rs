//! The `agent` queue: one repository agent run (clone, ask the model for edits, apply, commit,
//! push, open a pull request). Runs take minutes, so they have their own queue and concurrency
//! (`AGENT_CONCURRENCY`) and never hold a generation or telemetry slot.
//!
//! The run's row (`agent_run`) exists before the job is pushed; the job carries what the worker
//! needs without reading it back. Delivery is at-least-once: a worker that finds the run already
//! started (its worker died) ends it with an error event instead of pushing twice.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Job;

/// One agent run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentJob {
    /// Payload version ([`Job::VERSION`]).
    pub version: u32,
    /// The run (`agent_run.run_id`), also every event's `request_id`.
    pub run_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// What to clone: an http(s) URL, or a local path when `AGENT_ALLOW_LOCAL` is on.
    pub repo_url: String,
    /// What to change, in the user's words.
    pub prompt: String,
    /// The branch to start from and to open the pull request against; the default branch if absent.
    pub base_branch: Option<String>,
    /// A provider of the chain to use only (`local` or a `PROVIDERS` name); absent = the chain.
    pub provider: Option<String>,
    /// When the server pushed it (Unix ms), for the queue wait.
    pub enqueued_ms: i64,
}

impl Job for AgentJob {
    const QUEUE: &'static str = "agent";
    const NAME: &'static str = "agent";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.version
    }
}
