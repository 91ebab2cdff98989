//! The suggestion API (`POST /api/v1/completion`): code around a caret in, up to five ranked
//! completions out. The code is analysed (enclosing function and class, imports, names in scope)
//! and the analysis heads the prompt as comments; the model draws `max_suggestions` (+1, to
//! survive deduplication) answers in one job; the answers are trimmed, deduplicated and ranked by
//! confidence. Answers are cached per user and normalised context, and identical requests in
//! flight share one generation ([`crate::services::suggestion_cache`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use code4me_shared::jobs::telemetry::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::suggestions::{
    CacheStatus, ServiceHealth, SuccessStatus, Suggestion, SuggestionKind, SuggestionMetadata, SuggestionQuery, SuggestionResponse,
    SuggestionServiceStatus,
};
use crate::services::generation::{self, GenerationError, GenerationRequest, OpenCaller};
use crate::services::providers::{GenerationOptions, Prompt};
use crate::services::state::AppState;
use crate::services::suggestion_cache::{Flight, Lock};
use crate::services::suggestion_context::{self, Analysed};

/// Counter of served suggestion requests, labelled `outcome`: `generated`, `cached` (from Redis),
/// `shared` (an identical request's generation), `invalid`, `failed`.
pub const REQUESTS: &str = "suggestion_requests_total";
/// Counter of lookups answered without a generation (cache or shared flight).
pub const CACHE_HITS: &str = "suggestion_cache_hits_total";
/// Counter of lookups that generated.
pub const CACHE_MISSES: &str = "suggestion_cache_misses_total";
/// Gauge: hits / (hits + misses) on this server since it started.
pub const CACHE_HIT_RATIO: &str = "suggestion_cache_hit_ratio";
/// Histogram of the whole request's processing time, in seconds.
pub const PROCESSING_SECONDS: &str = "suggestion_processing_seconds";
/// Histogram of the model's generation time, in seconds (generated requests only).
pub const GENERATION_SECONDS: &str = "suggestion_generation_seconds";
/// Prefix of every metric above, for the exposition at `/api/v1/metrics`.
pub const METRIC_PREFIX: &str = "suggestion_";

/// Stop sequence of every suggestion: a blank line ends a block, and a completion is a block at most.
const STOP: &str = "\n\n";
/// Times a request tries again when the identical request it waited for failed.
const ATTEMPTS: usize = 3;

/// A served request and what the usage record needs.
#[derive(Debug)]
pub struct Served {
    /// The body.
    pub response: SuggestionResponse,
    /// Prompt tokens read (0 when nothing was generated for this request).
    pub prompt_tokens: u32,
    /// Tokens generated for this request (0 for a hit).
    pub generated_tokens: u32,
}

/// What the cache holds for a context.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    model: String,
    suggestions: Vec<Suggestion>,
}

/// The context of a request, normalised: what decides its suggestions.
struct Normalised<'a> {
    query: &'a SuggestionQuery,
    /// The lines before the caret's line, trailing whitespace trimmed.
    before: Vec<&'a str>,
    /// The caret's line up to the caret, as sent (a trailing space there changes the answer).
    line_head: String,
    /// The rest of the caret's line, trailing whitespace trimmed.
    line_tail: String,
    /// The lines after, trailing whitespace trimmed.
    after: Vec<&'a str>,
}

impl<'a> Normalised<'a> {
    fn of(query: &'a SuggestionQuery) -> Self {
        let context = &query.context;
        let column = context.position.column as usize;
        let line_head: String = context.current_line.chars().take(column).collect();
        let line_tail: String = context.current_line.chars().skip(column).collect::<String>().trim_end().to_owned();
        Self {
            query,
            before: context.previous_lines.iter().map(|l| l.trim_end()).collect(),
            line_head,
            line_tail,
            after: context.next_lines.iter().map(|l| l.trim_end()).collect(),
        }
    }

    /// The code as one text, with the caret's line and column in it, for the analysis.
    fn source(&self) -> (String, usize, usize) {
        let mut lines = self.before.clone();
        let current = format!("{}{}", self.line_head, self.line_tail);
        lines.push(&current);
        lines.extend(&self.after);
        (lines.join("\n"), self.before.len(), self.line_head.chars().count())
    }

    /// SHA-256 (hex) of everything that decides the suggestions.
    fn hash(&self, analysed: &Analysed, model: &str) -> String {
        let query = self.query;
        let key = serde_json::json!({
            "v": 1,
            "language": query.context.language.trim().to_lowercase(),
            "file": query.context.file_path,
            "before": self.before,
            "head": self.line_head,
            "tail": self.line_tail,
            "after": self.after,
            "analysis": analysed.fingerprint,
            "model": model,
            "n": query.max_suggestions,
            "temperature": query.temperature,
            "max_tokens": query.max_tokens,
        });
        format!("{:x}", Sha256::digest(key.to_string().as_bytes()))
    }

