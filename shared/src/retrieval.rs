//! Retrieval context: chunks of a project's files, embedded into pgvector, the most relevant ones
//! pasted into completion prompts within a budget (as Tabby does with its code index).
//!
//! The server decides per user config whether a request uses retrieval and with which limits
//! ([`RetrievalOptions`]); the worker indexes and searches. What a request's prompt finally held is
//! reported back as a [`PromptDebug`] when the client asks for it, because retrieval that silently
//! finds nothing is the most common complaint about peers' RAG.

use serde::{Deserialize, Serialize};

/// Limits of one request's retrieval; the `retrieval` block of a user's config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrievalOptions {
    /// Most characters of snippets added to a prompt.
    pub budget_chars: usize,
    /// Most snippets added to a prompt.
    pub max_snippets: usize,
    /// Most snippets taken from one file, so one large file cannot fill the budget.
    pub max_per_file: usize,
    /// Least cosine similarity between the text before the caret and a chunk.
    pub min_score: f32,
}

impl Default for RetrievalOptions {
    /// Tabby's defaults where it has them (a 768-character snippet budget, two hits per file);
    /// the score floor suits all-MiniLM-L6-v2 on code, where unrelated code scores about 0.1–0.3.
    fn default() -> Self {
        Self { budget_chars: 768, max_snippets: 4, max_per_file: 2, min_score: 0.35 }
    }
}

/// Largest snippet budget a config may set: the prompt must leave room for the prefix and suffix.
pub const MAX_BUDGET_CHARS: usize = 4096;

/// A chunk of a project file chosen for a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snippet {
    /// The file it comes from.
    pub file_name: String,
    /// Its first line (0-based).
    pub start_line: i32,
    /// One past its last line.
    pub end_line: i32,
    /// Cosine similarity to the retrieval query.
    pub score: f32,
    /// Its text.
    pub content: String,
}

/// What a completion's prompt was made of, returned when the request sets `debug`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PromptDebug {
    /// The exact prompt the model saw.
    pub prompt: String,
    /// Whether retrieval ran for this request.
    pub retrieval_enabled: bool,
    /// The text the index was searched with (empty when retrieval did not run).
    pub retrieval_query: String,
    /// The snippets pasted into the prompt, in prompt order.
    pub snippets: Vec<Snippet>,
    /// Milliseconds the search took (embedding the query included).
    pub retrieval_ms: u64,
    /// Whether the project's previous search (same query, within seconds) was answered again.
    pub retrieval_reused: bool,
    /// Why retrieval added nothing, when it did not (no index for the project, nothing relevant,
    /// the embedding model is not loaded).
    pub note: Option<String>,
}
