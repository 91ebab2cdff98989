//! The queues' job payloads, one file per job: [`agent`] (a repository agent run, queue `agent`), [`llm`] (model work, queue `llm`), [`telemetry`]
//! (a query's rows and feedback, queue `db`) and [`index`] (project files for the retrieval index,
//! queue `index`, so telemetry never waits behind embedding work). Each payload type names its queue,
//! its name and its version through [`Job`]. What workers publish back is [`crate::reply`]; every
//! Redis key and channel name is in [`crate::redis_keys`].
//!
//! Payloads are JSON with a `version` field: a worker that meets a version it does not know aborts
//! the job (dead set, no retries) instead of guessing, so a rolling deploy never half-reads a
//! payload. New optional fields get `#[serde(default)]` and keep the version; anything else bumps
//! it. Queue and job names never change once jobs may be queued under them.
//!
//! Every handler is idempotent (delivery is at-least-once): model jobs are keyed by
//! `(request_id, model_id)` and the server ignores a second answer; telemetry rows are keyed by
//! their ids and written with `ON CONFLICT DO NOTHING`; an index job never replaces a newer version
//! of a file.

pub mod agent;
pub mod index;
pub mod llm;
pub mod telemetry;

use serde::{Deserialize, Serialize};

/// A queue's job type.
pub trait Job: Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The apalis queue (an explicit name: apalis' default is the Rust type name, which moves
    /// the queue when a module is renamed).
    const QUEUE: &'static str;
    /// A name for logs and metrics.
    const NAME: &'static str;
    /// The payload version this build writes and reads.
    const VERSION: u32;
    /// Jobs a consumer takes off the queue with one fetch. One for jobs that may run long (a
    /// generation): a fetched job waits in its consumer's in-flight set, so a larger batch would
    /// park queued work behind a slow job while other workers idle. Short jobs take many: each
    /// fetch is a Redis round trip and a script, which would otherwise bound the queue's rate.
    const FETCH_BATCH: usize = 1;
    /// The version a received payload carries.
    fn version(&self) -> u32;
}

/// What a consumer takes off a queue: the job, or a payload this build cannot decode.
///
/// apalis-redis treats a payload that fails to decode as a backend error and stops the consumer;
/// restarted, it meets the same payload first and stops again, so one bad job would block its queue
/// for good. Consumers therefore read this type, which always decodes, and abort the unreadable
/// payload (the dead set) with a log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<J> {
    /// A job of this build's shape.
    Job(J),
    /// Anything else, kept as JSON.
    Unreadable {
        /// The payload.
        payload: serde_json::Value,
        /// Why it is not a `J`.
        error: String,
    },
}

impl<'de, J: serde::de::DeserializeOwned> Deserialize<'de> for Incoming<J> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = serde_json::Value::deserialize(deserializer)?;
        Ok(match J::deserialize(&payload) {
            Ok(job) => Self::Job(job),
            Err(error) => Self::Unreadable { payload, error: error.to_string() },
        })
    }
}

impl<J: Serialize> Serialize for Incoming<J> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Job(job) => job.serialize(serializer),
            Self::Unreadable { payload, .. } => payload.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::telemetry::DbJob;
    use super::*;

    #[test]
    fn a_payload_of_another_shape_arrives_as_unreadable_instead_of_failing_to_decode() {
        let raw = r#"{"version":1,"write":{"write":"vacuum"}}"#;
        assert!(serde_json::from_str::<DbJob>(raw).is_err());
        let incoming: Incoming<DbJob> = serde_json::from_str(raw).expect("always decodes");
        assert!(matches!(incoming, Incoming::Unreadable { ref error, .. } if error.contains("vacuum")), "{incoming:?}");
    }

    #[test]
    fn every_job_has_its_own_queue() {
        let queues = [llm::LlmJob::QUEUE, telemetry::DbJob::QUEUE, index::IndexJob::QUEUE];
        assert_eq!(queues, ["llm", "db", "index"], "queue names never change once jobs may be queued under them");
    }
}
