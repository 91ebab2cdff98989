//! Code context around the caret, from a tree-sitter parse: the enclosing function's signature, the
//! enclosing class, the file's imports and the names in scope. The suggestion API feeds it into the
//! completion prompt ([`CodeContext::prompt_header`]) and returns a short description to the client
//! ([`CodeContext::describe`]).
//!
//! How it copes with the normal case, code that is incomplete at the caret: the file is parsed once
//! whole (imports, string/comment detection, bracket tokens), then the text *before* the caret is
//! parsed again, incrementally from the first tree, with the brackets it leaves open closed after it
//! (`prefix + "\n" + "})"`), so a truncated method still parses as a method instead of one flat
//! `ERROR` node. When the caret's path in that tree still runs through an `ERROR` node, the same is
//! tried without the last line of code before the caret, then without the one before that, and the
//! cleanest tree wins. A caret inside a string or comment counts as standing where that literal
//! starts. Python's scopes come from indentation: a caret on a line indented deeper than a
//! `def`/`class` that precedes it is inside that definition.
//!
//! Bounds: at most [`MAX_SOURCE_BYTES`] of source are parsed, and one analysis stops after
//! [`TIME_BUDGET`]: a parse still running then is cancelled through tree-sitter 0.25's progress
//! callback (`ParseOptions::progress_callback`, which replaced the deprecated `set_timeout_micros`)
//! and the result carries only the language; a tree walk still running then ends with what it found.
//! Our walks over a tree are iterative (a `TreeCursor`); tree-sitter's own C code is not, so each
//! analysis runs on a thread with an [`ANALYSIS_STACK_BYTES`] stack.

mod analysis;
mod lang;

use std::fmt::Write as _;
use std::time::Duration;

pub use analysis::{ANALYSIS_STACK_BYTES, analyze};

/// Sources larger than this are not parsed at all (the result carries only the language): a
/// completion request's file is far smaller, and the bound keeps one request's CPU and memory small.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;

/// Wall-clock budget of one [`analyze`] call, its parses and tree walks together: a parse that runs
/// past it is cancelled through the parser's progress callback and a walk stops, so hostile input
/// cannot hang a request. Ordinary files take milliseconds; the budget only bites on pathological
/// input (and on files near [`MAX_SOURCE_BYTES`] in an unoptimised build).
pub const TIME_BUDGET: Duration = Duration::from_millis(500);

/// At most this many import statements are reported: enough to tell the model what the file uses
/// without letting one file's import block crowd out the prompt.
pub const MAX_IMPORTS: usize = 20;

/// At most this many names in scope are reported, for the same reason.
pub const MAX_VARIABLES: usize = 30;

/// The languages whose syntax the analysis understands; everything else falls back to plain text
/// (an empty [`CodeContext`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Python (`.py`, `.pyi`, `.pyw`); scopes come from indentation.
    Python,
    /// JavaScript, JSX included (`.js`, `.mjs`, `.cjs`, `.jsx`).
    JavaScript,
    /// TypeScript (`.ts`, `.mts`, `.cts`, `.tsx`); parsed with the TSX grammar so `.tsx` files work
    /// too (the price: old-style `<T>value` casts parse as JSX).
    TypeScript,
    /// Java (`.java`).
    Java,
    /// Rust (`.rs`).
    Rust,
    /// Go (`.go`).
    Go,
}

impl Language {
    /// Every supported language, for tests and for callers that list what is supported.
    pub const ALL: [Language; 6] = [Language::Python, Language::JavaScript, Language::TypeScript, Language::Java, Language::Rust, Language::Go];

    /// The language a client names: full names and the usual short forms (`python`/`py`, `js`, `jsx`,
    /// `ts`, `tsx`, `rs`, `golang`), case-insensitive; `None` for anything else, which the caller
    /// treats as plain text.
    pub fn from_name(name: &str) -> Option<Language> {
        let lang = match name.trim().to_ascii_lowercase().as_str() {
            "python" | "py" => Language::Python,
            "javascript" | "js" | "jsx" => Language::JavaScript,
            "typescript" | "ts" | "tsx" => Language::TypeScript,
            "java" => Language::Java,
            "rust" | "rs" => Language::Rust,
            "go" | "golang" => Language::Go,
            _ => return None,
        };
        Some(lang)
    }

