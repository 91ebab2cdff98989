//! The decode loop every text model shares: sample, detokenize, stream, stop. A runtime only
//! provides [`Step`] (evaluate tokens, return the last logits); stop sequences, end tokens,
//! cancellation, log-probabilities and confidence behave the same for all of them, as upstream's.

use std::sync::atomic::{AtomicBool, Ordering};

use tokenizers::Tokenizer;

use super::error::ModelError;
use super::sampling::{Sampler, SamplingParams};

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
}

/// A model's forward pass over one sequence.
pub trait Step {
    /// Evaluates `tokens` after what the sequence holds; returns the last token's logits.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError>;
}

/// What every runtime does before its decode loop, done once here: the prompt's token ids (refused
/// when empty or when they and the requested tokens do not fit the context) and the tokens that end
/// this request. A runtime then only supplies its [`Step`] and how much of the prompt it already holds.
pub struct Prepared<'a> {
    tokenizer: &'a Tokenizer,
    request: &'a GenerationRequest,
    prompt: Vec<u32>,
    end_tokens: Vec<u32>,
}

impl<'a> Prepared<'a> {
    /// Encodes `request`'s prompt for a model whose own end tokens are `model_end_tokens` and whose
    /// context holds `context_limit` tokens.
    pub fn new(tokenizer: &'a Tokenizer, model_end_tokens: &[u32], request: &'a GenerationRequest, context_limit: usize) -> Result<Self, ModelError> {
        let prompt = encode_prompt(tokenizer, request, context_limit)?;
        let end_tokens = end_tokens_with_stops(tokenizer, model_end_tokens, &request.stop_sequences);
        Ok(Self { tokenizer, request, prompt, end_tokens })
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
/// the repetition penalty.
fn decode(
    prepared: &Prepared<'_>,
    reused: usize,
    model: &mut dyn Step,
    cancel: &AtomicBool,
    on_token: &mut dyn FnMut(TokenEvent<'_>),
) -> Result<Generation, ModelError> {
    let Prepared { tokenizer, request, prompt, end_tokens } = prepared;
    let (prompt, pending) = (prompt.as_slice(), &prompt[reused..]);
    let mut sampler = Sampler::new(request.sampling);
    let mut sequence = prompt.to_vec();
    let mut tokens = Vec::new();
    let mut logprobs = Vec::new();
    let mut text = String::new();
    let mut stop_reason = StopReason::Length;
    let mut input = pending.to_vec();
    while tokens.len() < request.max_new_tokens {
        if cancel.load(Ordering::Relaxed) {
            stop_reason = StopReason::Cancelled;
            break;
        }
        let logits = model.step(&input)?;
        let drawn = sampler.sample(&logits, &sequence);
        tokens.push(drawn.token);
        logprobs.push(drawn.logprob);
        sequence.push(drawn.token);
        if end_tokens.contains(&drawn.token) {
            stop_reason = StopReason::EndOfSequence;
            break;
        }
        let decoded = tokenizer.decode(&tokens, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        // A token that ends inside a multi-byte character decodes to U+FFFD until the next one
        // completes it; stream only text that will not change.
        let stable = decoded.trim_end_matches('\u{FFFD}');
        let delta = stable.get(text.len()..).unwrap_or_default().to_owned();
        if stable.len() >= text.len() {
            text = stable.to_owned();
        }
        on_token(TokenEvent { text: &delta, id: drawn.token, logprob: drawn.logprob });
        if request.stop_sequences.iter().any(|s| !s.is_empty() && decoded.contains(s.as_str())) {
            stop_reason = StopReason::StopSequence;
            break;
        }
        input = vec![drawn.token];
    }
    let full = tokenizer.decode(&tokens, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let confidence = if logprobs.is_empty() { 0.0 } else { logprobs.iter().map(|l| l.exp()).sum::<f32>() / logprobs.len() as f32 };
    Ok(Generation {
        text: cut_at_stops(&full, &request.stop_sequences),
        tokens,
        logprobs,
        confidence,
        prompt_tokens: prompt.len(),
        reused_prompt_tokens: reused,
        stop_reason,
    })
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
