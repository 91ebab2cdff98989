//! StarCoder2 from safetensors, on candle-transformers' implementation.
//!
//! A model directory holds `config.json`, `tokenizer.json` and `model.safetensors` (or shards named in
//! `model.safetensors.index.json`) — a plain directory or a Hugging Face cache snapshot; nothing is
//! downloaded here (`code4me-worker fetch-model` does that, explicitly). The weights are loaded once
//! and shared: every request clones the model, which copies reference-counted tensors and gives the
//! clone its own empty KV cache, so concurrent requests never wait for each other's cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::starcoder2::{Config, Model};
use rayon::ThreadPool;
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::error::ModelError;
use super::generation::{self, Generation, GenerationRequest, Prepared, Step, TokenEvent};
use super::{LoadOptions, TextModel};

/// The parts of `config.json` this runtime checks itself (candle's `Config` keeps its fields private).
#[derive(Debug, Deserialize)]
struct ConfigFacts {
    model_type: Option<String>,
    max_position_embeddings: usize,
    eos_token_id: Option<u32>,
    rope_scaling: Option<serde_json::Value>,
}

/// A loaded StarCoder2 model.
pub struct SafetensorsStarcoder2 {
    model: Model,
    tokenizer: Tokenizer,
    end_tokens: Vec<u32>,
    context_limit: usize,
    device: Device,
    pool: Arc<ThreadPool>,
}

impl SafetensorsStarcoder2 {
    /// Loads a model directory. f32 on the CPU (candle's CPU matmul is fastest there), bf16 on a GPU.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.display().to_string(), source })
        };
        let config_text = read("config.json")?;
        let facts: ConfigFacts = serde_json::from_str(&config_text).map_err(|e| ModelError::Config(format!("config.json: {e}")))?;
        if facts.model_type.as_deref() != Some("starcoder2") {
            return Err(ModelError::Unsupported(format!("model_type {:?}: this runtime runs starcoder2 only", facts.model_type)));
        }
        if facts.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(ModelError::Unsupported(
                "RoPE scaling is not implemented by candle's StarCoder2; outputs would be wrong beyond the original context".into(),
            ));
        }
        let config: Config = serde_json::from_str(&config_text).map_err(|e| ModelError::Config(format!("config.json: {e}")))?;
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let end_tokens = generation::model_end_tokens(&tokenizer, facts.eos_token_id);
        let device = options.device.clone();
        let dtype = if device.is_cpu() { DType::F32 } else { DType::BF16 };
        let files = weight_files(dir)?;
        // SAFETY: the weights are memory-mapped read-only; the model directory is not modified while
        // the worker serves from it (the same contract as every mmap-based loader, llama.cpp's included).
        #[allow(unsafe_code)]
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, &device)? };
        let model = options.pool.install(|| Model::new(&config, vb))?;
        let context_limit = options.context_limit.map_or(facts.max_position_embeddings, |l| l.min(facts.max_position_embeddings));
        Ok(Self { model, tokenizer, end_tokens, context_limit, device, pool: options.pool.clone() })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

impl TextModel for SafetensorsStarcoder2 {
    fn context_limit(&self) -> usize {
        self.context_limit
    }

    /// Runs on a clone of the model: shared weights, its own KV cache.
    fn generate(&self, request: &GenerationRequest, cancel: &AtomicBool, on_token: &mut dyn FnMut(TokenEvent<'_>)) -> Result<Generation, ModelError> {
        let prepared = Prepared::new(&self.tokenizer, &self.end_tokens, request, self.context_limit)?;
        let mut step = CandleStep { model: self.model.clone(), device: &self.device, pool: &self.pool, position: 0 };
        step.model.clear_kv_cache();
        prepared.generate(0, &mut step, cancel, on_token)
    }
}

/// One request's copy of the model (shared weights, own KV cache) and how far it has read.
struct CandleStep<'a> {
    model: Model,
    device: &'a Device,
    pool: &'a ThreadPool,
    position: usize,
}

impl Step for CandleStep<'_> {
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        let input = Tensor::new(tokens, self.device)?.unsqueeze(0)?;
        let position = self.position;
        let logits = self.pool.install(|| self.model.forward(&input, position))?;
        self.position += tokens.len();
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
    }
}

/// `model.safetensors`, or the shards `model.safetensors.index.json` names, in order.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let index_path = dir.join("model.safetensors.index.json");
    let index = std::fs::read_to_string(&index_path).map_err(|source| ModelError::Io { path: index_path.display().to_string(), source })?;
    let index: serde_json::Value = serde_json::from_str(&index).map_err(|e| ModelError::Config(format!("{}: {e}", index_path.display())))?;
    let mut shards: Vec<String> = index["weight_map"]
        .as_object()
        .ok_or_else(|| ModelError::Config(format!("{} has no weight_map", index_path.display())))?
        .values()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    shards.sort();
    shards.dedup();
    Ok(shards.into_iter().map(|s| dir.join(s)).collect())
}

