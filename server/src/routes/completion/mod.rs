//! `/api/completion/...`: inline completions, feedback on them, lookups and the multi-file context.

pub mod get;
pub mod request;
