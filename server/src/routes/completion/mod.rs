//! `/api/completion/...`: inline completions, feedback on them, lookups and the multi-file context.

pub mod feedback;
pub mod get;
pub mod multi_file_context;
pub mod request;
