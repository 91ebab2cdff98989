//! `./bench.sh inference`: prompt and decode speed of the native engine on a GGUF model.
//!
//! Usage: `bench_inference MODEL.gguf SOURCE.txt THREADS ROUNDS TOKENS_OUT.json`: the prompt is the
//! first 512 tokens of SOURCE.txt, written to TOKENS_OUT.json (`{"prompt": [...], "decode": 64}`)
//! so llama.cpp is timed on the very same ids. Prefill evaluates the prompt on a fresh sequence; decode
//! then evaluates `n` tokens one at a time (greedy, so the same work every round); reuse times a
//! prompt that extends a cached one by 16 tokens. Speculative decoding is timed on a code-completion
//! workload: greedy completions of up to 64 tokens at line starts of SOURCE.txt (the 512 tokens
//! before each as the prompt), decoded with drafts and plainly by the same engine; decode speed is
//! tokens after the first over the time from the first to the last. Prints one JSON line with medians.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use code4me_worker::model::generation::GenerationRequest;
use code4me_worker::model::gguf_llama::GgufLlama;
use code4me_worker::model::sampling::SamplingParams;
use code4me_worker::model::{LoadOptions, TextModel};

const PROMPT_TOKENS: usize = 512;
const DECODE_TOKENS: usize = 64;
/// Tokens scored in one exact pass when timing draft verification (1: a plain decode step).
const VERIFY_SIZES: [usize; 4] = [1, 2, 4, 8];
/// Passes timed per size and round.
const VERIFY_REPEATS: usize = 8;
/// Completion points of the speculative-decoding workload.
const COMPLETIONS: usize = 12;

/// Prompts ending at line starts spread over `text` (skipping its first `PROMPT_TOKENS`-odd
/// characters), each the text before the point cut to the last `PROMPT_TOKENS` tokens.
fn completion_prompts(model: &GgufLlama, text: &str) -> anyhow::Result<Vec<String>> {
    let line_starts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).filter(|&i| i > 4 * PROMPT_TOKENS && i < text.len()).collect();
    anyhow::ensure!(line_starts.len() >= COMPLETIONS, "the source text is too short for {COMPLETIONS} completion points");
    let step = line_starts.len() / COMPLETIONS;
    let mut prompts = Vec::new();
    for &end in line_starts.iter().step_by(step).take(COMPLETIONS) {
        let before = &text[..end];
        let ids = model.tokenizer().encode(before, false).map_err(|e| anyhow::anyhow!("{e}"))?;
        let offsets = ids.get_offsets();
        let first = offsets.len().saturating_sub(PROMPT_TOKENS);
        prompts.push(before[offsets[first].0..].to_owned());
    }
    Ok(prompts)
}

