//! Reading a model's free text as a task's answer. Small models drift from the format they were
//! asked for, so nothing here fails: a code answer is the first fenced block (else the whole
//! text), and an analysis yields the `LINE <n>: <severity>: <message>` lines it can read, with line
//! numbers kept only when the input has such a line.

use crate::contract::tasks::{CodeIssue, Severity};

/// A code answer split into its code and the prose around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAnswer {
    /// The first fenced block's body, else the whole text (trimmed).
    pub code: String,
    /// The text after the block (else before it); empty without a block.
    pub explanation: String,
}

/// Splits `text` at its first fenced code block (an unterminated fence runs to the end).
pub fn code_answer(text: &str) -> CodeAnswer {
    let Some(open) = fence_at(text, 0) else {
        return CodeAnswer { code: text.trim().to_owned(), explanation: String::new() };
    };
    let before = text[..open].trim();
    // The fence line (with its language tag) ends at the next newline.
    let body_start = text[open..].find('\n').map_or(text.len(), |n| open + n + 1);
    let (code, after) = match fence_at(text, body_start) {
        Some(close) => {
            let after_start = text[close..].find('\n').map_or(text.len(), |n| close + n + 1);
            (&text[body_start..close], text[after_start..].trim())
        }
        None => (&text[body_start..], ""),
    };
    let explanation = if after.is_empty() { before } else { after };
    CodeAnswer { code: code.trim_end_matches(['\n', '\r']).to_owned(), explanation: explanation.to_owned() }
}

/// The byte offset of the first line at or after `from` that starts (after indentation) with a
/// ``` fence.
fn fence_at(text: &str, from: usize) -> Option<usize> {
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

/// The issues an analysis names, one per line as `LINE <n>: <severity>: <message>` — tolerating
/// list bullets, `Line 3 -`, a missing severity (a warning) and unknown severities (info). A line
/// number the input (of `input_lines` lines) does not have becomes `None`.
pub fn issues(text: &str, input_lines: usize) -> Vec<CodeIssue> {
    text.lines().filter_map(|line| issue(line, input_lines)).collect()
}

fn issue(line: &str, input_lines: usize) -> Option<CodeIssue> {
    let line = line.trim().trim_start_matches(['-', '*', '•', ' ']).trim_start();
    let lower = line.to_ascii_lowercase();
    let (number, rest) = if let Some(rest) = lower.strip_prefix("line") {
        let rest = rest.trim_start_matches([' ', '#']);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let number = digits.parse::<u32>().ok();
        let rest_start = line.len() - rest.len() + digits.len();
        (number, line[rest_start..].trim_start_matches([' ', ':', '-', ')', ']', '.']).trim_start())
    } else if severity_prefix(&lower).is_some() {
        (None, line)
    } else {
        return None;
    };
    let (severity, message) = match severity_prefix(&rest.to_ascii_lowercase()) {
        Some((severity, length)) => (severity, rest[length..].trim_start_matches([' ', ':', '-']).trim()),
        None => (Severity::Warning, rest.trim()),
    };
    if message.is_empty() {
        return None;
    }
    let line = number.filter(|&n| n >= 1 && usize::try_from(n).is_ok_and(|n| n <= input_lines));
    Some(CodeIssue { line, severity, message: message.to_owned() })
}

/// The severity word `lower` starts with (followed by a separator), and its length.
fn severity_prefix(lower: &str) -> Option<(Severity, usize)> {
    const WORDS: [(&str, Severity); 7] = [
        ("error", Severity::Error),
        ("bug", Severity::Error),
        ("warning", Severity::Warning),
        ("warn", Severity::Warning),
        ("info", Severity::Info),
        ("note", Severity::Info),
        ("suggestion", Severity::Info),
    ];
    WORDS.iter().find_map(|(word, severity)| {
        let rest = lower.strip_prefix(word)?;
        (rest.is_empty() || rest.starts_with([':', ' ', '-', ']'])).then_some((*severity, word.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_fenced_block_is_the_code_and_the_rest_explains_it() {
        let answer = code_answer("Here you go:\n```python\ndef f():\n    return 1\n```\nI renamed it.\n```\nother\n```");
        assert_eq!(answer.code, "def f():\n    return 1");
        assert_eq!(answer.explanation, "I renamed it.\n```\nother\n```");
        let before = code_answer("Renamed x to count.\n```js\nlet count = 0;\n```");
        assert_eq!((before.code.as_str(), before.explanation.as_str()), ("let count = 0;", "Renamed x to count."));
    }

    #[test]
    fn without_a_block_the_whole_text_is_code_and_an_open_fence_runs_to_the_end() {
        assert_eq!(code_answer("  x = 1\n").code, "x = 1");
        assert_eq!(code_answer("```rust\nfn main() {}").code, "fn main() {}");
        assert_eq!(code_answer("```").code, "");
        assert_eq!(code_answer("").code, "");
    }

    #[test]
    fn issues_are_read_in_the_asked_format_and_its_common_drifts() {
        let text = "LINE 2: error: division by zero\n- Line 3 - warning: unused variable\nline 9: info: beyond the input\n\
                    Warning: no line given\nLINE 1: missing severity\nThe code looks fine otherwise.\nLINE 1: error:\nLINE x: note: odd";
        let found = issues(text, 3);
        let expected = [
            (Some(2), Severity::Error, "division by zero"),
            (Some(3), Severity::Warning, "unused variable"),
            (None, Severity::Info, "beyond the input"),
            (None, Severity::Warning, "no line given"),
            (Some(1), Severity::Warning, "missing severity"),
            (None, Severity::Warning, "x: note: odd"),
        ];
        let got: Vec<_> = found.iter().map(|i| (i.line, i.severity, i.message.as_str())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn garbage_yields_no_issues_and_no_panic() {
        for text in ["", "\n\n", "LINE", "line 99999999999999999999: error: big", "ünïcödé ```", "errorless"] {
            let _ = issues(text, 5);
            let _ = code_answer(text);
        }
        assert!(issues("errorless text", 5).is_empty());
    }
}
