//! What the suggestion API learns from the code around the caret before it prompts a model: a
//! header of comments for the prompt, a one-line description for the client, and a fingerprint
//! for the cache key. A plain-text reading (the nearest enclosing `def`/`function`/`class` line by
//! indentation) until the tree-sitter analysis lands.

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

/// Analyses `source` at the caret (`line` and `column` 0-based, the column in characters).
pub fn analyse(language: &str, _file_path: Option<&str>, source: &str, line: usize, _column: usize) -> Analysed {
    let lines: Vec<&str> = source.lines().take(line + 1).collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut limit = lines.last().map_or(0, |l| indent(l));
    let (mut function, mut class) = (None, None);
    for l in lines.iter().rev().skip(1) {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || indent(l) >= limit && limit > 0 {
            continue;
        }
        limit = indent(l);
        if function.is_none()
            && class.is_none()
            && (trimmed.starts_with("def ") || trimmed.starts_with("async def ") || trimmed.starts_with("function "))
        {
            function = Some(trimmed.trim_end().to_owned());
        } else if class.is_none() && trimmed.starts_with("class ") {
            class = trimmed.trim_start_matches("class ").split(|c: char| !c.is_alphanumeric() && c != '_').next().map(str::to_owned);
        }
        if limit == 0 {
            break;
        }
    }
    let prefix = if language.eq_ignore_ascii_case("python") { "#" } else { "//" };
    let mut header = String::new();
    if let Some(class) = &class {
        header.push_str(&format!("{prefix} Enclosing class: {class}\n"));
    }
    if let Some(function) = &function {
        header.push_str(&format!("{prefix} Enclosing function: {function}\n"));
    }
    let description = match (function.as_deref().map(elide), &class) {
        (Some(function), Some(class)) => format!("Completes `{function}` in class `{class}`"),
        (Some(function), None) => format!("Completes `{function}`"),
        (None, Some(class)) => format!("Completes code in class `{class}`"),
        (None, None) => "Completes the code at the caret".to_owned(),
    };
    Analysed { fingerprint: header.clone(), header, description }
}

/// `text` cut to [`DESCRIBED_SIGNATURE_CHARS`] characters, with an ellipsis when cut.
fn elide(text: &str) -> String {
    if text.chars().count() <= DESCRIBED_SIGNATURE_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(DESCRIBED_SIGNATURE_CHARS - 1).collect();
    format!("{kept}…")
}