/// Writes a tiny randomly initialised StarCoder2 checkpoint (config, byte-level tokenizer, weights):
/// the real architecture and file layout at a size tests can afford.
#[cfg(test)]
pub(crate) fn write_tiny_checkpoint(dir: &Path, max_position_embeddings: usize) {
    use candle_nn::VarMap;
    std::fs::create_dir_all(dir).expect("checkpoint dir");
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet().into_iter().collect();
    alphabet.sort_unstable();
    let vocab: serde_json::Map<String, serde_json::Value> = alphabet.iter().enumerate().map(|(i, c)| (c.to_string(), serde_json::json!(i))).collect();
    let eos = alphabet.len();
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": []}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).expect("tokenizer.json");
    let config = serde_json::json!({
        "model_type": "starcoder2", "vocab_size": eos + 1, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "gelu_pytorch_tanh",
        "max_position_embeddings": max_position_embeddings, "norm_epsilon": 1e-5, "rope_theta": 10000.0, "use_bias": true,
        "sliding_window": null, "eos_token_id": eos
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config.json");
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let parsed: Config = serde_json::from_value(config).expect("config");
    Model::new(&parsed, vb).expect("build the random model");
    varmap.save(dir.join("model.safetensors")).expect("model.safetensors");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sampling::SamplingParams;

    fn load(dir: &Path) -> SafetensorsStarcoder2 {
        SafetensorsStarcoder2::load(dir, &LoadOptions::with_threads(1)).expect("load the tiny checkpoint")
    }

    fn request(prompt: &str, max_new_tokens: usize, seed: u64) -> GenerationRequest {
        GenerationRequest {
            prompt: prompt.into(),
            max_new_tokens,
            stop_sequences: vec![],
            sampling: SamplingParams { seed, temperature: 1.0, ..SamplingParams::default() },
        }
    }

    #[test]
    fn a_tiny_random_checkpoint_generates_reproducibly_with_finite_logprobs() {
        let dir = tempfile::tempdir().expect("tmp");
        write_tiny_checkpoint(dir.path(), 256);
        let model = load(dir.path());
        let run = |seed| model.generate(&request("def add(a, b):\n", 12, seed), &AtomicBool::new(false), &mut |_| {}).expect("generate");
        let (first, again) = (run(7), run(7));
        assert_eq!(first.tokens, again.tokens, "the same seed gives the same tokens");
        assert!(!first.tokens.is_empty() && first.tokens.len() <= 12);
        assert!(first.logprobs.iter().all(|l| l.is_finite() && *l <= 0.0));
        assert!((0.0..=1.0).contains(&first.confidence));
    }

    #[test]
    fn incremental_decoding_matches_evaluating_the_whole_sequence() {
        let dir = tempfile::tempdir().expect("tmp");
        write_tiny_checkpoint(dir.path(), 256);
        let model = load(dir.path());
        let ids = model.tokenizer().encode("fn main() {}", false).expect("encode").get_ids().to_vec();
        let step = || CandleStep { model: model.model.clone(), device: &model.device, pool: &model.pool, position: 0 };
        let mut incremental = step();
        incremental.step(&ids[..ids.len() - 1]).expect("prefix");
        let last = incremental.step(&ids[ids.len() - 1..]).expect("one more token");
        let whole = step().step(&ids).expect("whole");
        let diff = last.iter().zip(&whole).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "KV-cached decoding drifts from a full evaluation by {diff}");
    }

    #[test]
    fn concurrent_requests_share_the_weights_and_keep_their_own_caches() {
        let dir = tempfile::tempdir().expect("tmp");
        write_tiny_checkpoint(dir.path(), 256);
        let model = load(dir.path());
        let alone = model.generate(&request("import os\n", 10, 3), &AtomicBool::new(false), &mut |_| {}).expect("alone").tokens;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| model.generate(&request("import os\n", 10, 3), &AtomicBool::new(false), &mut |_| {}).expect("gen").tokens))
                .collect();
            for handle in handles {
                assert_eq!(handle.join().expect("thread"), alone, "a request running beside others gives the same tokens");
            }
        });
    }

    #[test]
    fn the_context_limit_and_rope_scaling_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        write_tiny_checkpoint(dir.path(), 32);
        let model = load(dir.path());
        let error = model.generate(&request(&"x = 1\n".repeat(10), 8, 1), &AtomicBool::new(false), &mut |_| {}).expect_err("too long");
        assert!(matches!(error, ModelError::ContextTooLong { limit: 32, .. }), "{error}");

        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).expect("read")).expect("json");
        config["rope_scaling"] = serde_json::json!({"type": "linear", "factor": 2.0});
        std::fs::write(dir.path().join("config.json"), config.to_string()).expect("write");
        let error = SafetensorsStarcoder2::load(dir.path(), &LoadOptions::with_threads(1)).err().expect("refused");
        assert!(error.to_string().contains("RoPE scaling"), "{error}");
    }
}
