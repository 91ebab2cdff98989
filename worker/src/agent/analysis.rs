//! The `analysis` stage: what the model is shown of a checkout. The tree (paths and sizes,
//! `.git` and binary files left out), the language mix by extension, the key files (manifests,
//! README), the contents of the files most likely to matter — those the prompt names first, then
//! key files, then files sharing words with the prompt — within a character budget, and for other
//! source files an outline from the tree-sitter analysis the suggestion API uses
//! (`code4me-context`: the file's imports and its top-level names). Code is redacted before it
//! reaches a prompt (invariant: secrets never leave the repository through us).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use code4me_shared::redaction::redact;
use serde_json::{Value, json};

/// Files a remote model sees listed at most.
pub const MAX_LISTED: usize = 300;
/// Files read at most (bigger trees are listed partly).
const MAX_FILES: usize = 5_000;
/// A file larger than this is never shown whole.
const MAX_SHOWN_FILE: u64 = 24 * 1024;
/// Source files outlined at most, and the largest one outlined.
const MAX_OUTLINED: usize = 40;
const MAX_OUTLINED_FILE: u64 = 256 * 1024;
/// The time outlining may take in all (each file's analysis is bounded too, at 500 ms).
const OUTLINE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// Imports and names one outline lists at most.
const OUTLINE_ITEMS: usize = 12;

/// File names whose presence says what a project is.
const KEY_FILES: &[&str] = &[
    "README.md",
    "README",
    "README.rst",
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.py",
    "requirements.txt",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "Makefile",
    "Dockerfile",
];

/// What the model is told about the repository.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Every listed file with its size, sorted.
    pub files: Vec<(String, u64)>,
    /// Files per language.
    pub languages: BTreeMap<&'static str, usize>,
    /// Key files present.
    pub key_files: Vec<String>,
    /// Files shown whole: path → redacted text.
    pub shown: Vec<(String, String)>,
    /// Other source files' outlines: path → one redacted line (imports, top-level names).
    pub outlines: Vec<(String, String)>,
    /// More files exist than were listed.
    pub truncated: bool,
}

impl Overview {
    /// The `analysis` event's details.
    pub fn details(&self) -> Value {
        json!({
            "files": self.files.len(),
            "languages": self.languages,
            "key_files": self.key_files,
            "shown": self.shown.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "outlined": self.outlines.len(),
            "truncated": self.truncated,
        })
    }

    /// The prompt's description of the repository: at most `listed` paths and `budget`
    /// characters of shown files (a small model's context is short).
    pub fn describe(&self, listed: usize, budget: usize) -> String {
        let mut text = String::from("Repository files:\n");
        for (path, size) in self.files.iter().take(listed) {
            text.push_str(&format!("- {path} ({size} bytes)\n"));
        }
        if self.files.len() > listed || self.truncated {
            text.push_str("- … (more files not listed)\n");
        }
        let mix: Vec<String> = self.languages.iter().map(|(l, n)| format!("{l}: {n}")).collect();
        text.push_str(&format!("Languages: {}\n", mix.join(", ")));
        let mut used = 0;
        if !self.outlines.is_empty() {
            text.push_str("Outlines of other source files:\n");
            for (path, outline) in &self.outlines {
                let line = format!("- {path}: {outline}\n");
                used += line.len();
                if used > budget / 4 {
                    break;
                }
                text.push_str(&line);
            }
        }
        for (path, content) in &self.shown {
            used += content.len();
            if used > budget {
                break;
            }
            text.push_str(&format!("\n=== FILE: {path}\n{content}"));
            if !content.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("=== END FILE\n");
        }
        text
    }
}

/// Reads the checkout at `repo` for `prompt`, showing at most `budget` characters of file text.
pub fn analyse(repo: &Path, prompt: &str, budget: usize) -> Overview {
    let (listed, truncated) = list_files(repo);
    let files: Vec<(String, u64)> = listed.iter().map(|f| (f.path.clone(), f.size)).collect();
    let mut languages = BTreeMap::new();
    for (path, _) in &files {
        if let Some(language) = language_of(path) {
            *languages.entry(language).or_insert(0) += 1;
        }
    }
    let key_files: Vec<String> = files.iter().map(|(p, _)| p).filter(|p| KEY_FILES.contains(&p.as_str())).cloned().collect();
    let shown = choose_shown(repo, prompt, &listed, &key_files, budget);
    let outlines = outline_others(repo, &listed, &shown);
    Overview { files, languages, key_files, shown, outlines, truncated }
}

/// A regular file of the checkout, as listed (its identity is checked again when it is read: the
/// sandbox account owns the tree and could swap a directory for a link in between).
struct Listed {
    path: String,
    size: u64,
    dev: u64,
    ino: u64,
}

fn list_files(repo: &Path) -> (Vec<Listed>, bool) {
    let mut files = Vec::new();
    let mut pending = vec![repo.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else { continue };
            let Ok(relative) = path.strip_prefix(repo) else { continue };
            let relative = relative.to_string_lossy().into_owned();
            if relative == ".git" {
                continue;
            }
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                if files.len() >= MAX_FILES {
                    return (sorted(files), true);
                }
                files.push(Listed { path: relative, size: meta.len(), dev: meta.dev(), ino: meta.ino() });
            }
        }
    }
    (sorted(files), false)
}

