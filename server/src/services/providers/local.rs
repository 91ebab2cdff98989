//! The local workers as a provider: the job crosses the `llm` queue like the plugin's, and the
//! answer comes back on this instance's reply channel. A model no live worker serves is
//! unavailable at once (the next provider answers without waiting for a timeout).

use std::time::Duration;

use code4me_shared::jobs::llm::{ChatTask, CompletionTask, LlmTask, SamplingOverrides};
use code4me_shared::reply::{Answer, ChoiceAnswer, Failure};

use super::job::{Choice, Message, Prompt, ProviderAnswer, ProviderFailure, ProviderJob, TokenSink};
use crate::pipeline::Pipeline;
use crate::services::model_directory::ModelDirectory;

/// The local workers.
pub struct LocalProvider {
    pipeline: Pipeline,
    directory: ModelDirectory,
    timeout: Duration,
}

impl LocalProvider {
    /// Through `pipeline`, waiting at most `timeout` for an answer.
    pub fn new(pipeline: Pipeline, directory: ModelDirectory, timeout: Duration) -> Self {
        Self { pipeline, directory, timeout }
    }

    /// Runs `job` on a worker.
    pub async fn run(&self, job: &ProviderJob, on_token: TokenSink<'_>) -> Result<ProviderAnswer, ProviderFailure> {
        if !self.directory.serves(job.model.id).await {
            return Err(ProviderFailure::NotServed(format!("no live worker serves {}", job.model.name)));
        }
        let task = task_of(job);
        let ids = [job.model.id];
        let mut replies = self
            .pipeline
            .submit(job.request_id, &ids, &task, job.stream, self.timeout)
            .await
            .map_err(|error| ProviderFailure::Unavailable(format!("the queue is unreachable: {error:#}")))?;
        let outcomes = self.pipeline.gather(job.request_id, &mut replies, &ids, self.timeout, |_, choice, text| on_token(choice, text)).await;
        let outcome = outcomes.into_iter().next().map_or_else(|| Err(Failure::TimedOut("no answer".into())), |o| o.result);
        match outcome {
            Ok(answer) => Ok(provider_answer(&job.model.name, answer)),
            Err(Failure::Cancelled) => Err(ProviderFailure::Cancelled),
            Err(Failure::ModelError(reason)) => Err(ProviderFailure::Rejected(reason)),
            Err(other) => Err(ProviderFailure::Unavailable(other.to_string())),
        }
    }
}

/// The `llm` job's task for a provider job.
fn task_of(job: &ProviderJob) -> LlmTask {
    let options = &job.options;
    let sampling = SamplingOverrides { temperature: options.temperature, top_p: options.top_p, seed: options.seed, choices: options.n.max(1) };
    match &job.prompt {
        Prompt::Completion { prefix, suffix, file_name, raw } => LlmTask::Completion(CompletionTask {
            prefix: prefix.clone(),
            suffix: suffix.clone(),
            file_name: file_name.clone(),
            stop_sequences: options.stop.clone(),
            max_new_tokens: options.max_tokens,
            raw_prompt: *raw,
            sampling,
            ..CompletionTask::default()
        }),
        Prompt::Chat { messages } => LlmTask::Chat(ChatTask {
            messages: messages.iter().map(|Message { role, content }| (role.as_str().to_owned(), content.clone())).collect(),
            want_title: false,
            stop_sequences: options.stop.clone(),
            max_new_tokens: options.max_tokens,
            sampling,
        }),
    }
}

/// A worker's answer as the chain reports it.
fn provider_answer(model: &str, answer: Answer) -> ProviderAnswer {
    let completion_tokens = answer.completion_tokens + answer.more_choices.iter().map(|c| c.completion_tokens).sum::<u32>();
    let first = Choice {
        text: answer.text,
        confidence: answer.confidence,
        logprobs: answer.logprobs,
        tokens: answer.tokens,
        finish_reason: answer.finish_reason,
    };
    let more = answer.more_choices.into_iter().map(|ChoiceAnswer { text, confidence, logprobs, tokens, finish_reason, .. }| Choice {
        text,
        confidence,
        logprobs,
        tokens,
        finish_reason,
    });
    ProviderAnswer {
        provider: code4me_shared::providers::LOCAL_PROVIDER.to_owned(),
        model: model.to_owned(),
        choices: std::iter::once(first).chain(more).collect(),
        prompt_tokens: answer.prompt_tokens,
        completion_tokens,
        generation_time_ms: answer.generation_time_ms,
        stages: answer.stages,
    }
}
