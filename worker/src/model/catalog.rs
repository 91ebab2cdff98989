//! Models by `model_name` row: which runtime serves each, where its weights are, its limits and
//! generation defaults (`model_parameters`), and its prompts (`prompt_templates`). A row whose
//! weights are not here stays listed as unavailable with the reason, so a request for it gets a
//! clear error instead of a hang.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use code4me_shared::jobs::llm::{CompletionTask, SamplingOverrides};
use code4me_shared::retrieval::Snippet;
use serde::Deserialize;

use super::error::ModelError;
use super::generation::{Generation, GenerationRequest, TokenEvent};
use super::gguf_llama::GgufLlama;
use super::prompt::{ChatMessage, PromptTemplates, extract_title};
use super::sampling::SamplingParams;
use super::starcoder2::SafetensorsStarcoder2;
use super::{LoadOptions, TextModel};

/// A `model_name` row as the worker reads it.
#[derive(Debug, Clone)]
pub struct ModelRow {
    /// `model_id`.
    pub id: i64,
    /// `model_name` (a Hugging Face repository id).
    pub name: String,
    /// `is_instruction_tuned`.
    pub instruction_tuned: bool,
    /// `prompt_templates` JSON.
    pub prompt_templates: serde_json::Value,
    /// `model_parameters` JSON.
    pub model_parameters: serde_json::Value,
}

/// The runtime a row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Runtime {
    /// A llama-architecture GGUF file on the native engine.
    #[serde(rename = "gguf-llama")]
    GgufLlama,
    /// A StarCoder2 safetensors directory on candle.
    #[serde(rename = "safetensors-starcoder2")]
    SafetensorsStarcoder2,
}

/// A row's `model_parameters`: upstream's generation keyword arguments plus where the weights are.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ModelParameters {
    /// Which runtime; inferred from the weights found when absent.
    pub runtime: Option<Runtime>,
    /// Weights file (GGUF) or directory (safetensors), relative to the model directory.
    pub file: Option<String>,
    /// Prompt + generated tokens (the weights' own limit if smaller).
    pub context_length: Option<usize>,
    /// New tokens for a completion.
    pub max_new_tokens: usize,
    /// New tokens for a chat answer.
    pub chat_max_new_tokens: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Candidates kept.
    pub top_k: usize,
    /// Penalty for repeated tokens.
    pub repetition_penalty: f32,
    /// RNG seed.
    pub seed: u64,
}

impl Default for ModelParameters {
    fn default() -> Self {
        let sampling = SamplingParams::default();
        Self {
            runtime: None,
            file: None,
            context_length: None,
            max_new_tokens: 64,
            chat_max_new_tokens: 256,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            top_k: sampling.top_k,
            repetition_penalty: sampling.repetition_penalty,
            seed: sampling.seed,
        }
    }
}

impl ModelParameters {
    fn sampling(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            seed: self.seed,
        }
    }
}

/// Per-request overrides of the row's defaults.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Extra stop strings (before the row's own, as upstream orders them).
    pub stop_sequences: Vec<String>,
    /// New-token budget.
    pub max_new_tokens: Option<usize>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Nucleus mass.
    pub top_p: Option<f32>,
    /// Seed.
    pub seed: Option<u64>,
    /// Which of several choices of one request this is: added to the seed, so the choices are
    /// independent draws.
    pub choice: u32,
}

impl Overrides {
    /// A request's stops, budget and sampling choices, for its `choice`-th answer.
    pub fn of_request(stop_sequences: &[String], max_new_tokens: Option<usize>, sampling: &SamplingOverrides, choice: u32) -> Self {
        Self {
            stop_sequences: stop_sequences.to_vec(),
            max_new_tokens,
            temperature: sampling.temperature,
            top_p: sampling.top_p,
            seed: sampling.seed,
            choice,
        }
    }
}

/// A chat answer.
#[derive(Debug, Clone)]
pub struct ChatAnswer {
    /// The title the model gave or, when it gave none (small models often ignore the request),
    /// the first words of the last user message.
    pub title: String,
    /// Whether the model wrote the title itself.
    pub title_from_model: bool,
    /// The answer without the title.
    pub text: String,
    /// The raw generation (tokens, logprobs, confidence).
    pub generation: Generation,
}

/// A row with its runtime loaded.
pub struct LoadedModel {
    /// `model_id`.
    pub id: i64,
    /// `model_name`.
    pub name: String,
    templates: PromptTemplates,
    parameters: ModelParameters,
    runtime: Arc<dyn TextModel>,
}

impl LoadedModel {
    /// The row's prompt templates.
    pub fn templates(&self) -> &PromptTemplates {
        &self.templates
    }

