//! The decode loop every text model shares: sample, detokenize, stream, stop. A runtime only
//! provides [`Step`] (evaluate tokens, return the last logits); stop sequences, end tokens,
//! cancellation, log-probabilities and confidence behave the same for all of them, as upstream's.
//!
//! A runtime that can also score several tokens exactly as it would one at a time
//! ([`Step::verify`]) gets speculative decoding: each step scores the last token plus a
//! [drafted](super::speculative) continuation in one pass, then samples position by position from
//! those logits — the very draws plain decoding makes, with the same random numbers — and keeps
//! going while the drawn token is the drafted one. So the output is token for token that of plain
//! decoding, greedy or sampled (a drawn token equals the draft with exactly its probability under
//! the processed distribution: the standard speculative-sampling acceptance for a point-mass
//! draft), and a step emits every accepted token plus one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokenizers::Tokenizer;

use super::error::ModelError;
use super::sampling::{Sampled, Sampler, SamplingParams};
use super::speculative::{DraftStats, EXTRA_TOKEN_COST, NgramDrafter, StepCosts};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// The full prompt text.
    pub prompt: String,
    /// Upper bound of generated tokens.
    pub max_new_tokens: usize,
    /// Strings that end the generation; the output is cut at the first one in list order.
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

/// One streamed token.
#[derive(Debug, Clone, Copy)]
pub struct TokenEvent<'a> {
    /// Text this token added (may be empty while a multi-byte character is incomplete).
    pub text: &'a str,
    /// Its id.
    pub id: u32,
    /// Its natural-log probability under the processed distribution.
    pub logprob: f32,
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
    /// Prompt tokens served from the KV cache instead of being evaluated.
    pub reused_prompt_tokens: usize,
    /// Why it ended.
    pub stop_reason: StopReason,
    /// Drafted tokens scored and accepted (zero when the runtime or the request did not speculate).
    pub drafts: DraftStats,
}

/// A model's forward pass over one sequence.
pub trait Step {
    /// Evaluates `tokens` after what the sequence holds; returns the last token's logits.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError>;

    /// Whether [`verify`](Step::verify) and [`rewind`](Step::rewind) work (speculative decoding).
    fn can_verify(&self) -> bool {
        false
    }

    /// Evaluates `tokens` and returns the logits after each of them, identical to one
    /// [`step`](Step::step) per token.
    fn verify(&mut self, _tokens: &[u32]) -> Result<Vec<Vec<f32>>, ModelError> {
        Err(ModelError::Unsupported("this runtime cannot verify drafts".into()))
    }

    /// Forgets every evaluated token after the first `len` (rejected draft tokens).
    fn rewind(&mut self, _len: usize) {}

    /// Where the decode loop records its step times, which size the drafts (`None`: drafts are
    /// sized by [`EXTRA_TOKEN_COST`]).
    fn step_costs(&self) -> Option<Arc<StepCosts>> {
        None
    }
}

/// What every runtime does before its decode loop, done once here: the prompt's token ids (refused
/// when empty or when they and the requested tokens do not fit the context) and the tokens that end
/// this request. A runtime then only supplies its [`Step`] and how much of the prompt it already holds.
pub struct Prepared<'a> {
    tokenizer: &'a Tokenizer,
    request: &'a GenerationRequest,
    prompt: Vec<u32>,
    end_tokens: Vec<u32>,
    max_draft: usize,
    history: Vec<Vec<u32>>,
}

impl<'a> Prepared<'a> {
    /// Encodes `request`'s prompt for a model whose own end tokens are `model_end_tokens` and whose
    /// context holds `context_limit` tokens.
    pub fn new(tokenizer: &'a Tokenizer, model_end_tokens: &[u32], request: &'a GenerationRequest, context_limit: usize) -> Result<Self, ModelError> {
        let prompt = encode_prompt(tokenizer, request, context_limit)?;
        let end_tokens = end_tokens_with_stops(tokenizer, model_end_tokens, &request.stop_sequences);
        Ok(Self { tokenizer, request, prompt, end_tokens, max_draft: 0, history: Vec::new() })
    }

    /// Speculates with drafts of at most `max_draft` tokens (0: never) looked up in the sequence and
    /// in `history` (earlier outputs, e.g. the previous completion of the same document).
    pub fn with_drafts(mut self, max_draft: usize, history: Vec<Vec<u32>>) -> Self {
        self.max_draft = max_draft;
        self.history = history;
        self
    }

