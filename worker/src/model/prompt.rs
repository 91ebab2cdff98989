//! Prompts from a model row's `prompt_templates`: upstream's FIM templates (prefix-suffix-middle,
//! suffix-prefix-middle, prefix-only), the multi-file block with the row's file separator, and the
//! two chat styles — ChatML, and upstream's `[SYSTEM]/[USER]/[ASSISTANT]` with its title request.

use serde::Deserialize;

use code4me_shared::jobs::llm::CompletionTask;
use code4me_shared::retrieval::Snippet;

use super::error::ModelError;

/// A model row's `prompt_templates` JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PromptTemplates {
    /// Completion templates; absent for chat-only rows.
    #[serde(default)]
    pub fim_template: Option<FimTemplate>,
    /// Put before each context file, `{file_name}` replaced.
    #[serde(default)]
    pub file_separator: Option<String>,
    /// Stop strings added to every completion request.
    #[serde(default)]
    pub stop_tokens: Vec<String>,
    /// Chat prompt style; upstream's bracketed style when absent.
    #[serde(default)]
    pub chat_template: Option<ChatStyle>,
}

/// The two completion templates, with `{prefix}`, `{suffix}`, `{file_name}` and
/// `{multi_file_context}` placeholders.
#[derive(Debug, Clone, Deserialize)]
pub struct FimTemplate {
    /// Used when there is no multi-file context (upstream always passes one, so rarely).
    pub single_file_template: String,
    /// Used for every completion request, as upstream does; a row without one
    /// (empty or absent) uses the single-file template.
    #[serde(default)]
    pub multi_file_template: String,
}

/// How chat messages become a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatStyle {
    /// `<|im_start|>role\ncontent<|im_end|>\n` turns (SmolLM2, Qwen).
    Chatml,
    /// Upstream's `[SYSTEM] …\n[USER] …\n[ASSISTANT]` prompt.
    Bracketed,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// Upstream's instruction that makes the model open its answer with a short title.
pub const TITLE_INSTRUCTION: &str = "Before you answer, please provide a very short 3-6 word title for this conversation \
in the format [Title] <title> [/Title], for example: [Title] How to use Python? [/Title]. Then answer the question.";

/// The system prompt ChatML conversations get when the user sends none (SmolLM2's own).
const DEFAULT_SYSTEM: &str = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

