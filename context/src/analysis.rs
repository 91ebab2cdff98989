//! The analysis: bounded parsing, repairing the code before the caret, finding the scopes around the
//! caret and the names bound in them.

use std::collections::HashSet;
use std::time::Instant;

use tree_sitter::{InputEdit, Node, ParseOptions, ParseState, Parser, Point, Tree};

use crate::lang::{self, Spec};
use crate::{CodeContext, Language, MAX_IMPORTS, MAX_SOURCE_BYTES, MAX_VARIABLES, TIME_BUDGET};

/// The longest import line reported; longer ones are cut and marked with `…`.
const MAX_IMPORT_CHARS: usize = 200;

/// The stack of the thread an analysis runs on (see [`analyze`]): 256 MiB of address space, reserved
/// and committed only as touched. Measured with a debug build and no time budget (every parse run to
/// the end), a megabyte of each of twelve nesting patterns (`[{(`, `(`, `{`, `!`, `-`, `not `, `a = `,
/// `x ? y : `, `<a>`, `f(`, `&`, `if a: `) in all six grammars passed with 128 MiB; `[{(` read as Java
/// overflowed 8 MiB and passed with 64 MiB.
pub const ANALYSIS_STACK_BYTES: usize = 256 << 20;

/// At most this many brackets are closed after the caret: real code never has that many open, and
/// the bound keeps the repaired text (and its parse stack) no longer than the source plus a little.
const MAX_CLOSERS: usize = 1000;

/// Import statements are looked for this many levels deep at most: deep enough for an import in a
/// method of a class inside an `ERROR` node, shallow enough that a pathologically deep expression
/// is not walked for them.
const MAX_IMPORT_DEPTH: usize = 16;

/// The time left for one analysis, shared by its parses and its tree walks.
pub(crate) struct Budget {
    /// When the analysis has to stop.
    deadline: Instant,
    /// Nodes visited since the clock was last read.
    ticks: u32,
    /// Whether the deadline has passed (it stays passed).
    spent: bool,
    /// A parse is also cancelled once it has read this far (only tests set it below `usize::MAX`: it
    /// makes a cancellation happen at the same depth on any machine).
    stop_at_byte: usize,
}

impl Budget {
    /// A budget of [`TIME_BUDGET`] from now.
    fn new() -> Budget {
        Budget { deadline: Instant::now() + TIME_BUDGET, ticks: 0, spent: false, stop_at_byte: usize::MAX }
    }

    /// Whether the time is up; the walks ask once per node, and the clock is read every 256 asks.
    fn spent(&mut self) -> bool {
        self.ticks += 1;
        if self.ticks >= 256 {
            self.ticks = 0;
            self.spent = self.spent || Instant::now() >= self.deadline;
        }
        self.spent
    }
}

/// What a tree walk does after visiting a node.
pub(crate) enum Flow {
    /// Visit the node's children next.
    Descend,
    /// Leave the node's children out.
    Skip,
    /// End the walk.
    Stop,
}

/// Visits `root` and its descendants in source order (pre-order) with a cursor, never recursing, so
/// a tree of any depth is safe to walk. `visit` gets each node and its depth below `root`.
pub(crate) fn walk(root: Node, mut visit: impl FnMut(Node, usize) -> Flow) {
    let mut cursor = root.walk();
    let mut depth = 0;
    loop {
        match visit(cursor.node(), depth) {
            Flow::Stop => return,
            Flow::Descend if cursor.goto_first_child() => {
                depth += 1;
                continue;
            }
            Flow::Descend | Flow::Skip => {}
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if depth == 0 || !cursor.goto_parent() {
                return;
            }
            depth -= 1;
        }
    }
}

