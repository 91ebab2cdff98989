//! Continuous batching for the native engine: the generations of one model that are decoding at
//! the same time step together. Each generation keeps its own thread, decode loop, sampler and
//! KV cache; when it needs a forward pass it submits its sequence and tokens here and waits. The
//! first waiter to find no step running leads the next one: it takes every submission, evaluates
//! them in one [`NativeLlama::forward_batch`] (weights streamed once for all rows), hands each
//! member its rows and wakes them. Members join between steps (a new request's first submission)
//! and leave when their loop ends (finished or cancelled), so the batch is always whoever is
//! decoding now — `LLM_CONCURRENCY` generations at most.
//!
//! A leader waits briefly ([`GATHER_WINDOW`]) for members still sampling their previous token, so a
//! step is not taken by one member while the others arrive a moment later. A long prompt (the fast
//! prompt path) is evaluated alone, ahead of the step's decode rows; a short one — a prompt that
//! extends a cached prefix by a few tokens — joins the rows.
//!
//! Rows never influence each other: a member's logits are bit for bit what it would get alone.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rayon::ThreadPool;

use super::error::ModelError;
use super::native::{NativeLlama, Segment, Sequence};

/// Longest a step waits for members that have not submitted yet (they are sampling or streaming
/// their previous token: tens of microseconds, far below a step).
const GATHER_WINDOW: Duration = Duration::from_millis(2);

/// How a submission is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    /// Return the logits of the last token only; several tokens take the fast prompt path.
    Last,
    /// Return the logits after every token, each exactly as a decode step computes it.
    Each,
}

struct Submission {
    ticket: u64,
    sequence: Sequence,
    tokens: Vec<u32>,
    evaluation: Evaluation,
}

type Outcome = (Sequence, Result<Vec<Vec<f32>>, ModelError>);

#[derive(Default)]
struct State {
    /// Generations in their decode loops.
    members: usize,
    submitted: Vec<Submission>,
    /// When the oldest waiting submission arrived.
    first_submitted: Option<Instant>,
    finished: HashMap<u64, Outcome>,
    running: bool,
    next_ticket: u64,
    stats: BatchStats,
}

/// What batching has done so far (for tests and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Steps run.
    pub steps: u64,
    /// Sequences evaluated, summed over steps.
    pub sequences: u64,
    /// Most sequences one step evaluated.
    pub widest: usize,
}

/// The step batcher of one model.
pub struct StepBatcher {
    state: Mutex<State>,
    changed: Condvar,
}

/// A generation's membership: while it lives, steps wait (briefly) for its submissions.
pub struct Membership<'a> {
    batcher: &'a StepBatcher,
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        self.batcher.lock().members -= 1;
        self.batcher.changed.notify_all();
    }
}

impl Default for StepBatcher {
    fn default() -> Self {
        Self { state: Mutex::new(State::default()), changed: Condvar::new() }
    }
}

impl StepBatcher {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a generation for the length of its decode loop.
    pub fn join(&self) -> Membership<'_> {
        self.lock().members += 1;
        Membership { batcher: self }
    }

    /// What batching has done so far.
    pub fn stats(&self) -> BatchStats {
        self.lock().stats
    }

    /// Evaluates `tokens` after `sequence` in the next step (leading it if no step is running) and
    /// returns the logits `evaluation` asks for.
    pub fn evaluate(
        &self,
        engine: &NativeLlama,
        pool: &ThreadPool,
        sequence: &mut Sequence,
        tokens: &[u32],
        evaluation: Evaluation,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        // Refused alone, before it could fail a whole step.
        engine.check(sequence, tokens)?;
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let own = std::mem::replace(sequence, engine.new_sequence());
        state.submitted.push(Submission { ticket, sequence: own, tokens: tokens.to_vec(), evaluation });
        state.first_submitted.get_or_insert_with(Instant::now);
        self.changed.notify_all();
        loop {
            if let Some((evaluated, logits)) = state.finished.remove(&ticket) {
                *sequence = evaluated;
                return logits;
            }
            let gathered = state.submitted.len() >= state.members || state.first_submitted.is_some_and(|first| first.elapsed() >= GATHER_WINDOW);
            if !state.running && !state.submitted.is_empty() && gathered {
                let batch = std::mem::take(&mut state.submitted);
                state.first_submitted = None;
                state.running = true;
                drop(state);
                let tickets: Vec<u64> = batch.iter().map(|s| s.ticket).collect();
                // A panic in the step (a bug) must not leave its members waiting forever.
                let outcomes =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.install(|| run_step(engine, batch)))).unwrap_or_else(|_| {
                        let failed = || Err(ModelError::Config("the batched forward pass panicked".into()));
                        tickets.into_iter().map(|ticket| (ticket, (engine.new_sequence(), failed()))).collect()
                    });
                state = self.lock();
                state.running = false;
                state.stats.steps += 1;
                state.stats.sequences += outcomes.len() as u64;
                state.stats.widest = state.stats.widest.max(outcomes.len());
                state.finished.extend(outcomes);
                self.changed.notify_all();
                continue;
            }
            let wait = state.first_submitted.map_or(GATHER_WINDOW, |first| GATHER_WINDOW.saturating_sub(first.elapsed()));
            state = self.changed.wait_timeout(state, wait.max(Duration::from_micros(50))).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

/// One step: long prompts alone on the prompt path, then every other submission in one exact pass.
fn run_step(engine: &NativeLlama, batch: Vec<Submission>) -> Vec<(u64, Outcome)> {
    let (prompts, rows): (Vec<Submission>, Vec<Submission>) =
        batch.into_iter().partition(|s| s.evaluation == Evaluation::Last && NativeLlama::takes_prompt_pass(s.tokens.len()));
    let mut outcomes = Vec::new();
    for mut prompt in prompts {
        let logits = engine.forward(&mut prompt.sequence, &prompt.tokens).map(|last| vec![last]).map_err(ModelError::from);
        outcomes.push((prompt.ticket, (prompt.sequence, logits)));
    }
    if rows.is_empty() {
        return outcomes;
    }
    let mut rows = rows;
    let result = {
        let mut segments: Vec<Segment<'_>> = rows.iter_mut().map(|s| Segment { sequence: &mut s.sequence, tokens: &s.tokens }).collect();
        engine.forward_batch(&mut segments)
    };
    match result {
        Ok(per_segment) => {
            for (submission, mut logits) in rows.into_iter().zip(per_segment) {
                if submission.evaluation == Evaluation::Last {
                    logits.drain(..logits.len() - 1);
                }
                outcomes.push((submission.ticket, (submission.sequence, Ok(logits))));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for submission in rows {
                let failed = Err(ModelError::from(candle_core::Error::Msg(message.clone())));
                outcomes.push((submission.ticket, (submission.sequence, failed)));
            }
        }
    }
    outcomes
}