    /// A code completion at the caret for a job's task, with the row's template and stops (after
    /// the task's own) and the task's token budget and sampling (`choice` of several draws);
    /// `retrieved` and `stable_anchor` as in [`PromptTemplates::completion_prompt`]. A raw-prompt
    /// task is continued as it is, with only its own stops.
    pub fn complete(
        &self,
        task: &CompletionTask,
        retrieved: &[Snippet],
        stable_anchor: bool,
        choice: u32,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(TokenEvent<'_>),
    ) -> Result<Generation, ModelError> {
        let (prompt, stops) = if task.raw_prompt {
            (task.prefix.clone(), task.stop_sequences.clone())
        } else {
            let mut stops = task.stop_sequences.clone();
            stops.extend(self.templates.stop_tokens.iter().cloned());
            (self.templates.completion_prompt(task, retrieved, stable_anchor)?, stops)
        };
        let overrides = Overrides { stop_sequences: stops, ..Overrides::of_request(&[], task.max_new_tokens, &task.sampling, choice) };
        let request = self.request(prompt, overrides.stop_sequences.clone(), &overrides, self.parameters.max_new_tokens);
        self.runtime.generate(&request, cancel, on_token)
    }

    /// A chat answer to `messages`; with `want_title` the model is asked to open with a title,
    /// which is split off.
    pub fn chat(
        &self,
        messages: &[ChatMessage],
        want_title: bool,
        overrides: &Overrides,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(TokenEvent<'_>),
    ) -> Result<ChatAnswer, ModelError> {
        let prompt = self.templates.chat_prompt(messages, want_title);
        let mut stops = overrides.stop_sequences.clone();
        stops.extend(self.templates.chat_stops());
        let request = self.request(prompt, stops, overrides, self.parameters.chat_max_new_tokens);
        let generation = self.runtime.generate(&request, cancel, on_token)?;
        let (title, text) = extract_title(&generation.text);
        let title_from_model = title.is_some();
        let title = title.unwrap_or_else(|| fallback_title(messages));
        Ok(ChatAnswer { title, title_from_model, text, generation })
    }

    /// Continues the assistant's turn of `messages` from `assistant_start` (the start of the
    /// answer, already written for the model): a small model keeps to a format it is already in.
    /// Returns the generated text after `assistant_start`.
    pub fn continue_chat(
        &self,
        messages: &[ChatMessage],
        assistant_start: &str,
        overrides: &Overrides,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(TokenEvent<'_>),
    ) -> Result<Generation, ModelError> {
        let prompt = format!("{}{assistant_start}", self.templates.chat_prompt(messages, false));
        let mut stops = overrides.stop_sequences.clone();
        stops.extend(self.templates.chat_stops());
        let request = self.request(prompt, stops, overrides, self.parameters.chat_max_new_tokens);
        self.runtime.generate(&request, cancel, on_token)
    }

    fn request(&self, prompt: String, stop_sequences: Vec<String>, overrides: &Overrides, default_new: usize) -> GenerationRequest {
        let mut sampling = self.parameters.sampling();
        if let Some(t) = overrides.temperature {
            sampling.temperature = t;
        }
        if let Some(p) = overrides.top_p {
            sampling.top_p = p;
        }
        sampling.seed = overrides.seed.unwrap_or(sampling.seed).wrapping_add(u64::from(overrides.choice));
        GenerationRequest { prompt, max_new_tokens: overrides.max_new_tokens.unwrap_or(default_new), stop_sequences, sampling }
    }

    /// Prompt plus generated tokens the model accepts.
    pub fn context_limit(&self) -> usize {
        self.runtime.context_limit()
    }
}

/// Up to six words of the last user message, as a conversation title.
fn fallback_title(messages: &[ChatMessage]) -> String {
    let last_user = messages.iter().rev().find(|m| m.role == "user").map_or("", |m| m.content.as_str());
    let words: Vec<&str> = last_user.split_whitespace().take(6).collect();
    if words.is_empty() { "New chat".to_owned() } else { words.join(" ") }
}

/// Every row, loaded or with the reason it is not.
#[derive(Default)]
pub struct Catalog {
    loaded: BTreeMap<i64, Arc<LoadedModel>>,
    unavailable: BTreeMap<i64, ModelError>,
}

impl Catalog {
    /// Loads every row whose weights are under `models_dir`; the others are recorded with why.
    pub fn load(rows: &[ModelRow], models_dir: &Path, options: &LoadOptions) -> Self {
        let mut catalog = Self::default();
        for row in rows {
            match load_row(row, models_dir, options) {
                Ok(model) => {
                    tracing::info!(model.id = row.id, model.name = %row.name, context = model.context_limit(), cpu_kernels = crate::model::native::quant::Kernels::in_use().name(), "model loaded");
                    catalog.loaded.insert(row.id, Arc::new(model));
                }
                Err(error) => {
                    tracing::info!(model.id = row.id, model.name = %row.name, %error, "model not available");
                    catalog.unavailable.insert(row.id, error);
                }
            }
        }
        catalog
    }

    /// The loaded model with this id, or why it cannot serve.
    pub fn get(&self, id: i64) -> Result<Arc<LoadedModel>, ModelError> {
        if let Some(model) = self.loaded.get(&id) {
            return Ok(model.clone());
        }
        let reason = self.unavailable.get(&id).map_or_else(|| "no such model".to_owned(), ToString::to_string);
        Err(ModelError::Unavailable { model: id.to_string(), reason })
    }

    /// Ids of the loaded models.
    pub fn available(&self) -> Vec<i64> {
        self.loaded.keys().copied().collect()
    }

    /// Rows that did not load, with why.
    pub fn unavailable(&self) -> impl Iterator<Item = (i64, &ModelError)> {
        self.unavailable.iter().map(|(id, error)| (*id, error))
    }
}

fn load_row(row: &ModelRow, models_dir: &Path, options: &LoadOptions) -> Result<LoadedModel, ModelError> {
    let parameters: ModelParameters = if row.model_parameters.is_null() {
        ModelParameters::default()
    } else {
        serde_json::from_value(row.model_parameters.clone()).map_err(|e| ModelError::Config(format!("model_parameters: {e}")))?
    };
    let templates = PromptTemplates::from_json(&row.prompt_templates)?;
    let unavailable = |reason: String| ModelError::Unavailable { model: row.name.clone(), reason };
    let weights = locate_weights(row, &parameters, models_dir).ok_or_else(|| {
        unavailable(format!(
            "no weights found: put a GGUF file or a safetensors directory under {} (or a Hugging Face cache under {}, \
             e.g. with `code4me-worker fetch-model {}`)",
            models_dir.join(&row.name).display(),
            models_dir.display(),
            row.name
        ))
    })?;
    let runtime = match parameters.runtime {
        Some(runtime) => runtime,
        None if weights.extension().is_some_and(|e| e == "gguf") => Runtime::GgufLlama,
        None if weights.join("config.json").exists() => Runtime::SafetensorsStarcoder2,
        None => return Err(unavailable(format!("no runtime for {}", weights.display()))),
    };
    let options = LoadOptions { context_limit: parameters.context_length, ..options.clone() };
    let runtime: Arc<dyn TextModel> = match runtime {
        Runtime::GgufLlama => Arc::new(GgufLlama::load(&weights, options)?),
        Runtime::SafetensorsStarcoder2 => Arc::new(SafetensorsStarcoder2::load(&weights, &options)?),
    };
    Ok(LoadedModel { id: row.id, name: row.name.clone(), templates, parameters, runtime })
}

/// Where a row's weights are, in this order: `model_parameters.file` under the model directory; a
/// directory named after the model (`<models>/bigcode/starcoder2-3b/`) — its first `.gguf` file, or
/// the directory itself when it holds a `config.json`; a Hugging Face cache snapshot
/// (`<models>/models--bigcode--starcoder2-3b/snapshots/<refs/main>/`), so `MODEL_CACHE_DIR` may be
/// an existing hub cache.
fn locate_weights(row: &ModelRow, parameters: &ModelParameters, models_dir: &Path) -> Option<PathBuf> {
    if let Some(file) = &parameters.file {
        let path = models_dir.join(file);
        return path.exists().then_some(path);
    }
    weights_in(&models_dir.join(&row.name)).or_else(|| hub_snapshot(models_dir, &row.name).and_then(|s| weights_in(&s)))
}

/// The first GGUF file in `dir` (by name), else `dir` itself when it holds a `config.json` checkpoint.
fn weights_in(dir: &Path) -> Option<PathBuf> {
    let mut ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    ggufs.sort();
    ggufs.into_iter().next().or_else(|| dir.join("config.json").exists().then(|| dir.to_path_buf()))
}

/// The snapshot `refs/main` points at in a Hugging Face hub cache (what `fetch-model` writes).
pub fn hub_snapshot(cache_dir: &Path, repo_id: &str) -> Option<PathBuf> {
    let repo = cache_dir.join(format!("models--{}", repo_id.replace('/', "--")));
    let revision = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
    let snapshot = repo.join("snapshots").join(revision.trim());
    snapshot.is_dir().then_some(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gguf_llama::tests::smollm2_path;
    use serde_json::json;

    fn smollm2_row() -> ModelRow {
        ModelRow {
            id: 5,
            name: "HuggingFaceTB/SmolLM2-135M-Instruct".into(),
            instruction_tuned: true,
            prompt_templates: json!({"fim_template": {"single_file_template": "{prefix}", "multi_file_template": "{multi_file_context}<file_sep>{file_name}\n{prefix}"}, "file_separator": "<file_sep>{file_name}\n", "stop_tokens": ["\n\n", "<file_sep>", "<|endoftext|>"], "chat_template": "chatml"}),
            model_parameters: json!({"runtime": "gguf-llama", "file": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "kinds": ["completion", "chat"], "context_length": 4096, "max_new_tokens": 64, "chat_max_new_tokens": 256}),
        }
    }

    fn catalog() -> Catalog {
        let models_dir = smollm2_path().parent().and_then(Path::parent).expect("models dir").to_path_buf();
        let missing = ModelRow {
            id: 1,
            name: "deepseek-ai/deepseek-coder-1.3b-base".into(),
            instruction_tuned: false,
            prompt_templates: json!({}),
            model_parameters: json!({"max_new_tokens": 64}),
        };
        Catalog::load(&[smollm2_row(), missing], &models_dir, &LoadOptions::with_threads(2))
    }

    #[test]
    fn rows_load_from_their_parameters_and_missing_weights_are_a_clear_error() {
        let catalog = catalog();
        assert_eq!(catalog.available(), vec![5]);
        assert_eq!(catalog.get(5).unwrap().context_limit(), 4096);
        let error = catalog.get(1).err().expect("unavailable").to_string();
        assert!(error.contains("not available") && error.contains("no weights found"), "{error}");
        assert!(catalog.get(99).err().expect("unknown").to_string().contains("no such model"));
    }

    #[test]
    fn starcoder2_rows_load_from_a_model_directory_or_a_hub_cache_snapshot() {
        let models = tempfile::tempdir().expect("tmp");
        let row = |id: i64, name: &str| ModelRow {
            id,
            name: name.into(),
            instruction_tuned: false,
            prompt_templates: json!({"fim_template": {"single_file_template": "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"}, "stop_tokens": ["\n\n"]}),
            model_parameters: json!({"max_new_tokens": 8}),
        };
        crate::model::starcoder2::write_tiny_checkpoint(&models.path().join("tiny/plain-starcoder2"), 512);
        let repo = models.path().join("models--tiny--hub-starcoder2");
        crate::model::starcoder2::write_tiny_checkpoint(&repo.join("snapshots/0123abc"), 512);
        std::fs::create_dir_all(repo.join("refs")).expect("refs");
        std::fs::write(repo.join("refs/main"), "0123abc").expect("refs/main");

        let rows = [row(7, "tiny/plain-starcoder2"), row(8, "tiny/hub-starcoder2"), row(9, "tiny/absent")];
        let catalog = Catalog::load(&rows, models.path(), &LoadOptions::with_threads(1));
        assert_eq!(
            catalog.available(),
            vec![7, 8],
            "the runtime is inferred from config.json: {:?}",
            catalog.unavailable().map(|(id, e)| format!("{id}: {e}")).collect::<Vec<_>>()
        );
        let task = CompletionTask { prefix: "def add(a, b):".into(), suffix: "\n".into(), ..Default::default() };
        for id in [7, 8] {
            let out = catalog.get(id).unwrap().complete(&task, &[], false, 0, &AtomicBool::new(false), &mut |_| {}).unwrap();
            assert!(out.prompt_tokens > 0 && out.tokens.len() <= 8);
        }
        let error = catalog.get(9).err().expect("absent").to_string();
        assert!(error.contains("fetch-model tiny/absent"), "the error says how to get the weights: {error}");
    }

    #[test]
    fn completion_uses_the_row_template_and_stops() {
        let model = catalog().get(5).unwrap();
        let task = CompletionTask {
            prefix: "def fibonacci(n):\n    if n <= 1:\n        return n\n    return ".into(),
            file_name: Some("fib.py".into()),
            ..Default::default()
        };
        let out = model.complete(&task, &[], false, 0, &AtomicBool::new(false), &mut |_| {}).unwrap();
        assert!(!out.text.contains("\n\n"), "cut at the row's stop: {:?}", out.text);
        assert!(out.text.contains("fibonacci("), "{:?}", out.text);
    }

    #[test]
    fn chat_returns_an_answer_and_a_title() {
        let model = catalog().get(5).unwrap();
        let messages = vec![ChatMessage { role: "user".into(), content: "How do I reverse a list in Python?".into() }];
        let answer = model.chat(&messages, true, &Overrides::default(), &AtomicBool::new(false), &mut |_| {}).unwrap();
        assert!(!answer.text.trim().is_empty());
        assert!(!answer.text.contains("<|im_end|>"));
        assert!(!answer.title.trim().is_empty());
        assert!(!answer.text.contains("[Title]"), "{:?}", answer.text);
    }
}
