//! What the suggestion API learns from the code around the caret before it prompts a model: a
//! header of comments for the prompt (the enclosing function and class, imports, names in scope),
//! a one-line description for the client, and a fingerprint for the cache key. The analysis
//! itself is `code4me-context`'s (tree-sitter); this module only words it for the suggestion API.

use code4me_context::{CodeContext, Language, analyze, comment_prefix};

/// Longest signature quoted in a description: it is a status line in an editor.
const DESCRIBED_SIGNATURE_CHARS: usize = 80;

/// The analysis of one request's code, worded for the suggestion API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysed {
    /// Comment lines to put before the code in the prompt (empty when nothing was learned).
    pub header: String,
    /// What the suggestions complete, e.g. ``Completes `def fibonacci(self, n):` in class `MathUtils` ``.
    pub description: String,
    /// The analysis as stable text, part of the cache key.
    pub fingerprint: String,
}

/// Analyses `source` at the caret (`line` and `column` 0-based, the column in characters). The
/// language is the request's name for it, else the file's extension; an unknown one gets no
/// header and a plain description. CPU-bound (a parse): run it on a blocking thread.
pub fn analyse(language: &str, file_path: Option<&str>, source: &str, line: usize, column: usize) -> Analysed {
    let language = Language::from_name(language.trim()).or_else(|| file_path.and_then(Language::from_path));
    let context = analyze(language, source, line, column);
    Analysed {
        header: context.prompt_header(comment_prefix(language)),
        description: describe(&context),
        fingerprint: serde_json::to_string(&context).unwrap_or_default(),
    }
}

/// The description of what a suggestion at this caret completes.
fn describe(context: &CodeContext) -> String {
    let function = context.enclosing_function.as_deref().map(elide);
    match (function, &context.enclosing_class) {
        (Some(function), Some(class)) => format!("Completes `{function}` in class `{class}`"),
        (Some(function), None) => format!("Completes `{function}`"),
        (None, Some(class)) => format!("Completes code in class `{class}`"),
        (None, None) => "Completes the code at the caret".to_owned(),
    }
}

/// `text` cut to [`DESCRIBED_SIGNATURE_CHARS`] characters, with an ellipsis when cut.
fn elide(text: &str) -> String {
    if text.chars().count() <= DESCRIBED_SIGNATURE_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(DESCRIBED_SIGNATURE_CHARS - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_described_with_its_class() {
        let source = "class MathUtils:\n    def fibonacci(self, n):\n        a, b = 0, 1\n        for _ in range(n):\n            ";
        let analysed = analyse("Python", None, source, 4, 12);
        assert!(analysed.description.contains("fibonacci") && analysed.description.contains("MathUtils"), "{}", analysed.description);
        assert!(analysed.header.starts_with("# "), "{}", analysed.header);
    }

    #[test]
    fn an_unknown_language_gets_no_header() {
        let analysed = analyse("brainfuck", None, "+++", 0, 3);
        assert_eq!(analysed.header, "");
        assert_eq!(analysed.description, "Completes the code at the caret");
    }

    #[test]
    fn long_signatures_are_cut() {
        assert_eq!(elide(&"x".repeat(200)).chars().count(), DESCRIBED_SIGNATURE_CHARS);
    }
}