    /// The completion prompt: the analysis header and the code before the caret, the code after it.
    fn prompt(&self, analysed: &Analysed) -> Prompt {
        let mut prefix = analysed.header.clone();
        for line in &self.before {
            prefix.push_str(line);
            prefix.push('\n');
        }
        prefix.push_str(&self.line_head);
        let mut suffix = self.line_tail.clone();
        for line in &self.after {
            suffix.push('\n');
            suffix.push_str(line);
        }
        Prompt::Completion { prefix, suffix, file_name: self.query.context.file_path.clone(), raw: false }
    }
}

/// Serves one request: from the cache, from an identical request in flight, or generated.
pub async fn suggest(state: &AppState, caller: OpenCaller, query: SuggestionQuery) -> Result<Served, GenerationError> {
    let started = Instant::now();
    let model = model_name(state, query.model.as_deref()).await?;
    let normalised = Normalised::of(&query);
    let (source, line, column) = normalised.source();
    let (language, file_path) = (query.context.language.clone(), query.context.file_path.clone());
    let analysed = tokio::task::spawn_blocking(move || suggestion_context::analyse(&language, file_path.as_deref(), &source, line, column))
        .await
        .map_err(|e| GenerationError::Unavailable(anyhow::anyhow!("the context analysis failed: {e}")))?;
    let hash = normalised.hash(&analysed, &model);
    let context_key = format!("{}:{hash}", caller.user_id);
    let ttl = state.settings.open_api.suggestion_cache_ttl;
    let cache = &state.suggestion_cache;
    let hold = state.settings.open_api.timeout + Duration::from_secs(5);
    let answered = |cached: &str, outcome: &'static str| {
        let cached: Cached = serde_json::from_str(cached).ok()?;
        Some(hit(cache.count(true), outcome, cached, &hash, started))
    };

    for _ in 0..ATTEMPTS {
        if !ttl.is_zero()
            && let Some(found) = cache.get(&context_key).await
            && let Some(served) = answered(&found, "cached")
        {
            return Ok(served);
        }
        let leader = match cache.join(&context_key) {
            Flight::Follower(follower) => match follower.answer().await {
                Some(json) => match answered(&json, "shared") {
                    Some(served) => return Ok(served),
                    None => continue,
                },
                None => continue,
            },
            Flight::Leader(leader) => leader,
        };
        let lock = if ttl.is_zero() { Lock::Off } else { cache.lock(&context_key, hold).await };
        let held = match lock {
            Lock::Busy => match cache.await_other(&context_key, Instant::now() + hold).await {
                Some(json) => match answered(&json, "cached") {
                    Some(served) => {
                        leader.land(Arc::new(json));
                        return Ok(served);
                    }
                    None => continue,
                },
                None => continue,
            },
            Lock::Held(held) => Some(held),
            Lock::Off => None,
        };
        let generated = generate(state, caller, &normalised, &analysed, &model).await;
        if let Ok((cached, _)) = &generated {
            let json = serde_json::to_string(cached).expect("suggestions serialise");
            cache.put(&context_key, &json, ttl).await;
            leader.land(Arc::new(json));
        }
        if let Some(held) = held {
            cache.release(held).await;
        }
        let (cached, tokens) = generated.inspect_err(|_| metrics::counter!(REQUESTS, "outcome" => "failed").increment(1))?;
        metrics::counter!(CACHE_MISSES).increment(1);
        metrics::gauge!(CACHE_HIT_RATIO).set(cache.count(false));
        metrics::counter!(REQUESTS, "outcome" => "generated").increment(1);
        let response = respond(cached, false, &hash, started);
        return Ok(Served { response, prompt_tokens: tokens.0, generated_tokens: tokens.1 });
    }
    metrics::counter!(REQUESTS, "outcome" => "failed").increment(1);
    Err(GenerationError::Unavailable(anyhow::anyhow!("the identical request this one waited for failed {ATTEMPTS} times")))
}

/// The suggestion API's health: the models live workers serve and whether the cache answers;
/// `degraded` unless both.
pub async fn health(state: &AppState) -> ServiceHealth {
    let served = state.models.served().await;
    let models: Vec<String> = match state.models.entries().await {
        Ok(rows) => rows.iter().filter(|m| served.models.contains(&m.id)).map(|m| m.name.clone()).collect(),
        Err(error) => {
            tracing::warn!(%error, "could not read the model rows");
            Vec::new()
        }
    };
    let cache = if state.suggestion_cache.reachable(state.settings.health_check_timeout).await { CacheStatus::Ok } else { CacheStatus::Unavailable };
    let status = if !models.is_empty() && cache == CacheStatus::Ok { SuggestionServiceStatus::Ok } else { SuggestionServiceStatus::Degraded };
    ServiceHealth { status, models, cache }
}

/// The model's name: the one asked for, checked to exist, else the default completion model.
async fn model_name(state: &AppState, asked: Option<&str>) -> Result<String, GenerationError> {
    let database = |e: sqlx::Error| GenerationError::Unavailable(e.into());
    match asked {
        Some(name) => {
            let found = state.models.find(name).await.map_err(database)?;
            found.map(|m| m.name).ok_or_else(|| GenerationError::UnknownModel(name.to_owned()))
        }
        None => state.models.default_model(false).await.map_err(database)?.map(|m| m.name).ok_or(GenerationError::NoDefaultModel("completion")),
    }
}

