//! The local model runtime: GGUF llama-family models on the native engine, StarCoder2 safetensors on
//! candle, their tokenizers, the
//! shared decode loop with upstream's sampling and the per-token log-probabilities the research
//! platform records, and reuse of evaluated prompts.
//!
//! Layers, top to bottom (no file imports one above it): [`catalog`] reads the `model_name` rows
//! and builds a runtime for each; the runtimes ([`gguf_llama`], [`starcoder2`]) implement
//! [`TextModel`], defined here with the [`LoadOptions`] they share; below them the decode loop
//! ([`generation`]), sampling, tokenizers and the native engine; [`memory`] sets the allocator
//! policy of a process that runs models.

pub mod anchor;
pub mod batch;
pub mod catalog;
pub mod embedder;
pub mod error;
pub mod generation;
pub mod gguf_llama;
pub mod memory;
pub mod native;
pub mod prefix_cache;
pub mod prompt;
pub mod sampling;
pub mod speculative;
pub mod starcoder2;
pub mod tokenizer;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rayon::ThreadPool;

use self::error::ModelError;
use self::generation::{Generation, GenerationRequest, TokenEvent};

/// A text model the worker can run: the runtime behind completion and chat.
pub trait TextModel: Send + Sync {
    /// Generates from `request.prompt`, streaming tokens; blocking, cancellable between tokens.
    fn generate(&self, request: &GenerationRequest, cancel: &AtomicBool, on_token: &mut dyn FnMut(TokenEvent<'_>)) -> Result<Generation, ModelError>;

    /// Prompt plus generated tokens the model accepts.
    fn context_limit(&self) -> usize;
}

/// The draft length cap unless configured (`MODEL_MAX_DRAFT_TOKENS`).
pub const DEFAULT_MAX_DRAFT_TOKENS: usize = 8;

/// How to load a model, whatever its runtime.
#[derive(Clone)]
pub struct LoadOptions {
    /// Upper bound of prompt + generated tokens (the model's trained context if smaller).
    pub context_limit: Option<usize>,
    /// Threads that run the forward pass (shared by every model of the worker).
    pub pool: Arc<ThreadPool>,
    /// Finished sequences kept for prompt reuse.
    pub prefix_cache_entries: usize,
    /// Where candle runtimes (safetensors models) put their tensors; the native GGUF engine is CPU-only.
    pub device: candle_core::Device,
    /// Longest draft a speculative decoding step verifies (0 turns speculation off); runtimes
    /// that cannot verify drafts ignore it.
    pub max_draft_tokens: usize,
    /// Decode concurrent generations of a model in shared steps (continuous batching).
    pub batching: bool,
}

impl LoadOptions {
    /// `threads` compute threads, context from the file, four cached sequences.
    pub fn with_threads(threads: usize) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("model-{i}"))
            .build()
            .expect("building the model thread pool");
        Self {
            context_limit: None,
            pool: Arc::new(pool),
            prefix_cache_entries: 4,
            device: candle_core::Device::Cpu,
            max_draft_tokens: DEFAULT_MAX_DRAFT_TOKENS,
            batching: true,
        }
    }
}