impl PromptTemplates {
    /// Parses a row's `prompt_templates` JSON.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, ModelError> {
        serde_json::from_value(value.clone()).map_err(|e| ModelError::Config(format!("prompt_templates: {e}")))
    }

    /// The completion prompt for a job's task as the server chose it: the multi-file template with
    /// the task's context files, then the `retrieved` snippets (upstream always uses that template,
    /// even with no other files), or the single-file template when the row has no multi-file form.
    /// With `stable_anchor`, a full sliding-window prefix starts at a stable anchor line
    /// ([`super::anchor`]) so consecutive keystrokes reuse the KV cache.
    pub fn completion_prompt(&self, task: &CompletionTask, retrieved: &[Snippet], stable_anchor: bool) -> Result<String, ModelError> {
        let template = self.fim_template.as_ref().ok_or_else(|| ModelError::Config("this model has no completion template (fim_template)".into()))?;
        let file_name = task.file_name.as_deref().filter(|n| !n.is_empty()).unwrap_or("unknown_file");
        let context = self.multi_file_context(task, retrieved);
        let chosen = if template.multi_file_template.is_empty() { &template.single_file_template } else { &template.multi_file_template };
        let prefix = if stable_anchor { super::anchor::stable_prefix(&task.prefix) } else { &task.prefix };
        Ok(fill(chosen, &[("prefix", prefix), ("suffix", &task.suffix), ("file_name", file_name), ("multi_file_context", &context)]))
    }

    /// Whether completion prompts have a place for other files' text (the multi-file template):
    /// without one, retrieved snippets could not be used.
    pub fn has_context_slot(&self) -> bool {
        self.fim_template.as_ref().is_some_and(|t| t.multi_file_template.contains("{multi_file_context}"))
    }

    /// Upstream's block: for each file the task carries, the separator with its name, then its
    /// lines joined by newlines, then a newline; then each retrieved snippet the same way.
    fn multi_file_context(&self, task: &CompletionTask, retrieved: &[Snippet]) -> String {
        let separator = self.file_separator.as_deref().unwrap_or("");
        let block = |name: &str, text: &str| format!("{}{text}\n", separator.replace("{file_name}", name));
        let files = task.context_files.iter().map(|(name, lines)| block(name, &lines.join("\n")));
        let snippets = retrieved.iter().map(|s| block(&s.file_name, &s.content));
        files.chain(snippets).collect()
    }

    /// The chat prompt in the row's style; with `want_title` the model is asked for a title.
    pub fn chat_prompt(&self, messages: &[ChatMessage], want_title: bool) -> String {
        match self.chat_template.unwrap_or(ChatStyle::Bracketed) {
            ChatStyle::Chatml => {
                let mut prompt = String::new();
                let has_system = messages.first().is_some_and(|m| m.role == "system");
                if !has_system {
                    let system = if want_title { format!("{DEFAULT_SYSTEM}. {TITLE_INSTRUCTION}") } else { DEFAULT_SYSTEM.to_owned() };
                    prompt.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
                }
                for (i, m) in messages.iter().enumerate() {
                    let content = if i == 0 && has_system && want_title { format!("{} {TITLE_INSTRUCTION}", m.content) } else { m.content.clone() };
                    prompt.push_str(&format!("<|im_start|>{}\n{content}<|im_end|>\n", m.role));
                }
                prompt.push_str("<|im_start|>assistant\n");
                prompt
            }
            ChatStyle::Bracketed => {
                let mut prompt = String::new();
                for m in messages {
                    match m.role.as_str() {
                        "system" => {
                            prompt.push_str(&format!("[SYSTEM] {}\n", m.content));
                            if want_title {
                                prompt.push_str(TITLE_INSTRUCTION);
                                prompt.push('\n');
                            }
                        }
                        "assistant" => prompt.push_str(&format!("[ASSISTANT] {}\n", m.content)),
                        _ => prompt.push_str(&format!("[USER] {}\n", m.content)),
                    }
                }
                if want_title && !messages.iter().any(|m| m.role == "system") {
                    prompt.insert_str(0, &format!("[SYSTEM] {TITLE_INSTRUCTION}\n"));
                }
                format!("{}\n[ASSISTANT]", prompt.trim())
            }
        }
    }

    /// Strings that end a chat answer in this style.
    pub fn chat_stops(&self) -> Vec<String> {
        match self.chat_template.unwrap_or(ChatStyle::Bracketed) {
            ChatStyle::Chatml => vec!["<|im_end|>".into()],
            ChatStyle::Bracketed => vec!["[SYSTEM]".into(), "[USER]".into(), "[ASSISTANT]".into()],
        }
    }
}

/// Replaces `{name}` placeholders in one pass, so text that contains braces (all code does) is
/// never re-interpreted — LangChain's f-string format behaves the same on well-formed templates.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    'outer: while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        for (name, value) in values {
            if let Some(tail) = after.strip_prefix(name).and_then(|t| t.strip_prefix('}')) {
                out.push_str(value);
                rest = tail;
                continue 'outer;
            }
        }
        out.push('{');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Splits `[Title] … [/Title]` off an answer: the title (trimmed, if any) and the answer without
