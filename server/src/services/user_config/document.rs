//! The one way the server parses a config document (HOCON), for the admin's validation and for
//! every later reader alike: bounded before the parser sees it, so no config, submitted or already
//! stored, can read the server's files or environment, overflow a stack or expand without bound.
//!
//! hocon-parser 1.10 has no switch for includes (it reads `include file("/etc/passwd")` from disk and
//! reports the file's parse errors) and recurses once per nesting level in its parser and resolver
//! (1,000 levels overflow a 2 MiB stack). So the text is first scanned with the crate's own lexer,
//! which is iterative and linear, and refused when it is too large or too deep, or has an include
//! or a substitution; only then is it parsed, with an empty environment, on the blocking pool.
//!
//! Substitutions (`${...}`, `${?...}`) are refused rather than resolved: against the process
//! environment they would leak the server's variables (`${HOME}`), and against the document itself
//! they expand exponentially (`b = [${a}, ${a}]`, `c = [${b}, ${b}]`, ...) past any size bound.
//! `+=` (an implicit self-reference) is refused for the same reason: each one nests the resolver a
//! level deeper. Upstream's configs use neither.

use std::collections::HashMap;

use hocon::{Config, TokenKind};
use tokio::sync::Semaphore;

/// The largest document accepted, in bytes (the seed config is about 6 KB).
pub const MAX_BYTES: usize = 256 * 1024;

/// The deepest nesting accepted: open `{`/`[` plus the segments of a dotted key (`a.b.c`), which
/// the parser nests the same way. The seed config is 7 deep.
pub const MAX_DEPTH: usize = 64;

/// Parses running at once on the blocking pool: a burst of config reads queues here instead of
/// taking every blocking thread.
static PARSES: Semaphore = Semaphore::const_new(4);

/// Why a config document is refused. Each message is meant to follow `Invalid config: `, and names
/// no file, path or environment value of the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    /// Longer than [`MAX_BYTES`].
    #[error("the document is {0} bytes long; at most {MAX_BYTES} are accepted")]
    TooLarge(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested more than {MAX_DEPTH} levels deep (line {0}); flatten the document")]
    TooDeep(usize),
    /// An `include` directive.
    #[error("includes are not allowed (line {0}): a config must be self-contained")]
    Include(usize),
    /// A `${...}` substitution.
    #[error("substitutions are not allowed (line {0}): write the value itself, `${{...}}` is never resolved")]
    Substitution(usize),
    /// A `+=` (a self-referencing append).
    #[error("`+=` is not allowed (line {0}): write the whole list")]
    Append(usize),
    /// Not HOCON at all; the parser's message, with its line and column.
    #[error("not valid HOCON: {0}")]
    Syntax(String),
    /// HOCON, but a block the server reads is malformed.
    #[error("{0}")]
    Block(String),
}

/// Parses `text` off the async executor after [`check`]ing it.
pub async fn parse(text: String) -> Result<Config, InvalidConfig> {
    check(&text)?;
    // The semaphore is never closed, so acquiring cannot fail. The permit moves into the task, so
    // a caller that gives up waiting (a read timeout) does not free a slot the parse still uses.
    let permit = PARSES.acquire().await.expect("the parse semaphore is never closed");
    let parsed = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        parse_checked(&text)
    });
    parsed.await.map_err(|e| InvalidConfig::Syntax(format!("the parser failed: {e}")))?
}

/// Parses `text` on the calling thread after [`check`]ing it (for callers already off the executor).
pub fn parse_blocking(text: &str) -> Result<Config, InvalidConfig> {
    check(text)?;
    parse_checked(text)
}

/// The parse proper, of a text that passed [`check`]: with an empty environment, so even a
/// substitution the scan missed could not read the server's.
fn parse_checked(text: &str) -> Result<Config, InvalidConfig> {
    hocon::parse_with_env(text, &HashMap::new()).map_err(|e| InvalidConfig::Syntax(e.to_string()))
}

