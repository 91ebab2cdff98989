//! The `index` queue: project files whose retrieval chunks must be brought up to date (cut into
//! chunks, embedded with all-MiniLM-L6-v2, stored in pgvector). Embedding is slow, so it has its own
//! queue and concurrency and never delays telemetry on `db`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Job;

/// Indexing work: the changed files of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexJob {
    /// Payload version ([`Job::VERSION`]).
    pub version: u32,
    /// The files and their versions.
    pub record: IndexFilesRecord,
}

impl Job for IndexJob {
    const QUEUE: &'static str = "index";
    const NAME: &'static str = "index";
    const VERSION: u32 = 1;
    fn version(&self) -> u32 {
        self.version
    }
}

impl IndexJob {
    /// A job of the current version.
    pub fn new(record: IndexFilesRecord) -> Self {
        Self { version: Self::VERSION, record }
    }
}

/// Project files whose retrieval chunks must be brought up to date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexFilesRecord {
    /// The project.
    pub project_id: Uuid,
    /// File name → its contents now.
    pub files: BTreeMap<String, FileContents>,
}

/// One file's contents at a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileContents {
    /// How many change records produced these lines: jobs may run out of order, and an older
    /// version never replaces a newer one.
    pub version: i64,
    /// Redacted lines; empty when the file left the context (its chunks are dropped).
    pub lines: Vec<String>,
}
