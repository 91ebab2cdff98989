//! Drafts for speculative decoding without a draft model ("prompt lookup"): code repeats itself —
//! identifiers, call shapes, the lines above, the completion shown a keystroke ago — so the tokens
//! that followed the last few tokens' previous occurrence are a cheap guess at what comes next. The
//! decode loop ([`generation`](super::generation)) has the model score a guess in one batched pass
//! and keeps the longest prefix the model itself would have produced, so drafts change speed only,
//! never output.
//!
//! Verification is not free: scoring `k` extra tokens costs a fraction of a decode step each (the
//! weight blocks are unpacked once for a group of tokens, but every token's products and attention
//! still run) — 0.3 on one 2-core CPU, 0.6 on another. [`StepCosts`] learns that fraction from the
//! model's own step times. The draft length is chosen per step to maximise expected tokens per unit of
//! work, from it and a running estimate of how often a drafted token is the model's own choice — one
//! estimate per key length, since a continuation found after 8 matching tokens is far likelier than
//! one found after a single token — and is zero, plain decoding, when drafts fare too poorly to pay.
//! While not speculating, drafts are still proposed and compared with what decoding produces, at
//! no cost, so the estimate recovers when the text turns repetitive.

use std::sync::atomic::{AtomicU64, Ordering};

/// Longest n-gram matched against the history; longer keys find fewer but better continuations
/// (a match that would run longer still counts as one of this length).
const MAX_NGRAM: usize = 8;
/// Shortest: a single token is a weak key, tried only when no longer one matches.
const MIN_NGRAM: usize = 1;
/// Cost of verifying one more token, as a fraction of a single-token decode step, until a model has
/// timed its own (the native engine on a 2-core Zen 4, `./bench.sh inference`'s `verify_cost_k`:
/// 2 tokens ≈ 1.3 steps, 4 ≈ 1.8–2.0, 8 ≈ 3.0–3.5).
pub const EXTRA_TOKEN_COST: f64 = 0.3;
/// Weight of the newest timing in [`StepCosts`]' running estimates.
const COST_SMOOTHING: f64 = 0.1;
/// Bounds of a timed extra-token cost: a slow single step or a preempted pass must not make drafts
/// look free or ruinous.
const COST_RANGE: (f64, f64) = (0.05, 1.5);
/// The acceptance estimates a generation starts from, by the length of the key that found the draft
/// (1 to [`MAX_NGRAM`] tokens): the longer the match, the likelier its continuation. Measured on
/// the typing trace with SmolLM2 (`bench_typing`'s 259 completions): of the drafted tokens judged,
/// the model produced 0.31, 0.60, 0.68, 0.73, 0.70, 0.82, 0.75 and 0.87 itself after keys of 1
/// to 8 tokens. One estimate for all keys (0.44 overall) drafted too much after a one-token key and
/// too little after a long one.
const PRIOR_ACCEPTANCE: [f64; MAX_NGRAM] = [0.3, 0.6, 0.65, 0.7, 0.7, 0.8, 0.8, 0.85];
/// Weight of the newest observation in the running acceptance estimate.
const SMOOTHING: f64 = 0.2;

/// What verifying drafts costs on this machine, learnt from the decode loop's own step times and
/// shared by a model's generations (whose steps may run concurrently: each estimate is one atomic
/// float, and a lost update only delays it). Single-token steps give the step time; a pass over
/// `k + 1` tokens then gives `(pass / step − 1) / k`, the cost of each extra token.
#[derive(Debug)]
pub struct StepCosts {
    /// Seconds of a single-token step (running estimate; NaN until the first).
    step_seconds: AtomicU64,
    /// Cost of one more token in a pass, in single-token steps (running estimate).
    extra_token: AtomicU64,
}

impl Default for StepCosts {
    fn default() -> Self {
        Self { step_seconds: AtomicU64::new(f64::NAN.to_bits()), extra_token: AtomicU64::new(EXTRA_TOKEN_COST.to_bits()) }
    }
}

impl StepCosts {
    /// The current estimate of one more verified token's cost, in single-token steps.
    pub fn extra_token_cost(&self) -> f64 {
        f64::from_bits(self.extra_token.load(Ordering::Relaxed))
    }

    /// Records a forward pass over `tokens` tokens (after the first, each a drafted one) that took
    /// `seconds`.
    pub fn record(&self, tokens: usize, seconds: f64) {
        let step = f64::from_bits(self.step_seconds.load(Ordering::Relaxed));
        if tokens == 1 {
            let updated = if step.is_nan() { seconds } else { step + COST_SMOOTHING * (seconds - step) };
            self.step_seconds.store(updated.to_bits(), Ordering::Relaxed);
        } else if tokens > 1 && step > 0.0 {
            let sample = ((seconds / step - 1.0) / (tokens - 1) as f64).clamp(COST_RANGE.0, COST_RANGE.1);
            let extra = self.extra_token_cost();
            self.extra_token.store((extra + COST_SMOOTHING * (sample - extra)).to_bits(), Ordering::Relaxed);
        }
    }
}