/// One generation of `max_suggestions` (+1) answers, made into ranked suggestions; also the
/// prompt and generated token counts.
async fn generate(
    state: &AppState,
    caller: OpenCaller,
    normalised: &Normalised<'_>,
    analysed: &Analysed,
    model: &str,
) -> Result<(Cached, (u32, u32)), GenerationError> {
    let query = normalised.query;
    // Greedy decoding draws the same answer every time; one draw is enough then.
    let draws = if query.temperature == 0.0 { 1 } else { query.max_suggestions + 1 };
    #[allow(clippy::cast_possible_truncation)] // 0..=2, checked when parsed
    let temperature = query.temperature as f32;
    let request = GenerationRequest {
        client: Client::Suggestion,
        caller,
        model: Some(model.to_owned()),
        prompt: normalised.prompt(analysed),
        options: GenerationOptions {
            max_tokens: Some(query.max_tokens as usize),
            temperature: Some(temperature),
            top_p: None,
            seed: None,
            stop: vec![STOP.to_owned()],
            n: draws,
        },
        stream: false,
        provider: None,
    };
    let outcome = generation::start(state, request).await?.finish().await?;
    let answer = outcome.answer;
    metrics::histogram!(GENERATION_SECONDS).record(Duration::from_millis(answer.generation_time_ms.try_into().unwrap_or(0)).as_secs_f64());
    let texts = answer.choices.iter().map(|c| (c.text.as_str(), c.confidence));
    let suggestions = rank(texts, &analysed.description, query.max_suggestions as usize);
    let tokens = (answer.prompt_tokens, answer.completion_tokens);
    Ok((Cached { model: model.to_owned(), suggestions }, tokens))
}

/// The answers as suggestions: trailing whitespace trimmed, empty ones dropped, duplicates (same
/// text) merged keeping the most confident, ranked by confidence, at most `limit`.
fn rank<'a>(answers: impl Iterator<Item = (&'a str, f64)>, description: &str, limit: usize) -> Vec<Suggestion> {
    let mut answers: Vec<(&str, f64)> =
        answers.map(|(text, confidence)| (text.trim_end(), if confidence.is_finite() { confidence.clamp(0.0, 1.0) } else { 0.0 })).collect();
    answers.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut suggestions: Vec<Suggestion> = Vec::new();
    for (text, confidence) in answers {
        if text.trim().is_empty() || suggestions.iter().any(|s| s.text == text) {
            continue;
        }
        suggestions.push(Suggestion {
            text: text.to_owned(),
            confidence,
            kind: if text.contains('\n') { SuggestionKind::MultiLine } else { SuggestionKind::SingleLine },
            description: description.to_owned(),
            cursor_offset: u32::try_from(text.chars().count()).unwrap_or(u32::MAX),
        });
        if suggestions.len() == limit {
            break;
        }
    }
    suggestions
}

/// A request answered without a generation of its own.
fn hit(ratio: f64, outcome: &'static str, cached: Cached, hash: &str, started: Instant) -> Served {
    metrics::counter!(CACHE_HITS).increment(1);
    metrics::gauge!(CACHE_HIT_RATIO).set(ratio);
    metrics::counter!(REQUESTS, "outcome" => outcome).increment(1);
    Served { response: respond(cached, true, hash, started), prompt_tokens: 0, generated_tokens: 0 }
}

/// The response body, with the processing time recorded.
fn respond(cached: Cached, cache_hit: bool, hash: &str, started: Instant) -> SuggestionResponse {
    let elapsed = started.elapsed();
    metrics::histogram!(PROCESSING_SECONDS).record(elapsed.as_secs_f64());
    SuggestionResponse {
        suggestions: cached.suggestions,
        metadata: SuggestionMetadata {
            processing_time_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            model_version: cached.model,
            cache_hit,
            context_hash: hash.to_owned(),
        },
        status: SuccessStatus::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_trimmed_deduplicated_and_ranked() {
        let answers = [("a + b  \n", 0.4), ("", 0.9), ("   \n", 0.8), ("a + b", 0.6), ("x\ny", 0.5), ("z", 0.1)];
        let ranked = rank(answers.into_iter(), "Completes", 3);
        let texts: Vec<&str> = ranked.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["a + b", "x\ny", "z"]);
        assert_eq!(ranked[0].confidence, 0.6, "the most confident of the duplicates is kept");
        assert_eq!(ranked[1].kind, SuggestionKind::MultiLine);
        assert_eq!(ranked[0].kind, SuggestionKind::SingleLine);
        assert_eq!(ranked[1].cursor_offset, 3);
    }

    #[test]
    fn confidence_stays_a_probability() {
        let ranked = rank([("a", f64::NAN), ("b", 1.5)].into_iter(), "", 5);
        assert!(ranked.iter().all(|s| (0.0..=1.0).contains(&s.confidence)));
    }
}