    /// The prompt's token ids.
    pub fn prompt(&self) -> &[u32] {
        &self.prompt
    }

    /// Runs the decode loop on `model`, whose sequence already holds the first `reused` prompt
    /// tokens (a reused prefix; fewer than the whole prompt, so at least one is evaluated). Calls
    /// `on_token` after each token and checks `cancel` before each forward pass.
    pub fn generate(
        &self,
        reused: usize,
        model: &mut dyn Step,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(TokenEvent<'_>),
    ) -> Result<Generation, ModelError> {
        decode(self, reused, model, cancel, on_token)
    }
}

/// The prompt's token ids, refused when it is empty or when it and the requested tokens do not fit
/// in `context_limit`.
fn encode_prompt(tokenizer: &Tokenizer, request: &GenerationRequest, context_limit: usize) -> Result<Vec<u32>, ModelError> {
    let prompt = tokenizer.encode(request.prompt.as_str(), false).map_err(|e| ModelError::Tokenizer(e.to_string()))?.get_ids().to_vec();
    if prompt.is_empty() {
        return Err(ModelError::Config("the prompt is empty".into()));
    }
    if prompt.len() + request.max_new_tokens > context_limit {
        return Err(ModelError::ContextTooLong { prompt: prompt.len(), max_new: request.max_new_tokens, limit: context_limit });
    }
    Ok(prompt)
}

/// The model's end tokens plus every stop sequence that is a single special token (e.g.
/// `<file_sep>`): decoded text skips special tokens, so such a stop could never match as text and
/// must end generation as a token instead.
fn end_tokens_with_stops(tokenizer: &Tokenizer, model_end_tokens: &[u32], stops: &[String]) -> Vec<u32> {
    let mut end_tokens = model_end_tokens.to_vec();
    for stop in stops {
        if let Some((&id, _)) = tokenizer.get_added_tokens_decoder().iter().find(|(_, t)| t.special && t.content == *stop)
            && !end_tokens.contains(&id)
        {
            end_tokens.push(id);
        }
    }
    end_tokens
}

/// The tokens that end generation for a model: the EOS its metadata declares, plus whichever
/// end-of-text names of the common model families its tokenizer knows (chat models end turns with
/// `<|im_end|>` while declaring `<|endoftext|>`, for instance).
pub fn model_end_tokens(tokenizer: &Tokenizer, declared_eos: Option<u32>) -> Vec<u32> {
    let mut end_tokens: Vec<u32> = declared_eos.into_iter().collect();
    for name in ["<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"] {
        if let Some(id) = tokenizer.token_to_id(name)
            && !end_tokens.contains(&id)
        {
            end_tokens.push(id);
        }
    }
    end_tokens
}

/// The decode loop: the prompt tokens after `reused` are evaluated first; the whole prompt feeds
/// the repetition penalty. With drafts, a step scores `[last token, draft…]` and emits tokens while
/// they match the draft (see the module's documentation).
fn decode(
    prepared: &Prepared<'_>,
    reused: usize,
    model: &mut dyn Step,
    cancel: &AtomicBool,
    on_token: &mut dyn FnMut(TokenEvent<'_>),
) -> Result<Generation, ModelError> {
    let Prepared { request, prompt, history, .. } = prepared;
    let mut state = Decoding {
        prepared,
        sampler: Sampler::new(request.sampling),
        sequence: prompt.clone(),
        tokens: Vec::new(),
        logprobs: Vec::new(),
        text: String::new(),
    };
    let mut drafter = NgramDrafter::new(if model.can_verify() { prepared.max_draft } else { 0 });
    let costs = model.step_costs();
    let mut evaluated = reused;
    let mut input = prompt[reused..].to_vec();
    let stop_reason = loop {
        if state.tokens.len() >= request.max_new_tokens {
            break StopReason::Length;
        }
        if cancel.load(Ordering::Relaxed) {
            break StopReason::Cancelled;
        }
        // Never draft more than the budget can emit: a step emits the accepted drafts plus one.
        let remaining = request.max_new_tokens - state.tokens.len();
        let guess = if input.len() == 1 { drafter.propose(&state.sequence, history, remaining - 1) } else { None };
        let extra_token_cost = costs.as_ref().map_or(EXTRA_TOKEN_COST, |c| c.extra_token_cost());
        let worthwhile = guess.as_ref().map_or(0, |guess| drafter.worthwhile_length(guess.key, extra_token_cost));
        let guess = match guess {
            Some(guess) if worthwhile > 0 => guess,
            unverified => {
                let started = Instant::now();
                let logits = model.step(&input)?;
                if let (Some(costs), 1) = (&costs, input.len()) {
                    costs.record(1, started.elapsed().as_secs_f64());
                }
                evaluated += input.len();
                let drawn = state.sampler.sample(&logits, &state.sequence);
                // Not verified, still judged: would the guess's first token have been accepted?
                if let Some(guess) = &unverified {
                    drafter.observe(guess.key, guess.tokens[0] == drawn.token);
                }
                if let Some(reason) = state.emit(drawn, on_token)? {
                    break reason;
                }
                input = vec![drawn.token];
                continue;
            }
        };
        let draft = &guess.tokens[..worthwhile.min(guess.tokens.len())];
        let scored: Vec<u32> = input.iter().chain(draft).copied().collect();
        let started = Instant::now();
        let rows = model.verify(&scored)?;
        if let Some(costs) = &costs {
            costs.record(scored.len(), started.elapsed().as_secs_f64());
        }
        let input_len = input.len();
        let mut accepted = 0;
        let mut ended = None;
        for (position, logits) in rows.iter().enumerate() {
            let drawn = state.sampler.sample(logits, &state.sequence);
            let matches_draft = draft.get(position) == Some(&drawn.token);
            accepted += usize::from(matches_draft);
            ended = state.emit(drawn, on_token)?;
            if ended.is_none() && cancel.load(Ordering::Relaxed) {
                ended = Some(StopReason::Cancelled);
            }
            input = vec![drawn.token];
            if ended.is_some() || !matches_draft {
                break;
            }
        }
        // Keep the scored tokens that are now the sequence's: the input and the accepted drafts.
        evaluated += input_len + accepted;
        model.rewind(evaluated);
        drafter.record(guess.key, draft.len(), accepted);
        if let Some(reason) = ended {
            break reason;
        }
    };
    let Decoding { tokens, logprobs, .. } = state;
    let full = prepared.tokenizer.decode(&tokens, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let confidence = if logprobs.is_empty() { 0.0 } else { logprobs.iter().map(|l| l.exp()).sum::<f32>() / logprobs.len() as f32 };
    Ok(Generation {
        text: cut_at_stops(&full, &request.stop_sequences),
        tokens,
        logprobs,
        confidence,
        prompt_tokens: prompt.len(),
        reused_prompt_tokens: reused,
        stop_reason,
        drafts: drafter.stats(),
    })
}

/// What the decode loop has produced so far.
struct Decoding<'p, 'a> {
    prepared: &'p Prepared<'a>,
    sampler: Sampler,
    /// Prompt and generated tokens (the repetition penalty's and the drafter's view).
    sequence: Vec<u32>,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    /// Streamed text: what the generated tokens decode to, without a trailing incomplete character.
    text: String,
}

impl Decoding<'_, '_> {
    /// Records and streams one drawn token; says why generation ends when it does.
    fn emit(&mut self, drawn: Sampled, on_token: &mut dyn FnMut(TokenEvent<'_>)) -> Result<Option<StopReason>, ModelError> {
        let Prepared { tokenizer, request, end_tokens, .. } = self.prepared;
        self.tokens.push(drawn.token);
        self.logprobs.push(drawn.logprob);
        self.sequence.push(drawn.token);
        if end_tokens.contains(&drawn.token) {
            return Ok(Some(StopReason::EndOfSequence));
        }
        let decoded = tokenizer.decode(&self.tokens, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        // A token that ends inside a multi-byte character decodes to U+FFFD until the next one
        // completes it; stream only text that will not change.
        let stable = decoded.trim_end_matches('\u{FFFD}');
        let delta = stable.get(self.text.len()..).unwrap_or_default().to_owned();
        if stable.len() >= self.text.len() {
            self.text = stable.to_owned();
        }
        on_token(TokenEvent { text: &delta, id: drawn.token, logprob: drawn.logprob });
        if request.stop_sequences.iter().any(|s| !s.is_empty() && decoded.contains(s.as_str())) {
            return Ok(Some(StopReason::StopSequence));
        }
        Ok(None)
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
mod tests {
    use super::*;

    #[test]
    fn the_earliest_stop_wins_whatever_its_place_in_the_list() {
        assert_eq!(cut_at_stops("a\n\nb<file_sep>c", &["<file_sep>".into(), "\n\n".into()]), "a");
        assert_eq!(cut_at_stops("abc", &["".into(), "x".into()]), "abc");
    }
}