/// Proposes continuations for one generation and sizes them to their expected payoff.
#[derive(Debug, Clone)]
pub struct NgramDrafter {
    max_draft: usize,
    /// Running estimates of the probability that a drafted token is accepted, by the length of the
    /// key that found the draft (index `key − 1`).
    acceptance: [f64; MAX_NGRAM],
    proposed: usize,
    accepted: usize,
}

/// A proposed continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The tokens that followed the key's earlier occurrence (at least one).
    pub tokens: Vec<u32>,
    /// How many of the sequence's last tokens matched there (1 to [`MAX_NGRAM`]): the draft's
    /// acceptance is estimated for each key length apart.
    pub key: usize,
}

/// How a generation's drafts fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DraftStats {
    /// Draft tokens scored by the model.
    pub proposed: usize,
    /// Of those, the ones the model produced itself (emitted without a forward pass of their own).
    pub accepted: usize,
}

impl NgramDrafter {
    /// A drafter proposing at most `max_draft` tokens at a time (0 never proposes).
    pub fn new(max_draft: usize) -> Self {
        Self { max_draft, acceptance: PRIOR_ACCEPTANCE, proposed: 0, accepted: 0 }
    }

    /// The length worth verifying of a draft found by a `key`-token match: the `k` maximising
    /// expected emitted tokens `(1 − p^(k+1)) / (1 − p)` per unit of work `1 + k · extra_token_cost`
    /// (0: decode plainly), `p` the acceptance estimate for that key length.
    pub fn worthwhile_length(&self, key: usize, extra_token_cost: f64) -> usize {
        let p = self.acceptance[Self::class(key)].clamp(0.0, 0.999);
        let payoff = |k: usize| (1.0 - p.powi(k as i32 + 1)) / (1.0 - p) / (1.0 + k as f64 * extra_token_cost);
        (0..=self.max_draft).max_by(|&a, &b| payoff(a).total_cmp(&payoff(b))).unwrap_or(0)
    }

    /// The continuation after the latest earlier occurrence of `sequence`'s last n tokens (n from
    /// [`MAX_NGRAM`] down to [`MIN_NGRAM`]), looked up first in `history` (earlier outputs, most
    /// relevant first), then in `sequence` itself; at most `limit` tokens. `None` when nothing
    /// matches.
    pub fn propose(&self, sequence: &[u32], history: &[Vec<u32>], limit: usize) -> Option<Draft> {
        let want = self.max_draft.min(limit);
        if want == 0 {
            return None;
        }
        for n in (MIN_NGRAM..=MAX_NGRAM).rev() {
            if sequence.len() <= n {
                continue;
            }
            let key = &sequence[sequence.len() - n..];
            // What followed this spot last time (the shown suggestion) beats a match elsewhere.
            if let Some(found) = history.iter().find_map(|h| continuation(h, key, want)).or_else(|| continuation(sequence, key, want)) {
                return Some(Draft { tokens: found.to_vec(), key: n });
            }
        }
        None
    }

    /// Records a verified draft found by a `key`-token match: `accepted` of `proposed` tokens were
    /// kept. Each accepted token is a success; the first rejected one, if any, a failure (later
    /// ones were never judged).
    pub fn record(&mut self, key: usize, proposed: usize, accepted: usize) {
        self.proposed += proposed;
        self.accepted += accepted;
        for _ in 0..accepted {
            self.observe(key, true);
        }
        if accepted < proposed {
            self.observe(key, false);
        }
    }

    /// Updates the acceptance estimate for `key`-token matches with one drafted token judged
    /// (verified, or compared with what plain decoding produced).
    pub fn observe(&mut self, key: usize, accepted: bool) {
        let estimate = &mut self.acceptance[Self::class(key)];
        *estimate += SMOOTHING * (f64::from(u8::from(accepted)) - *estimate);
    }

    /// The estimate a `key`-token match is judged by.
    fn class(key: usize) -> usize {
        key.clamp(MIN_NGRAM, MAX_NGRAM) - 1
    }

    /// Totals for this generation.
    pub fn stats(&self) -> DraftStats {
        DraftStats { proposed: self.proposed, accepted: self.accepted }
    }
}