    /// The language of a file path by its extension (case-insensitive; `/` and `\` separators), for
    /// clients that send a file name but no language.
    pub fn from_path(path: &str) -> Option<Language> {
        let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (stem, ext) = file.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        let lang = match ext.to_ascii_lowercase().as_str() {
            "py" | "pyi" | "pyw" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" | "tsx" => Language::TypeScript,
            "java" => Language::Java,
            "rs" => Language::Rust,
            "go" => Language::Go,
            _ => return None,
        };
        Some(lang)
    }

    /// The canonical lowercase name (`python`, `javascript`, `typescript`, `java`, `rust`, `go`): what
    /// [`CodeContext::language`] and the prompt header carry.
    pub fn as_str(&self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Java => "java",
            Language::Rust => "rust",
            Language::Go => "go",
        }
    }
}

/// What the analysis learned about the code around the caret. Every field may be empty: an unknown
/// language, an oversized file or a parse that ran out of time leave it so, and callers then fall back
/// to the plain prompt.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CodeContext {
    /// The analysed language ([`Language::as_str`]); `None` when the language is unknown and the
    /// source was treated as plain text.
    pub language: Option<&'static str>,
    /// The signature of the innermost named function around the caret, without its body, on one line
    /// (whitespace collapsed, comments dropped, at most 300 characters), e.g.
    /// `def fibonacci(self, n: int) -> int:`.
    pub enclosing_function: Option<String>,
    /// The name of the innermost class-like definition around the caret: class, interface, enum,
    /// struct or trait; for a Rust `impl Trait for Foo` block `Foo`; for a Go method its receiver type.
    pub enclosing_class: Option<String>,
    /// Each import statement of the file on one line, in source order, at most [`MAX_IMPORTS`]; Go's
    /// grouped `import ( … )` counts one entry per imported package.
    pub imports: Vec<String>,
    /// Names bound before the caret: the enclosing function's parameters and the locals declared
    /// before the caret in it (module level when not in a function), deduplicated, in order of first
    /// appearance, at most [`MAX_VARIABLES`].
    pub variables_in_scope: Vec<String>,
}

/// The longest signature `describe` quotes before eliding the rest: the description is a status line.
const DESCRIBE_SIGNATURE_CHARS: usize = 80;

impl CodeContext {
    /// Whether the analysis found nothing beyond the language: then there is nothing to describe and no
    /// header to add.
    fn is_empty(&self) -> bool {
        self.enclosing_function.is_none() && self.enclosing_class.is_none() && self.imports.is_empty() && self.variables_in_scope.is_empty()
    }

    /// A short human description for the client's status line, e.g. ``in function `def f(x):` of class
    /// `A`; 2 imports; in scope: x, y``; empty when nothing is known (the language alone is not news to
    /// the client that sent it).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match (&self.enclosing_function, &self.enclosing_class) {
            (Some(function), Some(class)) => {
                parts.push(format!("in function `{}` of class `{class}`", analysis::elide_chars(function, DESCRIBE_SIGNATURE_CHARS)))
            }
            (Some(function), None) => parts.push(format!("in function `{}`", analysis::elide_chars(function, DESCRIBE_SIGNATURE_CHARS))),
            (None, Some(class)) => parts.push(format!("in class `{class}`")),
            (None, None) => {}
        }
        match self.imports.len() {
            0 => {}
            1 => parts.push("1 import".to_owned()),
            n => parts.push(format!("{n} imports")),
        }
        if !self.variables_in_scope.is_empty() {
            parts.push(format!("in scope: {}", self.variables_in_scope.join(", ")));
        }
        parts.join("; ")
    }

    /// Comment lines to put before the code in a completion prompt, each starting with `comment_prefix`
    /// and a space and ending with a newline, e.g. `# Language: python\n# Enclosing function: def
    /// f(x):\n# In scope: x, y\n`. Empty when nothing is known, and empty when `comment_prefix` is
    /// empty: without a comment marker the lines would be read as code. Every value is already one line,
    /// so no value can end the comment early.
    pub fn prompt_header(&self, comment_prefix: &str) -> String {
        if self.is_empty() || comment_prefix.is_empty() {
            return String::new();
        }
        let mut header = String::new();
        let mut line = |label: &str, value: &str| {
            let _ = writeln!(header, "{comment_prefix} {label}: {value}");
        };
        if let Some(language) = self.language {
            line("Language", language);
        }
        if let Some(class) = &self.enclosing_class {
            line("Enclosing class", class);
        }
        if let Some(function) = &self.enclosing_function {
            line("Enclosing function", function);
        }
        if !self.imports.is_empty() {
            line("Imports", &self.imports.join("; "));
        }
        if !self.variables_in_scope.is_empty() {
            line("In scope", &self.variables_in_scope.join(", "));
        }
        header
    }
}