fn sorted(mut files: Vec<Listed>) -> Vec<Listed> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The file's bytes if it is still the file that was listed (no link followed at its end, the same
/// inode wherever the path now leads).
fn read_listed(repo: &Path, file: &Listed, cap: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(repo.join(&file.path))
        .ok()?;
    let meta = handle.metadata().ok()?;
    if !meta.is_file() || meta.dev() != file.dev || meta.ino() != file.ino {
        return None;
    }
    let mut bytes = Vec::new();
    handle.by_ref().take(cap + 1).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Files named in the prompt first, then key files, then by words shared with the prompt.
fn choose_shown(repo: &Path, prompt: &str, files: &[Listed], key_files: &[String], budget: usize) -> Vec<(String, String)> {
    let words: Vec<String> = prompt.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| w.len() >= 3).map(str::to_lowercase).collect();
    let mut ranked: Vec<(i64, &Listed)> = files
        .iter()
        .filter(|file| file.size <= MAX_SHOWN_FILE)
        .map(|file| {
            let path = &file.path;
            let lower = path.to_lowercase();
            let named = prompt.contains(path.as_str()) || prompt.contains(path.rsplit('/').next().unwrap_or(path));
            let shared = words.iter().filter(|w| lower.contains(w.as_str())).count() as i64;
            let score =
                if named { 1_000 } else { 0 } + if key_files.contains(path) { 100 } else { 0 } + shared * 10 - lower.matches('/').count() as i64;
            (score, file)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.path.cmp(&b.1.path)));
    let mut shown = Vec::new();
    let mut used = 0;
    for (_, file) in ranked {
        let path = &file.path;
        let Some(bytes) = read_listed(repo, file, MAX_SHOWN_FILE) else { continue };
        if bytes.contains(&0) {
            continue;
        }
        let text = redact(&String::from_utf8_lossy(&bytes)).into_owned();
        if used + text.len() > budget {
            continue;
        }
        used += text.len();
        shown.push((path.clone(), text));
    }
    shown
}

/// Outlines of the source files not shown whole: what each imports and defines at its top level.
fn outline_others(repo: &Path, files: &[Listed], shown: &[(String, String)]) -> Vec<(String, String)> {
    let mut outlines = Vec::new();
    let started = std::time::Instant::now();
    for file in files {
        if outlines.len() >= MAX_OUTLINED || started.elapsed() > OUTLINE_BUDGET {
            break;
        }
        let Some(language) = code4me_context::Language::from_path(&file.path) else { continue };
        if file.size > MAX_OUTLINED_FILE || shown.iter().any(|(path, _)| *path == file.path) {
            continue;
        }
        let Some(bytes) = read_listed(repo, file, MAX_OUTLINED_FILE) else { continue };
        let source = String::from_utf8_lossy(&bytes);
        // At the end of the file the names in scope are its top-level ones.
        let context = code4me_context::analyze(Some(language), &source, source.lines().count(), 0);
        let mut parts = Vec::new();
        if !context.imports.is_empty() {
            parts.push(format!("imports {}", context.imports.iter().take(OUTLINE_ITEMS).cloned().collect::<Vec<_>>().join("; ")));
        }
        if !context.variables_in_scope.is_empty() {
            parts.push(format!("defines {}", context.variables_in_scope.iter().take(OUTLINE_ITEMS).cloned().collect::<Vec<_>>().join(", ")));
        }
        if !parts.is_empty() {
            let line: String = redact(&parts.join(" | ")).chars().take(400).collect();
            outlines.push((file.path.clone(), line));
        }
    }
    outlines
}

/// The language of a file by its extension, for the mix.
fn language_of(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match extension.as_str() {
        "py" => "Python",
        "rs" => "Rust",
        "js" | "mjs" | "cjs" | "jsx" => "JavaScript",
        "ts" | "tsx" => "TypeScript",
        "java" => "Java",
        "go" => "Go",
        "c" | "h" => "C",
        "cc" | "cpp" | "hpp" | "cxx" => "C++",
        "rb" => "Ruby",
        "kt" | "kts" => "Kotlin",
        "md" | "rst" | "txt" => "Text",
        "toml" | "yaml" | "yml" | "json" => "Config",
        "sh" | "bash" => "Shell",
        "html" | "css" => "Web",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_file_is_shown_first_and_git_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/config"), "[core]").unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/util.py"), "def add(a, b):\n    return a + b\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "# Demo\n").unwrap();
        std::fs::write(dir.path().join("logo.bin"), [0u8, 1, 2]).unwrap();
        let overview = analyse(dir.path(), "Add a docstring to src/util.py", 10_000);
        assert_eq!(overview.files.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["README.md", "logo.bin", "src/util.py"]);
        assert_eq!(overview.shown[0].0, "src/util.py");
        assert!(overview.shown.iter().all(|(p, _)| p != "logo.bin"), "binary files are not shown");
        assert_eq!(overview.languages["Python"], 1);
        assert_eq!(overview.key_files, ["README.md"]);
        assert!(overview.describe(MAX_LISTED, 10_000).contains("=== FILE: src/util.py\ndef add"));
    }

    #[test]
    fn source_files_not_shown_whole_are_outlined() {
        let dir = tempfile::tempdir().unwrap();
        let data = "a".repeat(25_000);
        let big = format!("import os\nfrom json import dumps\n\ndef load(path):\n    return os.path.exists(path)\n\nLIMIT = 3\nDATA = \"{data}\"\n");
        std::fs::write(dir.path().join("big.py"), big).unwrap();
        std::fs::write(dir.path().join("small.py"), "def tiny():\n    pass\n").unwrap();
        let overview = analyse(dir.path(), "Fix tiny in small.py", 10_000);
        assert_eq!(overview.shown.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["small.py"], "big.py is over the shown size");
        let (path, outline) = &overview.outlines[0];
        assert_eq!(path, "big.py");
        assert!(outline.contains("import os") && outline.contains("from json import dumps"), "{outline}");
        assert!(outline.contains("defines LIMIT, DATA"), "{outline}");
        assert!(overview.describe(MAX_LISTED, 10_000).contains("- big.py: imports import os"));
    }
}
