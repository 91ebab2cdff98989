//! The retrieval context: project files cut into chunks ([`chunks`]), embedded with
//! all-MiniLM-L6-v2 into pgvector when the plugin reports them ([`index`], an `index` queue job), and
//! the chunks nearest to the code before the caret pasted into completion prompts ([`search`]).

pub mod chunks;
pub mod index;
pub mod search;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::model::embedder::Embedder;
use crate::model::error::ModelError;

/// The embedding model and the index's database; cheap to clone.
#[derive(Clone)]
pub struct Retriever {
    db: PgPool,
    embedder: Arc<dyn Embedder>,
    /// One indexing embedding at a time, so a large file being indexed takes one core, not the
    /// completions'; searches embed their short query without waiting for it.
    indexing: Arc<Semaphore>,
    /// Each project's last search, answered again while the query is unchanged.
    last_searches: Arc<search::LastSearches>,
}

impl Retriever {
    /// A retriever storing into `db`.
    pub fn new(db: PgPool, embedder: Arc<dyn Embedder>) -> Self {
        Self { db, embedder, indexing: Arc::new(Semaphore::new(1)), last_searches: Arc::default() }
    }

    /// Embeds `texts` on a blocking thread (also what an embedding job of the open APIs runs).
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let embedder = Arc::clone(&self.embedder);
        let vectors = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .map_err(|panic| RetrievalError::Thread(panic.to_string()))??;
        Ok(vectors)
    }
}

/// Why indexing or searching failed.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    /// The embedding model failed.
    #[error("embedding: {0}")]
    Embedding(#[from] ModelError),
    /// The embedding thread panicked.
    #[error("the embedding thread failed: {0}")]
    Thread(String),
    /// PostgreSQL failed.
    #[error("retrieval index: {0}")]
    Database(#[from] sqlx::Error),
    /// The search took longer than a completion may wait for it.
    #[error("the search took longer than {0:?}")]
    TimedOut(std::time::Duration),
}

/// The text a chunk is embedded as: its file's name gives the model a hint of what it holds.
fn embedded_text(file_name: &str, content: &str) -> String {
    format!("{file_name}\n{content}")
}
