//! Cutting a file into retrieval chunks.
//!
//! Boundaries are content-defined: a chunk ends before a top-level line (no indentation — a new
//! function, class or item in most languages) once it is big enough, before a line that follows a
//! blank line once it is large, and always before it would outgrow [`MAX_LINES`] or [`MAX_CHARS`].
//! Each decision depends only on the chunk's own lines, so an edit re-cuts the chunk it falls in and
//! at most the next few until a boundary lines up again: the other chunks keep their text, and with
//! it their stored embedding.

/// A chunk never holds more lines than this.
pub const MAX_LINES: usize = 40;
/// A chunk never holds more characters than this (a longer single line is cut).
pub const MAX_CHARS: usize = 1000;
/// A chunk this long ends at the next top-level line.
const MIN_LINES_BEFORE_TOP_LEVEL: usize = 4;
/// A chunk this long ends at the next line after a blank one.
const MIN_CHARS_BEFORE_PARAGRAPH: usize = 500;

/// Lines `start_line..end_line` of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First line (0-based).
    pub start_line: usize,
    /// One past the last line.
    pub end_line: usize,
    /// The lines joined by newlines, without trailing whitespace.
    pub text: String,
}

/// The chunks of a file, skipping those with nothing but whitespace.
pub fn chunk_lines(lines: &[String]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, line) in lines.iter().enumerate() {
        let size = i - start;
        let line_chars = line.chars().count().min(MAX_CHARS) + 1;
        let top_level = !line.trim().is_empty() && !line.starts_with([' ', '\t']) && !is_closing(line);
        let after_blank = i > 0 && lines[i - 1].trim().is_empty() && !line.trim().is_empty();
        let split = size > 0
            && (size >= MAX_LINES
                || chars + line_chars > MAX_CHARS
                || (top_level && size >= MIN_LINES_BEFORE_TOP_LEVEL)
                || (after_blank && chars >= MIN_CHARS_BEFORE_PARAGRAPH));
        if split {
            push(&mut chunks, lines, start, i);
            start = i;
            chars = 0;
        }
        chars += line_chars;
    }
    push(&mut chunks, lines, start, lines.len());
    chunks
}

/// A line that closes a block (`}`, `end`, `)` …) belongs with the lines above it.
fn is_closing(line: &str) -> bool {
    let trimmed = line.trim_end();
    trimmed.starts_with(['}', ')', ']']) || trimmed == "end" || trimmed.starts_with("end ")
}

fn push(chunks: &mut Vec<Chunk>, lines: &[String], start: usize, end: usize) {
    let body = &lines[start..end];
    if body.iter().all(|line| line.trim().is_empty()) {
        return;
    }
    // Trailing blank lines carry nothing for the embedding or the prompt.
    let text: String = body.join("\n").trim_end().chars().take(MAX_CHARS).collect();
    chunks.push(Chunk { start_line: start, end_line: end, text });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const PYTHON: &str = "import json\nimport os\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n\n\n\
def save(path, data):\n    with open(path, 'w') as f:\n        json.dump(data, f)\n    return path\n\n\n\
class Store:\n    def __init__(self, root):\n        self.root = root\n\n    def path(self, name):\n        return os.path.join(self.root, name)\n";

    #[test]
    fn top_level_definitions_start_chunks_and_cover_every_line() {
        let chunks = chunk_lines(&lines(PYTHON));
        let starts: Vec<&str> = chunks.iter().map(|c| c.text.lines().next().unwrap()).collect();
        assert_eq!(starts, ["import json", "def load(path):", "def save(path, data):", "class Store:"]);
        let total = lines(PYTHON).len();
        assert_eq!(chunks.last().unwrap().end_line, total);
        assert!(chunks.windows(2).all(|w| w[0].end_line == w[1].start_line));
    }

    #[test]
    fn an_edit_leaves_the_other_chunks_text_unchanged() {
        let before = chunk_lines(&lines(PYTHON));
        let edited = PYTHON.replace("        return json.load(f)", "        data = json.load(f)\n        return data");
        let after = chunk_lines(&lines(&edited));
        let texts = |chunks: &[Chunk]| chunks.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        let (before, after) = (texts(&before), texts(&after));
        assert_eq!(before.len(), after.len());
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 1, "only the edited function's chunk changes");
    }

    #[test]
    fn closing_braces_stay_with_their_block() {
        let rust = "fn a() {\n    let x = 1;\n    let y = 2;\n    x + y\n}\nfn b() {}\n";
        let chunks = chunk_lines(&lines(rust));
        assert_eq!(chunks[0].text, "fn a() {\n    let x = 1;\n    let y = 2;\n    x + y\n}");
        assert_eq!(chunks[1].text, "fn b() {}");
    }

    #[test]
    fn long_files_and_long_lines_are_bounded() {
        let body: Vec<String> = (0..200).map(|i| format!("    value_{i} = compute({i})")).collect();
        let chunks = chunk_lines(&body);
        assert!(chunks.iter().all(|c| c.end_line - c.start_line <= MAX_LINES && c.text.chars().count() <= MAX_CHARS));
        let minified = vec!["x".repeat(5000), "y".repeat(10)];
        let chunks = chunk_lines(&minified);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].text.len(), MAX_CHARS);
        assert!(chunk_lines(&["".into(), "   ".into()]).is_empty());
    }
}