/// Up to `want` tokens that follow the last occurrence of `key` in `haystack` with at least one
/// token after it (so a key taken from the end of `haystack` never matches itself), or `None`.
fn continuation<'a>(haystack: &'a [u32], key: &[u32], want: usize) -> Option<&'a [u32]> {
    let n = key.len();
    if haystack.len() <= n {
        return None;
    }
    (0..haystack.len() - n).rev().find(|&at| haystack[at..at + n] == *key).map(|at| &haystack[at + n..(at + n + want).min(haystack.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_occurrence_of_the_longest_key_wins() {
        let drafter = NgramDrafter::new(4);
        // No earlier "0 2 3"; "2 3" occurs twice, the later one followed by 7 8 0 2.
        let sequence = [1, 2, 3, 4, 5, 9, 1, 2, 3, 7, 8, 0, 2, 3];
        assert_eq!(drafter.propose(&sequence, &[], 8), Some(Draft { tokens: vec![7, 8, 0, 2], key: 2 }));
        // Only the one-token key "3" matches in `[5, 3, 6, 3]`.
        assert_eq!(drafter.propose(&[5, 3, 6, 3], &[], 8), Some(Draft { tokens: vec![6, 3], key: 1 }));
        // Keys grow to eight tokens: the nine-token run repeats from its second token on.
        let run: Vec<u32> = (10..19).collect();
        let repeated = [run.as_slice(), &[99], &run[1..]].concat();
        assert_eq!(drafter.propose(&repeated, &[], 8), Some(Draft { tokens: vec![99, 11, 12, 13], key: 8 }));
    }

    #[test]
    fn history_comes_first_and_limits_apply() {
        let drafter = NgramDrafter::new(8);
        let history = vec![vec![40, 41, 42, 43, 44, 45, 46]];
        assert_eq!(drafter.propose(&[41, 42, 7, 41, 42], &history, 3), Some(Draft { tokens: vec![43, 44, 45], key: 2 }));
        assert_eq!(drafter.propose(&[1, 2, 41, 42], &history, 2), Some(Draft { tokens: vec![43, 44], key: 2 }));
        assert_eq!(drafter.propose(&[1, 2, 41, 42], &history, 0), None);
        assert_eq!(drafter.propose(&[1, 2, 99], &history, 8), None);
        assert_eq!(NgramDrafter::new(0).propose(&[1, 1, 1], &history, 8), None);
    }

    #[test]
    fn drafts_are_as_long_as_their_acceptance_pays_for() {
        let mut drafter = NgramDrafter::new(8);
        // The prior for a three-token key (0.65) pays for a short draft only.
        let first = drafter.worthwhile_length(3, EXTRA_TOKEN_COST);
        assert!((1..=3).contains(&first), "{first}");
        // A run of accepted drafts lengthens them up to the cap...
        for _ in 0..20 {
            drafter.record(3, 4, 4);
        }
        assert_eq!(drafter.worthwhile_length(3, EXTRA_TOKEN_COST), 8);
        // ...and rejections make plain decoding the better deal.
        for _ in 0..10 {
            drafter.record(3, 2, 0);
        }
        assert_eq!(drafter.worthwhile_length(3, EXTRA_TOKEN_COST), 0);
        // Free observations (drafts compared with plain decoding's tokens) bring it back.
        for _ in 0..20 {
            drafter.observe(3, true);
        }
        assert!(drafter.worthwhile_length(3, EXTRA_TOKEN_COST) >= 4);
        assert_eq!(drafter.stats(), DraftStats { proposed: 100, accepted: 80 });
        assert_eq!(NgramDrafter::new(0).worthwhile_length(3, EXTRA_TOKEN_COST), 0);
    }

    #[test]
    fn each_key_length_keeps_its_own_estimate() {
        let mut drafter = NgramDrafter::new(8);
        // Before any evidence, longer keys earn longer drafts.
        let by_key: Vec<usize> = (1..=MAX_NGRAM).map(|key| drafter.worthwhile_length(key, EXTRA_TOKEN_COST)).collect();
        assert!(by_key.windows(2).all(|pair| pair[0] <= pair[1]), "{by_key:?}");
        assert!(by_key[MAX_NGRAM - 1] >= 3 && by_key[MAX_NGRAM - 1] > by_key[1], "{by_key:?}");
        // Single-token keys failing stops their drafts, not those of long matches.
        let long = drafter.worthwhile_length(8, EXTRA_TOKEN_COST);
        for _ in 0..10 {
            drafter.record(1, 1, 0);
        }
        assert_eq!(drafter.worthwhile_length(1, EXTRA_TOKEN_COST), 0);
        assert_eq!(drafter.worthwhile_length(8, EXTRA_TOKEN_COST), long);
        // A key longer than the longest tried is judged as the longest.
        drafter.observe(MAX_NGRAM + 4, false);
        assert!(drafter.worthwhile_length(8, EXTRA_TOKEN_COST) < long);
    }

    #[test]
    fn the_extra_token_cost_is_learnt_from_step_times_and_shortens_drafts_when_high() {
        let costs = StepCosts::default();
        // Passes over several tokens say nothing before a single step was timed.
        costs.record(3, 0.030);
        assert_eq!(costs.extra_token_cost(), EXTRA_TOKEN_COST);
        // Steps of 10 ms, passes over 3 tokens of 22 ms: each extra token costs 0.6 of a step.
        for _ in 0..100 {
            costs.record(1, 0.010);
            costs.record(3, 0.022);
        }
        assert!((costs.extra_token_cost() - 0.6).abs() < 0.01, "{}", costs.extra_token_cost());
        // A preempted pass moves the estimate a bounded step.
        costs.record(3, 10.0);
        assert!(costs.extra_token_cost() < 0.6 + COST_SMOOTHING * COST_RANGE.1, "{}", costs.extra_token_cost());
        // At the prior acceptance a cheap extra token pays for a draft, a dear one does not.
        let drafter = NgramDrafter::new(8);
        assert!(drafter.worthwhile_length(3, EXTRA_TOKEN_COST) >= 1);
        assert_eq!(drafter.worthwhile_length(3, 0.7), 0);
    }
}