/// Refuses, without parsing, a document the parser must not see: too large, too deep, with an
/// include, a substitution or a `+=`. A document the lexer rejects passes here and fails in the
/// parse with the parser's own message.
pub fn check(text: &str) -> Result<(), InvalidConfig> {
    if text.len() > MAX_BYTES {
        return Err(InvalidConfig::TooLarge(text.len()));
    }
    let Ok(tokens) = hocon::tokenize(text) else { return Ok(()) };
    // The open brackets around the current token, and the dotted-key segments since the last
    // separator (a key's path nests like braces do).
    let mut open: Vec<TokenKind> = Vec::new();
    let mut dots = 0usize;
    let mut previous = TokenKind::Newline;
    for token in &tokens {
        match token.kind {
            TokenKind::LBrace | TokenKind::LBracket => open.push(token.kind.clone()),
            TokenKind::RBrace | TokenKind::RBracket => {
                open.pop();
            }
            TokenKind::Substitution => return Err(InvalidConfig::Substitution(token.line)),
            TokenKind::PlusEquals => return Err(InvalidConfig::Append(token.line)),
            TokenKind::Unquoted => {
                // The parser takes `include` as a directive wherever a field may start: anywhere
                // but directly in an array or after a key's separator (where it is a value).
                let in_array = open.last() == Some(&TokenKind::LBracket);
                let after_separator = matches!(previous, TokenKind::Equals | TokenKind::Colon | TokenKind::PlusEquals);
                if token.value == "include" && !in_array && !after_separator {
                    return Err(InvalidConfig::Include(token.line));
                }
                dots += token.value.matches('.').count();
            }
            _ => {}
        }
        if !matches!(token.kind, TokenKind::Unquoted | TokenKind::QuotedString | TokenKind::TripleQuotedString) {
            dots = 0;
        }
        if open.len() + dots > MAX_DEPTH {
            return Err(InvalidConfig::TooDeep(token.line));
        }
        if token.kind != TokenKind::Newline {
            previous = token.kind.clone();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("a = {}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn every_include_form_is_refused_wherever_a_field_may_start() {
        for text in [
            "include \"/etc/passwd\"",
            "include file(\"/etc/passwd\")",
            "include required(file(\"/etc/passwd\"))",
            "include required(\"x.conf\")",
            "include url(\"http://127.0.0.1/x\")",
            "include classpath(\"x.conf\")",
            "a = 1\ninclude \"x\"",
            "a = 1, include \"x\"",
            "a { include \"x\" }",
            "a = [{ include \"x\" }]",
            "a { b = 1 } include \"x\"",
        ] {
            assert!(matches!(check(text), Err(InvalidConfig::Include(_))), "{text}");
        }
    }

    #[test]
    fn the_word_include_as_a_value_or_quoted_key_is_not_an_include() {
        for text in ["a = include", "a = [include, x]", "\"include\" = 1", "a: include", "a = \"include x\""] {
            assert_eq!(check(text), Ok(()), "{text}");
            assert!(parse_blocking(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn substitutions_and_appends_are_refused_but_dollars_in_strings_are_text() {
        assert_eq!(check("a = ${HOME}"), Err(InvalidConfig::Substitution(1)));
        assert_eq!(check("a = 1\nb = ${?HOME}"), Err(InvalidConfig::Substitution(2)));
        assert_eq!(check("a = 1\nb = ${a}"), Err(InvalidConfig::Substitution(2)));
        assert_eq!(check("a = [1]\na += 2"), Err(InvalidConfig::Append(2)));
        let literal = parse_blocking("a = \"${HOME}\"").expect("a quoted ${...} is text");
        assert_eq!(literal.get_string("a").unwrap(), "${HOME}");
    }

    #[test]
    fn nesting_is_bounded_by_brackets_and_dotted_keys_alike() {
        assert_eq!(check(&nested(MAX_DEPTH)), Ok(()));
        assert!(matches!(check(&nested(MAX_DEPTH + 1)), Err(InvalidConfig::TooDeep(1))));
        assert!(matches!(check(&nested(1000)), Err(InvalidConfig::TooDeep(1))));
        let braces = format!("{}{}", "a {".repeat(1000), "}".repeat(1000));
        assert!(matches!(check(&braces), Err(InvalidConfig::TooDeep(1))));
        let dotted = format!("{} = 1", vec!["a"; 1000].join("."));
        assert!(matches!(check(&dotted), Err(InvalidConfig::TooDeep(1))));
        let quoted = format!("{} = 1", vec!["\"a\""; 1000].join("."));
        assert!(matches!(check(&quoted), Err(InvalidConfig::TooDeep(1))));
        // Brackets inside strings and comments do not count.
        assert_eq!(check(&format!("a = \"{}\"\n# {}", "[".repeat(1000), "{".repeat(1000))), Ok(()));
    }

    #[test]
    fn a_document_at_the_limits_parses_on_a_test_threads_stack() {
        // Test threads have 2 MiB stacks, as tokio's blocking threads do.
        assert!(parse_blocking(&nested(MAX_DEPTH)).is_ok());
        let braces = format!("{}x = 1{}", "a {".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(parse_blocking(&braces).is_ok());
        let dotted = format!("{} = 1", vec!["a"; MAX_DEPTH].join("."));
        assert!(parse_blocking(&dotted).is_ok());
    }

    #[test]
    fn size_is_bounded() {
        let long = format!("a = \"{}\"", "x".repeat(MAX_BYTES));
        assert_eq!(check(&long), Err(InvalidConfig::TooLarge(long.len())));
    }

    #[test]
    fn large_flat_documents_parse_quickly() {
        // Repeated keys and objects merge; a document at the size bound must not take long.
        let started = std::time::Instant::now();
        let repeated = "a { b = 1 }\n".repeat(MAX_BYTES / 12);
        assert!(parse_blocking(&repeated).is_ok());
        let overridden = "a = 1\n".repeat(MAX_BYTES / 6);
        assert!(parse_blocking(&overridden).is_ok());
        let wide = format!("a = [{}]", "1,".repeat(MAX_BYTES / 2 - 8));
        assert!(parse_blocking(&wide).is_ok());
        let keys: String = (0..MAX_BYTES / 16).map(|i| format!("k{i} = {i}\n")).collect();
        assert!(parse_blocking(&keys).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }
}
