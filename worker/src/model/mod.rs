//! The local model runtime: GGUF llama-family models on candle, their tokenizers, and sampling with
//! the per-token log-probabilities the research platform records.

pub mod gguf_llama;
pub mod sampling;
pub mod tokenizer;