/// Analyses `source` around the caret at `line`/`column` (0-based; the column counts characters of that
/// line, not bytes): the enclosing function and class, the imports and the names in scope.
///
/// Never panics and never fails: a `None` language gives an empty context; a source over
/// [`MAX_SOURCE_BYTES`] or a parse that runs past [`TIME_BUDGET`] gives one with only the language set
/// (walks that run past it end early, with what they found); a position past a line's end or past the
/// last line is clamped to the nearest end. Broken code is the normal input (the caret usually sits in
/// an unfinished statement) and is analysed as well as tree-sitter's error recovery and the repair
/// described in the crate docs allow.
///
/// Runs on a thread of its own with a [`ANALYSIS_STACK_BYTES`] stack, joined before returning: freeing
/// a deeply forked parse stack recurses in tree-sitter's C code (`stack_node_release`) about as deep
/// as the input nests, which overflowed 8 MiB on a megabyte of nested brackets. The stack is reserved,
/// not committed: an ordinary file touches a few pages of it. Should the thread not start (or, against
/// every test, panic), the result carries only the language.
pub fn analyze(language: Option<Language>, source: &str, line: usize, column: usize) -> CodeContext {
    let Some(lang) = language else { return CodeContext::default() };
    let language_only = CodeContext { language: Some(lang.as_str()), ..CodeContext::default() };
    if source.len() > MAX_SOURCE_BYTES {
        return language_only;
    }
    on_big_stack(|| analyze_here(lang, source, line, column, Budget::new())).unwrap_or(language_only)
}

/// Runs `work` on a thread with an [`ANALYSIS_STACK_BYTES`] stack and waits for it; `None` when the
/// thread could not start or `work` panicked.
fn on_big_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("code4me-context".to_owned())
            .stack_size(ANALYSIS_STACK_BYTES)
            .spawn_scoped(scope, work)
            .ok()
            .and_then(|thread| thread.join().ok())
    })
}

/// [`analyze`] on the calling thread, for a known language and a source within the size bound.
fn analyze_here(lang: Language, source: &str, line: usize, column: usize, mut budget: Budget) -> CodeContext {
    let mut ctx = CodeContext { language: Some(lang.as_str()), ..CodeContext::default() };
    let spec = lang::spec(lang);
    let Some(full) = parse(lang, source, None, &budget) else { return ctx };
    let caret = byte_offset(source, line, column);
    // A caret inside a string or comment is not in code: analyse from where that literal starts.
    let cut = literal_start(full.root_node(), caret).unwrap_or(caret);
    let line_start = source[..cut].rfind('\n').map_or(0, |i| i + 1);
    // Python: the caret line's indentation decides which definitions the caret is still inside.
    let caret_indent = source[line_start..cut].bytes().take_while(|b| *b == b' ' || *b == b'\t').count();

    // The code before the caret with its open brackets closed; failing a clean path to the caret, the
    // same without the last line of code (the unfinished statement), then without the one before it.
    let mut candidates = vec![cut];
    let mut end = cut;
    for _ in 0..2 {
        let code = source[..end].trim_end();
        if code.is_empty() {
            break;
        }
        end = code.rfind('\n').map_or(0, |i| i + 1);
        candidates.push(end);
    }
    let mut best: Option<(Repaired, (bool, usize))> = None;
    for end in candidates {
        let text = format!("{}\n{}", &source[..end], closers(full.root_node(), end, &mut budget));
        // Reparsed incrementally: the full tree, edited to end at `end`, lends its untouched subtrees.
        let mut old = full.clone();
        old.edit(&InputEdit {
            start_byte: end,
            old_end_byte: source.len(),
            new_end_byte: text.len(),
            start_position: point_at(source, end),
            old_end_position: point_at(source, source.len()),
            new_end_position: point_at(&text, text.len()),
        });
        let Some(tree) = parse(lang, &text, Some(&old), &budget) else { break };
        let repaired = Repaired { text, tree, cut: end };
        let score = repaired.score(lang, spec, caret_indent);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((repaired, score));
        }
        if score.0 {
            break;
        }
    }

    ctx.imports = imports(lang, spec, full.root_node(), source, &mut budget);
    let Some((repaired, _)) = best else { return ctx };
    let chain = repaired.chain(lang, caret_indent);
    let text = repaired.text.as_str();
    let function = chain.iter().rev().copied().find(|n| lang::is_named_function(lang, spec, *n));
    ctx.enclosing_function = function.map(|f| lang::signature(lang, f, text));
    ctx.enclosing_class = match (lang, function) {
        (Language::Go, Some(method)) if method.kind() == "method_declaration" => lang::go_receiver_type(method, text),
        _ => chain.iter().rev().filter(|n| spec.classes.contains(&n.kind())).find_map(|n| lang::class_name(lang, *n, text)),
    };
    let scope = function.unwrap_or_else(|| repaired.tree.root_node());
    ctx.variables_in_scope = names_in_scope(lang, spec, scope, &chain, repaired.cut, text, &mut budget);
    ctx
}

