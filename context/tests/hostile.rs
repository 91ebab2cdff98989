//! Hostile and malformed input: the analysis must never panic, never overflow the stack (these run on
//! the test harness's 2 MiB threads), and never run much past its time budget.

use std::time::{Duration, Instant};

use code4me_context::{CodeContext, Language, MAX_SOURCE_BYTES, TIME_BUDGET, analyze, comment_prefix};

/// Positions that are out of range in every direction.
const POSITIONS: [(usize, usize); 6] = [(0, 0), (0, usize::MAX), (usize::MAX, 0), (usize::MAX, usize::MAX), (3, 7), (1 << 40, 1 << 40)];

/// Analyses at the given positions, checks the language survives, and exercises the text outputs too.
fn survive_at(lang: Language, source: &str, positions: &[(usize, usize)]) {
    for &(line, column) in positions {
        let ctx = analyze(Some(lang), source, line, column);
        assert_eq!(ctx.language, Some(lang.as_str()));
        let _ = ctx.describe();
        let header = ctx.prompt_header(comment_prefix(Some(lang)));
        let prefix = comment_prefix(Some(lang));
        assert!(header.lines().all(|l| l.starts_with(prefix)), "{lang:?}: a header line escaped its comment: {header:?}");
    }
}

/// Every out-of-range position, for small inputs.
fn survive(lang: Language, source: &str) {
    survive_at(lang, source, &POSITIONS);
}

/// The end of the source, for big inputs (each such analysis may take the whole time budget).
fn survive_big(lang: Language, source: &str) {
    survive_at(lang, source, &[(usize::MAX, usize::MAX)]);
}

#[test]
fn nul_bytes_control_characters_and_odd_unicode() {
    let sources = [
        "\0".to_owned(),
        "def f(x):\n  \0 y = \0\0 1\n    return \0".repeat(50),
        "fn main() { let s = \"\0\"; \u{feff}\u{202e}x\r\n\r}".to_owned(),
        "class A {\n\u{0}\u{1}\u{7f} m() { 'é𝄞' + `${\0}` }\r\n".to_owned(),
        "\r\n\r\n\r".to_owned(),
        "é".repeat(1000),
        "𝄞\n".repeat(100),
    ];
    for lang in Language::ALL {
        for source in &sources {
            survive(lang, source);
        }
    }
}

#[test]
fn unbalanced_and_deeply_nested_brackets() {
    // `[{(` nested 50,000 deep overflowed the test harness's 2 MiB thread when the analysis ran on
    // the caller's thread (tree-sitter frees a forked parse stack recursively); see ANALYSIS_STACK_BYTES.
    let sources = [
        "[{(".repeat(50_000),
        ")]}".repeat(50_000),
        format!("def f(x):\n    y = {}\n    ", "[".repeat(50_000)),
        format!("function f(a) {{\n  const b = {}", "(a + ".repeat(30_000)),
        format!("{}{}", "{".repeat(60_000), "}".repeat(60_000)),
    ];
    for lang in Language::ALL {
        for source in &sources {
            survive_big(lang, source);
        }
        survive(lang, &"(".repeat(1000));
    }
}

#[test]
fn huge_lines() {
    let one_line = format!("x = {}1", "a + ".repeat(150_000));
    let long_name = format!("def {}(x):\n    return ", "f".repeat(300_000));
    for lang in Language::ALL {
        survive_big(lang, &one_line);
        survive_big(lang, &long_name);
    }
    // The caret deep inside the long line: columns count characters.
    let ctx = analyze(Some(Language::Python), &long_name, 0, 200_000);
    assert_eq!(ctx.language, Some("python"));
    // A function whose name is 300,000 characters long reports a signature cut to 300 characters.
    let ctx = analyze(Some(Language::Python), &long_name, 1, 11);
    let signature = ctx.enclosing_function.expect("the function is found");
    assert_eq!(signature.chars().count(), 301, "300 characters and the ellipsis");
    assert!(signature.starts_with("def ffff") && signature.ends_with('…'));
}

#[test]
fn sources_over_the_limit_are_not_parsed() {
    let mut source = "def f(x):\n    y = 1\n    ".to_owned();
    source.push_str(&" ".repeat(MAX_SOURCE_BYTES + 1 - source.len()));
    assert_eq!(source.len(), MAX_SOURCE_BYTES + 1);
    for lang in Language::ALL {
        let ctx = analyze(Some(lang), &source, 2, 4);
        assert_eq!(ctx, CodeContext { language: Some(lang.as_str()), ..CodeContext::default() });
    }
    // One byte less is parsed (within the time budget on any build this runs in).
    source.pop();
    let ctx = analyze(Some(Language::Python), &source, 2, 4);
    assert_eq!(ctx.enclosing_function.as_deref(), Some("def f(x):"));
    assert_eq!(ctx.variables_in_scope, ["x", "y"]);
}

#[test]
fn pathological_input_stops_at_the_time_budget() {
    // A megabyte of JavaScript statements read as Go sends the Go grammar's error recovery into a
    // parse that takes well over a minute unbounded (measured: killed after 60 s in a debug build).
    let source = "let a = [1, 2, 3];\n".repeat(MAX_SOURCE_BYTES / 20);
    assert!(source.len() <= MAX_SOURCE_BYTES);
    let started = Instant::now();
    let ctx = analyze(Some(Language::Go), &source, usize::MAX, 0);
    let took = started.elapsed();
    assert_eq!(ctx, CodeContext { language: Some("go"), ..CodeContext::default() }, "an abandoned parse yields only the language");
    // Generous for a loaded CI machine, yet far below the unbounded parse.
    assert!(took < TIME_BUDGET * 10 + Duration::from_secs(2), "took {took:?}");
}
