//! Token sampling with upstream's semantics (Hugging Face `generate` with `do_sample=True`):
//! repetition penalty, then temperature, top-k and top-p, then a draw from what is left. The
//! log-probability recorded for a token is taken from that same processed distribution — the scores
//! upstream stores in `had_generation.logprobs` and averages into `confidence`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sampling parameters (upstream's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; `0` means greedy.
    pub temperature: f32,
    /// Keep at most this many candidates (`0` keeps all).
    pub top_k: usize,
    /// Keep the smallest set of candidates whose probability reaches this mass.
    pub top_p: f32,
    /// Penalty for tokens already in the sequence (1.0 = none).
    pub repetition_penalty: f32,
    /// RNG seed: the same seed and prompt give the same tokens.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.2, top_k: 50, top_p: 0.95, repetition_penalty: 1.1, seed: 42 }
    }
}

/// One drawn token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    /// Token id.
    pub token: u32,
    /// Its natural-log probability under the processed distribution.
    pub logprob: f32,
}

/// A seeded sampler for one sequence.
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    /// A sampler seeded from `params.seed`.
    pub fn new(params: SamplingParams) -> Self {
        Self { params, rng: StdRng::seed_from_u64(params.seed) }
    }

    /// Draws the next token from `logits` given the tokens so far (prompt and generated).
    ///
    /// This runs once per emitted or verified token over the whole vocabulary (49k entries for
    /// SmolLM2), so it touches each score once or twice: the top-k scan and the greedy log-sum-exp
    /// are single vector-friendly passes, and temperature and top-p apply to the kept candidates only.
    pub fn sample(&mut self, logits: &[f32], previous: &[u32]) -> Sampled {
        let mut scores = logits.to_vec();
        apply_repetition_penalty(&mut scores, previous, self.params.repetition_penalty);
        if self.params.temperature <= 0.0 {
            let token = argmax(&scores);
            let best = scores[token];
            return Sampled { token: token as u32, logprob: best - log_sum_exp(&mut scores, best) };
        }
        // Dividing by a positive temperature keeps the order, so top-k can run on the raw scores.
        let candidates = self.candidates(&scores);
        // Probabilities over the kept candidates only: the warpers set every other score to -inf.
        // Candidates come best first, so the first holds the largest scaled score.
        let max = candidates[0].1;
        let weights: Vec<f64> = candidates.iter().map(|&(_, scaled)| f64::from(scaled - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut draw = self.rng.random::<f64>() * total;
        let mut chosen = candidates.len() - 1;
        for (position, weight) in weights.iter().enumerate() {
            if draw < *weight {
                chosen = position;
                break;
            }
            draw -= weight;
        }
        let token = candidates[chosen].0;
        let logprob = (weights[chosen] / total).ln() as f32;
        Sampled { token: token as u32, logprob }
    }

    /// Indices surviving top-k then top-p, most likely first (never empty), each with its score
    /// divided by the temperature.
    fn candidates(&self, scores: &[f32]) -> Vec<(usize, f32)> {
        let top_k = self.params.top_k;
        let order = best_k(scores, if top_k > 0 { top_k } else { scores.len() });
        let mut kept: Vec<(usize, f32)> = order.into_iter().map(|i| (i, scores[i] / self.params.temperature)).collect();
        if self.params.top_p < 1.0 {
            let max = kept[0].1;
            let weights: Vec<f64> = kept.iter().map(|&(_, scaled)| f64::from(scaled - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            let mut cumulative = 0.0;
            let mut keep = kept.len();
            for (position, weight) in weights.iter().enumerate() {
                cumulative += weight / total;
                if cumulative >= f64::from(self.params.top_p) {
                    keep = position + 1;
                    break;
                }
            }
            kept.truncate(keep.max(1));
        }
        kept
    }
}

/// The indices of the `k` highest scores, highest first (equal scores: lower index first). One
/// pass that compares each score with the k-th best so far — almost always a single comparison —
/// instead of partitioning an index array of the whole vocabulary.
fn best_k(scores: &[f32], k: usize) -> Vec<usize> {
    if k >= scores.len() {
        let mut all: Vec<usize> = (0..scores.len()).collect();
        all.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        return all;
    }
    let mut best: Vec<usize> = Vec::with_capacity(k + 1);
    let mut threshold = f32::NEG_INFINITY;
    for (i, &score) in scores.iter().enumerate() {
        if best.len() == k && score.total_cmp(&threshold).is_le() {
            continue;
        }
        let at = best.partition_point(|&j| scores[j].total_cmp(&score).is_ge());
        best.insert(at, i);
        best.truncate(k);
        if best.len() == k {
            threshold = scores[best[k - 1]];
        }
    }
    best
}

/// Hugging Face's rule: a seen token's positive score is divided by the penalty, a negative one
/// multiplied, so either way it becomes less likely.
pub fn apply_repetition_penalty(scores: &mut [f32], previous: &[u32], penalty: f32) {
    if (penalty - 1.0).abs() < f32::EPSILON {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for &token in previous {
        if let Some(score) = scores.get_mut(token as usize)
            && seen.insert(token)
        {
            *score = if *score < 0.0 { *score * penalty } else { *score / penalty };
        }
    }
}

fn argmax(scores: &[f32]) -> usize {
    scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// `ln Σ e^s` over `scores`, whose largest entry is `max` (overwritten: the vector exponential
/// works in place).
fn log_sum_exp(scores: &mut [f32], max: f32) -> f32 {
    scores.iter_mut().for_each(|s| *s -= max);
    super::native::vector::exp_in_place(scores);
    max + scores.iter().map(|&e| f64::from(e)).sum::<f64>().ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_best_token_with_its_log_probability() {
        let mut sampler = Sampler::new(SamplingParams { temperature: 0.0, repetition_penalty: 1.0, ..SamplingParams::default() });
        let picked = sampler.sample(&[0.0, 2.0, 1.0], &[]);
        assert_eq!(picked.token, 1);
        let expected = (2.0f32.exp() / (1.0 + 2.0f32.exp() + 1.0f32.exp())).ln();
        assert!((picked.logprob - expected).abs() < 1e-5);
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| (i % 7) as f32 * 0.3).collect();
        let draw = |seed| {
            let mut s = Sampler::new(SamplingParams { temperature: 1.0, seed, ..SamplingParams::default() });
            (0..20).map(|_| s.sample(&logits, &[]).token).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn top_k_and_top_p_exclude_unlikely_tokens() {
        let mut logits = vec![-10.0f32; 100];
        logits[3] = 5.0;
        logits[4] = 4.9;
        let mut sampler = Sampler::new(SamplingParams { temperature: 1.0, top_k: 2, top_p: 0.95, repetition_penalty: 1.0, seed: 1 });
        for _ in 0..50 {
            let s = sampler.sample(&logits, &[]);
            assert!(s.token == 3 || s.token == 4);
            assert!(s.logprob.is_finite() && s.logprob <= 0.0);
        }
    }

    #[test]
    fn the_top_k_scan_keeps_what_a_full_sort_keeps_in_the_same_order() {
        // A vocabulary with many ties (scores on a coarse grid), in no particular order.
        let scores: Vec<f32> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 20) as f32 * 0.25 - 300.0).collect();
        let mut sorted: Vec<usize> = (0..scores.len()).collect();
        sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        for k in [1, 2, 50, 4999, 5000, 6000] {
            assert_eq!(best_k(&scores, k), sorted[..k.min(scores.len())], "k = {k}");
        }
    }

    #[test]
    fn greedy_log_probability_matches_the_exact_log_softmax_on_a_large_vocabulary() {
        let logits: Vec<f32> = (0..49_152u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0 * 20.0 - 10.0).collect();
        let mut sampler = Sampler::new(SamplingParams { temperature: 0.0, repetition_penalty: 1.0, ..SamplingParams::default() });
        let picked = sampler.sample(&logits, &[]);
        let best = logits[picked.token as usize];
        assert_eq!(best, logits.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let exact = -logits.iter().map(|&s| f64::from(s - best).exp()).sum::<f64>().ln();
        assert!((f64::from(picked.logprob) - exact).abs() < 1e-5, "{} vs {exact}", picked.logprob);
    }

    #[test]
    fn repetition_penalty_shrinks_seen_scores_towards_zero_either_way() {
        let mut scores = vec![2.0, -2.0, 2.0];
        apply_repetition_penalty(&mut scores, &[0, 1, 1], 2.0);
        assert_eq!(scores, [1.0, -4.0, 2.0]);
    }
}