/// it.
pub fn extract_title(answer: &str) -> (Option<String>, String) {
    let Some(start) = answer.find("[Title]") else { return (None, answer.trim().to_owned()) };
    let after = &answer[start + "[Title]".len()..];
    let Some(end) = after.find("[/Title]") else { return (None, answer.trim().to_owned()) };
    let title = after[..end].trim().to_owned();
    let rest = format!("{}{}", &answer[..start], &after[end + "[/Title]".len()..]);
    ((!title.is_empty()).then_some(title), rest.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn deepseek() -> PromptTemplates {
        PromptTemplates::from_json(&json!({
            "fim_template": {
                "single_file_template": "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
                "multi_file_template": "{multi_file_context}#{file_name}\n<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>"
            },
            "file_separator": "#{file_name}\n",
            "stop_tokens": ["\n\n"]
        }))
        .unwrap()
    }

    #[test]
    fn the_multi_file_template_is_used_even_without_other_files() {
        let task = CompletionTask { prefix: "def f(x):\n    return {x}".into(), suffix: "\n".into(), ..Default::default() };
        assert_eq!(
            deepseek().completion_prompt(&task, &[], false).unwrap(),
            "#unknown_file\n<｜fim▁begin｜>def f(x):\n    return {x}<｜fim▁hole｜>\n<｜fim▁end｜>"
        );
    }

    #[test]
    fn the_tasks_context_files_are_pasted_as_they_are_before_the_edited_file() {
        let mut task = CompletionTask {
            prefix: "p".into(),
            file_name: Some("main.py".into()),
            context_files: BTreeMap::from([("b.py".into(), vec!["z = 3".into()])]),
            ..Default::default()
        };
        let prompt = deepseek().completion_prompt(&task, &[], false).unwrap();
        assert!(prompt.starts_with("#b.py\nz = 3\n#main.py\n"), "{prompt}");
        task.context_files.insert("a.py".into(), vec!["x = 1".into(), "y = 2".into()]);
        let prompt = deepseek().completion_prompt(&task, &[], false).unwrap();
        assert!(prompt.starts_with("#a.py\nx = 1\ny = 2\n#b.py\nz = 3\n#main.py\n<｜fim▁begin｜>p"), "{prompt}");
        task.context_files.clear();
        assert!(deepseek().completion_prompt(&task, &[], false).unwrap().starts_with("#main.py\n"));
    }

    #[test]
    fn retrieved_snippets_follow_the_selected_files_with_the_same_separator() {
        let snippet = |file: &str, content: &str| Snippet { file_name: file.into(), start_line: 3, end_line: 5, score: 0.8, content: content.into() };
        let task = CompletionTask {
            prefix: "p".into(),
            file_name: Some("main.py".into()),
            context_files: BTreeMap::from([("a.py".into(), vec!["x = 1".into()])]),
            ..Default::default()
        };
        let retrieved = [snippet("db.py", "def get_user(id):\n    ..."), snippet("http.py", "def fetch(url): ...")];
        let prompt = deepseek().completion_prompt(&task, &retrieved, false).unwrap();
        assert_eq!(
            prompt,
            "#a.py\nx = 1\n#db.py\ndef get_user(id):\n    ...\n#http.py\ndef fetch(url): ...\n#main.py\n<｜fim▁begin｜>p<｜fim▁hole｜><｜fim▁end｜>"
        );
        assert!(deepseek().has_context_slot());
        let single = PromptTemplates::from_json(&json!({"fim_template": {"single_file_template": "{prefix}"}})).unwrap();
        assert!(!single.has_context_slot());
    }

    #[test]
    fn suffix_prefix_middle_order_is_kept() {
        let mellum = PromptTemplates::from_json(&json!({
            "fim_template": {"single_file_template": "<fim_suffix>{suffix}<fim_prefix>{prefix}<fim_middle>", "multi_file_template": ""}
        }))
        .unwrap();
        let task = CompletionTask { prefix: "P".into(), suffix: "S".into(), ..Default::default() };
        assert_eq!(mellum.completion_prompt(&task, &[], false).unwrap(), "<fim_suffix>S<fim_prefix>P<fim_middle>");
    }

    #[test]
    fn chat_prompts_in_both_styles() {
        let messages = vec![ChatMessage { role: "user".into(), content: "What is a closure?".into() }];
        let chatml = PromptTemplates { chat_template: Some(ChatStyle::Chatml), ..Default::default() };
        let prompt = chatml.chat_prompt(&messages, true);
        assert!(prompt.starts_with("<|im_start|>system\nYou are a helpful AI assistant"));
        assert!(prompt.contains("[Title]"));
        assert!(prompt.ends_with("<|im_start|>user\nWhat is a closure?<|im_end|>\n<|im_start|>assistant\n"));
        let bracketed = PromptTemplates::default().chat_prompt(&messages, false);
        assert_eq!(bracketed, "[USER] What is a closure?\n[ASSISTANT]");
    }

    #[test]
    fn titles_are_split_off_the_answer() {
        assert_eq!(
            extract_title("[Title] Closures in Python [/Title]\nA closure captures variables."),
            (Some("Closures in Python".into()), "A closure captures variables.".into())
        );
        assert_eq!(extract_title("No title here"), (None, "No title here".into()));
        assert_eq!(extract_title("[Title] unterminated"), (None, "[Title] unterminated".into()));
    }
}