/// One parse of the code before the caret, its open brackets closed after it.
struct Repaired {
    /// The parsed text: the source up to `cut`, a newline, the closing brackets.
    text: String,
    /// Its tree.
    tree: Tree,
    /// Where the source was cut: the caret's stand-in in this text.
    cut: usize,
}

impl Repaired {
    /// The nodes around the caret from the root inwards: the path to the last character of code
    /// before the caret, kept while each node still encloses the caret. A node encloses it when it
    /// ends after it (a bracket closed after the caret is still open at it) or, in Python, when the
    /// caret's line is indented deeper than the node's start or continues the node's last line.
    fn chain(&self, lang: Language, caret_indent: usize) -> Vec<Node<'_>> {
        let root = self.tree.root_node();
        let mut chain = vec![root];
        let Some(anchor) = self.text[..self.cut].trim_end().len().checked_sub(1) else { return chain };
        let caret_row = self.text[..self.cut].bytes().filter(|b| *b == b'\n').count();
        let mut cursor = root.walk();
        while cursor.goto_first_child_for_byte(anchor).is_some() {
            let node = cursor.node();
            if node.start_byte() > anchor {
                break;
            }
            let encloses = node.end_byte() > self.cut
                || (lang == Language::Python && (node.end_position().row == caret_row || caret_indent > node.start_position().column));
            if !encloses {
                break;
            }
            chain.push(node);
        }
        chain
    }

    /// How well this parse shows where the caret is: first whether the caret's path is free of `ERROR`
    /// nodes, then how many function and class scopes it passes through.
    fn score(&self, lang: Language, spec: &Spec, caret_indent: usize) -> (bool, usize) {
        let chain = self.chain(lang, caret_indent);
        let clean = !chain.iter().any(|n| n.is_error());
        let scopes = chain.iter().filter(|n| lang::is_function_like(spec, **n) || spec.classes.contains(&n.kind())).count();
        (clean, scopes)
    }
}

/// Parses `text` within the time the budget has left; `None` when it ran out (or the grammar could not
/// be loaded, which the tests rule out for every supported language).
fn parse(lang: Language, text: &str, old: Option<&Tree>, budget: &Budget) -> Option<Tree> {
    let (deadline, stop_at_byte) = (budget.deadline, budget.stop_at_byte);
    let mut parser = Parser::new();
    parser.set_language(&lang::grammar(lang)).ok()?;
    let bytes = text.as_bytes();
    // tree-sitter calls this every so many parse steps; `true` cancels the parse.
    let mut out_of_time = |state: &ParseState| Instant::now() >= deadline || state.current_byte_offset() >= stop_at_byte;
    let options = ParseOptions::new().progress_callback(&mut out_of_time);
    let mut read = |offset: usize, _| bytes.get(offset..).unwrap_or_default();
    parser.parse_with_options(&mut read, old, Some(options))
}

/// The row and byte column of a byte offset, as tree-sitter counts them.
fn point_at(text: &str, offset: usize) -> Point {
    let before = &text[..offset];
    let row = before.bytes().filter(|b| *b == b'\n').count();
    Point { row, column: offset - before.rfind('\n').map_or(0, |i| i + 1) }
}