/// The line-comment marker of a language, for [`CodeContext::prompt_header`]: `#` for Python, `//` for
/// the others, empty for an unknown language (which gets no header).
pub fn comment_prefix(language: Option<Language>) -> &'static str {
    match language {
        Some(Language::Python) => "#",
        Some(_) => "//",
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_map_to_languages() {
        for (name, lang) in [
            ("Python", Language::Python),
            ("py", Language::Python),
            ("JavaScript", Language::JavaScript),
            ("js", Language::JavaScript),
            ("JSX", Language::JavaScript),
            ("typescript", Language::TypeScript),
            ("ts", Language::TypeScript),
            ("tsx", Language::TypeScript),
            ("java", Language::Java),
            ("RUST", Language::Rust),
            ("rs", Language::Rust),
            ("go", Language::Go),
            ("golang", Language::Go),
        ] {
            assert_eq!(Language::from_name(name), Some(lang), "{name}");
        }
        for name in ["", "c", "python3", "kotlin", "j s"] {
            assert_eq!(Language::from_name(name), None, "{name}");
        }
        for (path, lang) in [
            ("src/main.py", Some(Language::Python)),
            ("C:\\code\\App.JSX", Some(Language::JavaScript)),
            ("web/app.component.tsx", Some(Language::TypeScript)),
            ("x.mts", Some(Language::TypeScript)),
            ("Main.java", Some(Language::Java)),
            ("lib.rs", Some(Language::Rust)),
            ("cmd/server/main.go", Some(Language::Go)),
            ("Makefile", None),
            ("notes.txt", None),
            (".py", None),
            ("dir.py/readme", None),
            ("", None),
        ] {
            assert_eq!(Language::from_path(path), lang, "{path}");
        }
        for lang in Language::ALL {
            assert_eq!(Language::from_name(lang.as_str()), Some(lang));
        }
    }

    #[test]
    fn comment_prefixes() {
        assert_eq!(comment_prefix(Some(Language::Python)), "#");
        for lang in [Language::JavaScript, Language::TypeScript, Language::Java, Language::Rust, Language::Go] {
            assert_eq!(comment_prefix(Some(lang)), "//");
        }
        assert_eq!(comment_prefix(None), "");
    }

    fn sample() -> CodeContext {
        CodeContext {
            language: Some("python"),
            enclosing_function: Some("def fibonacci(n):".to_owned()),
            enclosing_class: Some("Math".to_owned()),
            imports: vec!["import math".to_owned(), "import os".to_owned(), "import sys".to_owned()],
            variables_in_scope: vec!["n".to_owned(), "a".to_owned(), "b".to_owned()],
        }
    }

    #[test]
    fn describe_and_header_of_a_full_context() {
        let ctx = sample();
        assert_eq!(ctx.describe(), "in function `def fibonacci(n):` of class `Math`; 3 imports; in scope: n, a, b");
        assert_eq!(
            ctx.prompt_header("#"),
            "# Language: python\n# Enclosing class: Math\n# Enclosing function: def fibonacci(n):\n\
             # Imports: import math; import os; import sys\n# In scope: n, a, b\n"
        );
    }

    #[test]
    fn describe_and_header_of_partial_contexts() {
        let only_class = CodeContext { language: Some("java"), enclosing_class: Some("A".to_owned()), ..Default::default() };
        assert_eq!(only_class.describe(), "in class `A`");
        assert_eq!(only_class.prompt_header("//"), "// Language: java\n// Enclosing class: A\n");
        let one_import = CodeContext { imports: vec!["use std::io;".to_owned()], ..Default::default() };
        assert_eq!(one_import.describe(), "1 import");
        assert_eq!(one_import.prompt_header("//"), "// Imports: use std::io;\n");
        let long = CodeContext { enclosing_function: Some("f".repeat(100)), ..Default::default() };
        assert_eq!(long.describe(), format!("in function `{}…`", "f".repeat(80)));
    }

    #[test]
    fn nothing_known_means_empty_text() {
        assert_eq!(CodeContext::default().describe(), "");
        assert_eq!(CodeContext::default().prompt_header("#"), "");
        let language_only = CodeContext { language: Some("go"), ..Default::default() };
        assert_eq!(language_only.describe(), "");
        assert_eq!(language_only.prompt_header("//"), "");
        // No comment marker, no header: the lines would otherwise be read as code.
        assert_eq!(sample().prompt_header(""), "");
    }
}
