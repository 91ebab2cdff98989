//! The local model runtime: GGUF llama-family models on the native engine, StarCoder2 safetensors on
//! candle, their tokenizers, the
//! shared decode loop with upstream's sampling and the per-token log-probabilities the research
//! platform records, and reuse of evaluated prompts.

pub mod anchor;
pub mod catalog;
pub mod embedder;
pub mod error;
pub mod generation;
pub mod gguf_llama;
pub mod native;
pub mod prefix_cache;
pub mod prompt;
pub mod sampling;
pub mod starcoder2;
pub mod tokenizer;