/// The byte offset of a 0-based line and character column, each clamped into the source.
fn byte_offset(source: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 0..line {
        match source[start..].find('\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    let rest = &source[start..];
    let text = rest.find('\n').map_or(rest, |i| &rest[..i]);
    let text = text.strip_suffix('\r').unwrap_or(text);
    start + text.char_indices().nth(column).map_or(text.len(), |(i, _)| i)
}

/// The start of the outermost string, comment or character literal that strictly contains `caret`.
fn literal_start(root: Node, caret: usize) -> Option<usize> {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.start_byte() < caret && caret < node.end_byte() && lang::is_literal_or_comment(node.kind()) {
            return Some(node.start_byte());
        }
        if cursor.goto_first_child_for_byte(caret).is_none() || cursor.node().start_byte() >= caret {
            return None;
        }
    }
}

/// The closing brackets for the brackets the tokens before `cut` leave open, innermost first. Read
/// from the tree's tokens, so brackets in strings and comments do not count and tokens that error
/// recovery inserted (zero-width "missing" nodes) close nothing.
fn closers(root: Node, cut: usize, budget: &mut Budget) -> String {
    let mut open: Vec<char> = Vec::new();
    walk(root, |node, _| {
        if budget.spent() {
            return Flow::Stop;
        }
        if node.start_byte() >= cut || lang::is_literal_or_comment(node.kind()) {
            return Flow::Skip;
        }
        if node.child_count() > 0 {
            // A subtree without errors that ends before the cut closes every bracket it opens.
            let balanced = node.end_byte() <= cut && !node.has_error();
            return if balanced { Flow::Skip } else { Flow::Descend };
        }
        if !node.is_missing() && node.end_byte() <= cut {
            match node.kind() {
                "(" => open.push(')'),
                "[" => open.push(']'),
                "{" | "${" => open.push('}'),
                ")" | "]" | "}" => {
                    let close = node.kind().chars().next().unwrap_or(')');
                    if let Some(at) = open.iter().rposition(|c| *c == close) {
                        open.truncate(at);
                    }
                }
                _ => {}
            }
        }
        Flow::Skip
    });
    open.iter().rev().take(MAX_CLOSERS).collect()
}

/// Each import statement of the file on one line, in source order, at most [`MAX_IMPORTS`].
fn imports(lang: Language, spec: &Spec, root: Node, src: &str, budget: &mut Budget) -> Vec<String> {
    let mut found = Vec::new();
    walk(root, |node, depth| {
        if found.len() >= MAX_IMPORTS || budget.spent() {
            return Flow::Stop;
        }
        if !spec.imports.contains(&node.kind()) {
            return if depth < MAX_IMPORT_DEPTH { Flow::Descend } else { Flow::Skip };
        }
        if lang == Language::Go {
            // One entry per imported package of a grouped `import ( … )`.
            walk(node, |n, _| {
                if n.kind() != "import_spec" {
                    return Flow::Descend;
                }
                found.push(format!("import {}", lang::leaf_text(n, n.start_byte(), n.end_byte(), src)));
                Flow::Skip
            });
        } else {
            found.push(lang::leaf_text(node, node.start_byte(), node.end_byte(), src));
        }
        Flow::Skip
    });
    found.retain(|s| !s.is_empty());
    found.truncate(MAX_IMPORTS);
    found.into_iter().map(|s| elide_chars(&s, MAX_IMPORT_CHARS)).collect()
}

/// The names bound before the caret in `scope` (the enclosing function, or the whole file): the
/// parameters of `scope` and of closures around the caret, then the locals in source order. Functions
/// and classes the caret is not in are skipped, and so are block scopes that close before the caret.
fn names_in_scope(lang: Language, spec: &Spec, scope: Node, chain: &[Node], cut: usize, src: &str, budget: &mut Budget) -> Vec<String> {
    let around: HashSet<usize> = chain.iter().map(|n| n.id()).collect();
    let mut names: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut found = Vec::new();
    walk(scope, |node, depth| {
        if names.len() >= MAX_VARIABLES || budget.spent() {
            return Flow::Stop;
        }
        let function_like = lang::is_function_like(spec, node);
        let enter = node.start_byte() < cut
            && (depth == 0
                || if function_like || spec.classes.contains(&node.kind()) {
                    around.contains(&node.id())
                } else {
                    !(spec.block_scopes.contains(&node.kind()) && node.end_byte() <= cut && !around.contains(&node.id()))
                });
        if !enter {
            return Flow::Skip;
        }
        if function_like {
            lang::parameters(lang, node, src, &mut found);
        } else {
            lang::bindings(lang, node, cut, src, &mut found);
        }
        for name in found.drain(..) {
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
        Flow::Descend
    });
    names.truncate(MAX_VARIABLES);
    names
}

/// `text` with every run of whitespace turned into one space, trimmed: one line.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to at most `max` characters, the cut marked with `…`.
pub(crate) fn elide_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_parse_cancelled_deep_in_nested_brackets_does_not_overflow_the_callers_stack() {
        // tree-sitter frees the forked parse stack of a cancelled parse recursively, one C frame per
        // level: cancelled 200,000 bytes into `[{(`, that overflowed the 2 MiB this test thread has.
        // The analysis runs on its own big-stack thread, so this passes; on the caller's thread it
        // aborts the test binary. The byte-offset stop makes the depth the same on any machine.
        let source = "[{(".repeat(100_000);
        let budget = Budget { stop_at_byte: 200_000, deadline: Instant::now() + Duration::from_secs(120), ..Budget::new() };
        let ctx = on_big_stack(|| analyze_here(Language::Java, &source, 0, 0, budget)).expect("the analysis thread runs");
        assert_eq!(ctx, CodeContext { language: Some("java"), ..CodeContext::default() }, "a cancelled parse knows nothing");
    }

    #[test]
    fn byte_offsets_clamp() {
        let src = "ab\r\nçd\n\nlast";
        assert_eq!(byte_offset(src, 0, 0), 0);
        assert_eq!(byte_offset(src, 0, 2), 2);
        assert_eq!(byte_offset(src, 0, 99), 2, "past the line end, before its \\r");
        assert_eq!(byte_offset(src, 1, 1), 6, "columns count characters: ç is two bytes");
        assert_eq!(byte_offset(src, 1, 99), 7);
        assert_eq!(byte_offset(src, 2, 5), 8);
        assert_eq!(byte_offset(src, 3, 2), 11);
        assert_eq!(byte_offset(src, 99, 0), 9, "past the last line: its start, then the column");
        assert_eq!(byte_offset(src, usize::MAX, usize::MAX), src.len());
        assert_eq!(byte_offset("", 5, 5), 0);
    }

    #[test]
    fn whitespace_and_elision() {
        assert_eq!(collapse_whitespace("  def f(a,\n\t b):  "), "def f(a, b):");
        assert_eq!(elide_chars("héllo", 3), "hél…");
        assert_eq!(elide_chars("héllo", 5), "héllo");
    }

    fn closers_of(lang: Language, src: &str) -> String {
        let tree = parse(lang, src, None, &Budget::new()).expect("parses");
        closers(tree.root_node(), src.len(), &mut Budget::new())
    }

    #[test]
    fn closers_ignore_strings_comments_and_closed_brackets() {
        assert_eq!(closers_of(Language::JavaScript, "function f(a) { if (x) { g(\"(\", [1, 2]"), ")}}");
        assert_eq!(closers_of(Language::JavaScript, "class A { m() { // {{{ (\n  const s = `${a}`;"), "}}");
        assert_eq!(closers_of(Language::Python, "def f(x):\n    return foo(x, [1, {'a': '('"), "}])");
        assert_eq!(closers_of(Language::Rust, "fn f<'a>(x: &'a str) { let c = '{'; m!(x"), ")}");
        assert_eq!(closers_of(Language::Go, "func f() {\n\tx := []int{1, 2}\n"), "}");
    }
}
