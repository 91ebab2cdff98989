//! The model's share of `./bench.sh typing`'s default-budget leg, without HTTP, queues or
//! PostgreSQL: a quick, quiet loop for changes to drafting, sampling or the engine.
//!
//! Usage: `bench_typing MODEL.gguf SOURCE THREADS`. The first 2000 characters of SOURCE are typed
//! as `bench/typing_replay.py` types them; after every word end the worker's completion request for
//! SmolLM2 is generated — the last 512 characters from their stable anchor as the prompt, the
//! row's stops, the contract's default budget of 64 new tokens, upstream's sampling — on one model
//! with drafts and one without, each with its own prefix cache. Prints one JSON line: per-request
//! p50/p90/mean milliseconds, tokens written and the drafts' acceptance.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use code4me_worker::model::anchor::stable_prefix;
use code4me_worker::model::generation::GenerationRequest;
use code4me_worker::model::gguf_llama::GgufLlama;
use code4me_worker::model::sampling::SamplingParams;
use code4me_worker::model::{LoadOptions, TextModel};

/// Characters typed, as `bench/typing_replay.py --chars` defaults to.
const TYPED_CHARS: usize = 2000;
/// The plugin's prefix window.
const WINDOW_CHARS: usize = 512;
/// The contract's default budget.
const MAX_NEW_TOKENS: usize = 64;
/// SmolLM2's row in the seed data.
const STOPS: [&str; 3] = ["\n\n", "<file_sep>", "<|endoftext|>"];

/// Positions right after each word, where the plugin's debounce fires (typing_replay's rule).
fn word_end_carets(text: &[char]) -> Vec<usize> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    (1..text.len()).filter(|&i| word(text[i - 1]) && !word(text[i])).collect()
}

fn requests(source: &str) -> Vec<GenerationRequest> {
    let typed: Vec<char> = source.chars().take(TYPED_CHARS).collect();
    word_end_carets(&typed)
        .into_iter()
        .map(|caret| {
            let window: String = typed[caret.saturating_sub(WINDOW_CHARS)..caret].iter().collect();
            GenerationRequest {
                prompt: stable_prefix(&window).to_owned(),
                max_new_tokens: MAX_NEW_TOKENS,
                stop_sequences: STOPS.iter().map(|s| (*s).to_owned()).collect(),
                sampling: SamplingParams::default(),
            }
        })
        .collect()
}

fn percentile(samples: &[f64], p: usize) -> f64 {
    let mut ordered = samples.to_vec();
    ordered.sort_by(f64::total_cmp);
    ordered[(ordered.len() * p / 100).min(ordered.len() - 1)]
}

/// Replays `requests` on `model`: milliseconds per request, tokens written, drafts accepted and
/// proposed.
fn replay(model: &GgufLlama, requests: &[GenerationRequest]) -> anyhow::Result<serde_json::Value> {
    let (mut ms, mut tokens, mut proposed, mut accepted) = (Vec::new(), 0, 0, 0);
    for request in requests {
        let started = Instant::now();
        let generation = model.generate(request, &AtomicBool::new(false), &mut |_| {})?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        tokens += generation.tokens.len();
        proposed += generation.drafts.proposed;
        accepted += generation.drafts.accepted;
    }
    Ok(serde_json::json!({
        "p50_ms": percentile(&ms, 50),
        "p90_ms": percentile(&ms, 90),
        "mean_ms": ms.iter().sum::<f64>() / ms.len() as f64,
        "tokens_per_request": tokens as f64 / requests.len() as f64,
        "draft_acceptance": if proposed == 0 { 0.0 } else { accepted as f64 / proposed as f64 },
    }))
}

fn main() -> anyhow::Result<()> {
    code4me_worker::model::memory::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 4, "usage: bench_typing MODEL.gguf SOURCE THREADS");
    let path = std::path::Path::new(&args[1]);
    let threads: usize = args[3].parse()?;
    let requests = requests(&std::fs::read_to_string(&args[2])?);
    let speculative = GgufLlama::load(path, LoadOptions::with_threads(threads))?;
    let plain = GgufLlama::load(path, LoadOptions { max_draft_tokens: 0, ..LoadOptions::with_threads(threads) })?;
    // Warm-up: page the weights in and let the step costs settle.
    for request in requests.iter().take(8) {
        speculative.generate(request, &AtomicBool::new(false), &mut |_| {})?;
        plain.generate(request, &AtomicBool::new(false), &mut |_| {})?;
    }
    let with_drafts = replay(&speculative, &requests)?;
    let without = replay(&plain, &requests)?;
    println!("{}", serde_json::json!({"requests": requests.len(), "with_drafts": with_drafts, "no_drafts": without}));
    Ok(())
}