/// Decode speed over the prompts (tokens after the first, over the time from the first to the
/// last), the drafts' acceptance, and every completion's tokens (to check both decoders agree).
fn time_completions(model: &GgufLlama, prompts: &[String]) -> anyhow::Result<(f64, f64, Vec<Vec<u32>>)> {
    let (mut tokens, mut seconds, mut proposed, mut accepted, mut outputs) = (0usize, 0f64, 0usize, 0usize, Vec::new());
    for prompt in prompts {
        let request = GenerationRequest {
            prompt: prompt.clone(),
            max_new_tokens: DECODE_TOKENS,
            stop_sequences: Vec::new(),
            sampling: SamplingParams { temperature: 0.0, ..SamplingParams::default() },
        };
        let (mut first, mut last) = (None, Instant::now());
        let generation = model.generate(&request, &AtomicBool::new(false), &mut |_| {
            last = Instant::now();
            first.get_or_insert(last);
        })?;
        if let Some(first) = first {
            tokens += generation.tokens.len() - 1;
            seconds += (last - first).as_secs_f64();
        }
        proposed += generation.drafts.proposed;
        accepted += generation.drafts.accepted;
        outputs.push(generation.tokens);
    }
    Ok((tokens as f64 / seconds, if proposed == 0 { 0.0 } else { accepted as f64 / proposed as f64 }, outputs))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn argmax(logits: &[f32]) -> u32 {
    logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32)
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() -> anyhow::Result<()> {
    // As the worker runs: the peak RSS reported below depends on it.
    code4me_worker::model::memory::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 6, "usage: bench_inference MODEL.gguf SOURCE.txt THREADS ROUNDS TOKENS_OUT.json");
    let threads: usize = args[3].parse()?;
    let rounds: usize = args[4].parse()?;
    let model = GgufLlama::load(std::path::Path::new(&args[1]), LoadOptions::with_threads(threads))?;
    let text = std::fs::read_to_string(&args[2])?;
    let ids = model.tokenizer().encode(text.as_str(), false).map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(ids.len() >= PROMPT_TOKENS, "{} has only {} tokens; {PROMPT_TOKENS} needed", args[2], ids.len());
    let prompt: Vec<u32> = ids.get_ids()[..PROMPT_TOKENS].to_vec();
    let decode = std::env::var("BENCH_DECODE_TOKENS").ok().and_then(|v| v.parse().ok()).unwrap_or(DECODE_TOKENS);
    std::fs::write(&args[5], serde_json::json!({"prompt": prompt, "decode": decode}).to_string())?;
    let engine = model.engine();
    let pool = model.pool();

    let (mut prefill, mut decoding, mut cold_extend, mut warm_extend) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut verify_ms: Vec<Vec<f64>> = vec![Vec::new(); VERIFY_SIZES.len()];
    // One warm-up round, then the measured ones.
    for round in 0..=rounds {
        let mut sequence = engine.new_sequence();
        let started = Instant::now();
        let logits = pool.install(|| engine.forward(&mut sequence, &prompt))?;
        let prefill_s = started.elapsed().as_secs_f64();
        let mut next = argmax(&logits);
        let started = Instant::now();
        for _ in 0..decode {
            next = argmax(&pool.install(|| engine.forward(&mut sequence, &[next]))?);
        }
        let decode_s = started.elapsed().as_secs_f64();
        // What verifying a draft costs: `k` tokens scored in one exact pass, against one token.
        let held = sequence.tokens().len();
        for (i, &k) in VERIFY_SIZES.iter().enumerate() {
            let tokens: Vec<u32> = prompt[..k].to_vec();
            let started = Instant::now();
            for _ in 0..VERIFY_REPEATS {
                pool.install(|| engine.forward_each(&mut sequence, &tokens))?;
                sequence.truncate(held);
            }
            if round > 0 {
                verify_ms[i].push(started.elapsed().as_secs_f64() * 1000.0 / VERIFY_REPEATS as f64);
            }
        }

        // Prompt reuse: the prompt plus 16 more tokens, evaluated cold and after the cached prefix.
        let extended: Vec<u32> = prompt.iter().chain(prompt.iter().take(16)).copied().collect();
        let started = Instant::now();
        pool.install(|| engine.forward(&mut engine.new_sequence(), &extended))?;
        let cold_s = started.elapsed().as_secs_f64();
        sequence.truncate(prompt.len());
        let started = Instant::now();
        pool.install(|| engine.forward(&mut sequence, &extended[prompt.len()..]))?;
        let warm_s = started.elapsed().as_secs_f64();
        if round > 0 {
            prefill.push(prompt.len() as f64 / prefill_s);
            decoding.push(decode as f64 / decode_s);
            cold_extend.push(cold_s * 1000.0);
            warm_extend.push(warm_s * 1000.0);
        }
        eprintln!("round {round}: prefill {:.0} tok/s, decode {:.1} tok/s", prompt.len() as f64 / prefill_s, decode as f64 / decode_s);
    }
    // Peak memory of one loaded model at work, before the two below are loaded.
    let peak_rss = peak_rss_mib();
    // Speculative decoding on completions: the same weights with and without drafts, cold prompts
    // (no prefix cache, so no earlier completion to draw on: the conservative case).
    let speculative = GgufLlama::load(std::path::Path::new(&args[1]), LoadOptions { prefix_cache_entries: 0, ..LoadOptions::with_threads(threads) })?;
    let plain = GgufLlama::load(
        std::path::Path::new(&args[1]),
        LoadOptions { prefix_cache_entries: 0, max_draft_tokens: 0, ..LoadOptions::with_threads(threads) },
    )?;
    let prompts = completion_prompts(&speculative, &text)?;
    let (mut spec_rates, mut plain_rates, mut acceptance) = (Vec::new(), Vec::new(), 0.0);
    for round in 0..=rounds {
        let (spec_rate, accepted, spec_out) = time_completions(&speculative, &prompts)?;
        let (plain_rate, _, plain_out) = time_completions(&plain, &prompts)?;
        anyhow::ensure!(spec_out == plain_out, "speculative decoding changed a greedy completion");
        eprintln!(
            "round {round}: completions decode {spec_rate:.1} tok/s speculative, {plain_rate:.1} plain; {:.0}% of drafts accepted",
            accepted * 100.0
        );
        if round > 0 {
            spec_rates.push(spec_rate);
            plain_rates.push(plain_rate);
            acceptance = accepted;
        }
    }
    let verify_ms: Vec<f64> = verify_ms.into_iter().map(median).collect();
    // Cost of scoring k tokens in one pass, in plain decode steps (what sizes a draft).
    let verify_cost = |k: usize| VERIFY_SIZES.iter().position(|&s| s == k).map(|i| verify_ms[i] / verify_ms[0]);
    let result = serde_json::json!({
        "prompt_tokens": prompt.len(),
        "decode_tokens": decode,
        "threads": threads,
        "kernels": code4me_worker::model::native::quant::Kernels::in_use().name(),
        "prefill_tok_s": median(prefill),
        "decode_tok_s": median(decoding),
        "extend_by_16_cold_ms": median(cold_extend),
        "extend_by_16_reused_ms": median(warm_extend),
        "completions": prompts.len(),
        "spec_decode_tok_s": median(spec_rates),
        "completion_plain_decode_tok_s": median(plain_rates),
        "draft_acceptance": acceptance,
        "verify_step_ms": verify_ms[0],
        "verify_cost_2": verify_cost(2),
        "verify_cost_4": verify_cost(4),
        "verify_cost_8": verify_cost(8),
        "decode_weight_mib": engine.decode_bytes() as f64 / (1024.0 * 1024.0),
        "peak_rss_mib": peak_rss,
    });
    println!("{result}");
    Ok(())
}
