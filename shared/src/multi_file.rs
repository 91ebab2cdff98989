//! The multi-file context: the lines of a project's other open files, kept up to date from the
//! plugin's change records (`POST /api/completion/multi-file-context/update` and its WebSocket twin)
//! and pasted into completion prompts. The update algorithm is upstream's, including its quirks, so
//! a plugin that replays the same changes sees the same context. Which of those files a completion's
//! prompt gets is chosen here too ([`select_context_files`]), once, by the server: the `llm` job
//! carries the choice and the worker pastes it as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::redaction::redact_lines;
use crate::redis_keys::ProjectValue;

/// One edit of a file, as the plugin sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContextChange {
    /// What the edit does with the lines `start_line..end_line`.
    pub change_type: ChangeType,
    /// First line touched (0-based).
    pub start_line: u32,
    /// One past the last line touched.
    pub end_line: u32,
    /// The lines that replace (or are inserted at) the range.
    #[serde(default)]
    pub new_lines: Vec<String>,
}

/// The three edits the plugin reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    /// Replace `start_line..end_line` with `new_lines`.
    Update,
    /// Insert `new_lines` before `start_line` (`end_line` is ignored).
    Insert,
    /// Delete `start_line..end_line` (`new_lines` is ignored).
    Remove,
}

/// Most files a project's context may hold.
pub const MAX_CONTEXT_FILES: usize = 100;
/// Largest line number a change may name, and most lines one file of the context may have.
pub const MAX_FILE_LINES: u32 = 20_000;
/// Longest file name (bytes) the context keeps.
pub const MAX_FILE_NAME_BYTES: usize = 1024;
/// Most bytes of text (all lines of all files) a project's context may hold.
pub const MAX_CONTEXT_BYTES: usize = 2 * 1024 * 1024;
/// Most bytes of raw change records a project's change log keeps; the oldest go first.
pub const MAX_CHANGE_LOG_BYTES: usize = 2 * 1024 * 1024;

/// An update that would take a project's context past one of its bounds. Nothing of the update
/// is applied then (the caller keeps the context it had).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextLimit {
    /// A change names a line past [`MAX_FILE_LINES`].
    #[error("line {line} is past the last line a file may have ({MAX_FILE_LINES})")]
    LineOutOfRange {
        /// The file the change is for.
        file: String,
        /// The line it names.
        line: u32,
    },
    /// A file name is longer than [`MAX_FILE_NAME_BYTES`].
    #[error("the file name is {bytes} bytes long; at most {MAX_FILE_NAME_BYTES}")]
    NameTooLong {
        /// The file.
        file: String,
        /// Its length.
        bytes: usize,
    },
    /// The context would hold more than [`MAX_CONTEXT_FILES`] files.
    #[error("the context would hold {files} files; at most {MAX_CONTEXT_FILES} are kept")]
    TooManyFiles {
        /// How many it would hold.
        files: usize,
    },
    /// A file would have more than [`MAX_FILE_LINES`] lines.
    #[error("the file would have {lines} lines; at most {MAX_FILE_LINES} are kept")]
    FileTooLong {
        /// The file.
        file: String,
        /// Its line count after the update.
        lines: usize,
    },
    /// The context's text would exceed [`MAX_CONTEXT_BYTES`].
    #[error("the context would hold {bytes} bytes of text; at most {MAX_CONTEXT_BYTES} are kept")]
    TooLarge {
        /// Its size after the update.
        bytes: usize,
    },
}

impl ContextLimit {
    /// The file the problem is about, when it is about one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::LineOutOfRange { file, .. } | Self::FileTooLong { file, .. } | Self::NameTooLong { file, .. } => Some(file),
            Self::TooManyFiles { .. } | Self::TooLarge { .. } => None,
        }
    }
}

/// Applies `updates` (file → its changes) to a project's context and appends the raw change records
/// to its change log, as upstream's `update_multi_file_context_in_session`:
/// - each file's changes run from the highest `start_line` down (a stable sort, so changes at the
///   same line keep their order), so an edit never shifts the lines of one still to come;
/// - a file not yet in the context starts as `max(end_line of its non-insert changes)` empty lines;
/// - ranges are clamped to the file as Python slices are, so no change can fail;
/// - a file left without lines is dropped from the context.
///
/// Unlike upstream, every size is bounded, and checked before it is allocated: line numbers (a
/// change at line 4,000,000 of a new file would otherwise allocate four million lines), the number
/// of files, each file's length and the context's bytes. On `Err` the project may be half-updated:
/// the caller must drop it, not store it. The change log is trimmed oldest-first to
/// [`MAX_CHANGE_LOG_BYTES`], counting what it trims so change counts keep growing.
pub fn apply_updates(project: &mut ProjectValue, updates: &BTreeMap<String, Vec<FileContextChange>>) -> Result<(), ContextLimit> {
    check_before_applying(&project.multi_file_contexts, updates)?;
    let bytes_before = context_bytes(&project.multi_file_contexts);
    let contexts = &mut project.multi_file_contexts;
    for (file, changes) in updates {
        let mut lines = contexts.remove(file).unwrap_or_else(|| {
            let span = changes.iter().filter(|c| c.change_type != ChangeType::Insert).map(|c| c.end_line).max().unwrap_or(0);
            vec![String::new(); span as usize]
        });
        let mut ordered: Vec<&FileContextChange> = changes.iter().collect();
        ordered.sort_by_key(|c| std::cmp::Reverse(c.start_line));
        for change in ordered {
            apply(&mut lines, change);
        }
        if lines.len() > MAX_FILE_LINES as usize {
            return Err(ContextLimit::FileTooLong { file: file.clone(), lines: lines.len() });
        }
        if !lines.is_empty() {
            contexts.insert(file.clone(), lines);
        }
    }
    // Only growth is refused: a context stored before these bounds existed can still shrink.
    let bytes = context_bytes(contexts);
    if bytes > MAX_CONTEXT_BYTES && bytes > bytes_before {
        return Err(ContextLimit::TooLarge { bytes });
    }
    for (file, changes) in updates {
        let log = project.multi_file_context_changes.entry(file.clone()).or_default();
        log.extend(changes.iter().map(|c| serde_json::to_value(c).expect("a change record serialises")));
    }
    trim_change_log(project);
    Ok(())
}

/// Bytes of text in a context, a line break counted per line.
fn context_bytes(contexts: &BTreeMap<String, Vec<String>>) -> usize {
    contexts.values().flatten().map(|line| line.len() + 1).sum()
}

/// The checks that must pass before any line is allocated: line numbers and the file count.
fn check_before_applying(contexts: &BTreeMap<String, Vec<String>>, updates: &BTreeMap<String, Vec<FileContextChange>>) -> Result<(), ContextLimit> {
    for (file, changes) in updates {
        if file.len() > MAX_FILE_NAME_BYTES {
            return Err(ContextLimit::NameTooLong { file: file.clone(), bytes: file.len() });
        }
        if let Some(line) = changes.iter().flat_map(|c| [c.start_line, c.end_line]).find(|line| *line > MAX_FILE_LINES) {
            return Err(ContextLimit::LineOutOfRange { file: file.clone(), line });
        }
    }
    let new_files = updates.keys().filter(|file| !contexts.contains_key(*file)).count();
    let files = contexts.len() + new_files;
    if files > MAX_CONTEXT_FILES && new_files > 0 {
        return Err(ContextLimit::TooManyFiles { files });
    }
    Ok(())
}

/// Drops the oldest change records of the largest logs until the whole log fits
/// [`MAX_CHANGE_LOG_BYTES`]; a file whose log empties and that left the context is forgotten.
/// Each record is measured once and each log drained once, however many records go.
fn trim_change_log(project: &mut ProjectValue) {
    struct Log {
        file: String,
        sizes: Vec<usize>,
        dropped: usize,
        bytes: usize,
    }
    let mut logs: Vec<Log> = project
        .multi_file_context_changes
        .iter()
        .map(|(file, log)| {
            let sizes: Vec<usize> = log.iter().map(|record| record.to_string().len()).collect();
            Log { file: file.clone(), bytes: sizes.iter().sum(), sizes, dropped: 0 }
        })
        .collect();
    let mut total: usize = logs.iter().map(|log| log.bytes).sum();
    while total > MAX_CHANGE_LOG_BYTES {
        let Some(largest) = logs.iter_mut().filter(|log| log.dropped < log.sizes.len()).max_by_key(|log| log.bytes) else { break };
        let size = largest.sizes[largest.dropped];
        largest.dropped += 1;
        largest.bytes -= size;
        total -= size;
    }
    for Log { file, dropped, sizes, .. } in logs.into_iter().filter(|log| log.dropped > 0) {
        let Some(log) = project.multi_file_context_changes.get_mut(&file) else { continue };
        log.drain(..dropped);
        *project.multi_file_context_changes_trimmed.entry(file.clone()).or_default() += dropped;
        if dropped == sizes.len() && !project.multi_file_contexts.contains_key(&file) {
            project.multi_file_context_changes.remove(&file);
            project.multi_file_context_changes_trimmed.remove(&file);
        }
    }
}

fn apply(lines: &mut Vec<String>, change: &FileContextChange) {
    let start = (change.start_line as usize).min(lines.len());
    let end = (change.end_line as usize).clamp(start, lines.len());
    match change.change_type {
        ChangeType::Update => {
            lines.splice(start..end, change.new_lines.iter().cloned());
        }
        ChangeType::Insert => {
            lines.splice(start..start, change.new_lines.iter().cloned());
        }
        ChangeType::Remove => {
            lines.drain(start..end);
        }
    }
}

/// What a request names instead of files: every file of the context but the edited one.
pub const ALL_OTHER_FILES: &str = "*";

/// The project files a completion's prompt gets, and the version of each it used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSelection {
    /// File name → its lines, redacted: what the `llm` job carries into the prompt.
    pub files: BTreeMap<String, Vec<String>>,
    /// File name → its change count ([`ProjectValue::change_count`]): the query's
    /// `multi_file_context_changes_indexes`.
    pub changes_indexes: BTreeMap<String, usize>,
}

/// Upstream's selection rule, and the only place it runs: the files of the project's context that
/// `wanted` names, or every one but `current_file` when `wanted` holds [`ALL_OTHER_FILES`]. Names
/// the context does not hold are ignored.
pub fn select_context_files(project: &ProjectValue, wanted: &[String], current_file: &str) -> ContextSelection {
    let all_others = wanted.iter().any(|f| f == ALL_OTHER_FILES);
    let selected: Vec<&String> =
        project.multi_file_contexts.keys().filter(|name| if all_others { name.as_str() != current_file } else { wanted.contains(name) }).collect();
    ContextSelection {
        files: selected.iter().map(|name| ((*name).clone(), redact_lines(&project.multi_file_contexts[*name]))).collect(),
        changes_indexes: selected.iter().map(|name| ((*name).clone(), project.change_count(name))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(value: serde_json::Value) -> BTreeMap<String, Vec<FileContextChange>> {
        serde_json::from_value(value).expect("change records")
    }

    fn project(files: &[(&str, &[&str])]) -> ProjectValue {
        let contexts = files.iter().map(|(name, lines)| ((*name).to_owned(), lines.iter().map(|l| (*l).to_owned()).collect())).collect();
        ProjectValue { multi_file_contexts: contexts, ..ProjectValue::default() }
    }

    fn apply_ok(project: &mut ProjectValue, updates: serde_json::Value) {
        apply_updates(project, &changes(updates)).expect("within the bounds");
    }

    #[test]
    fn upstreams_worked_example() {
        let mut p = project(&[("old.py", &["old line"])]);
        apply_ok(
            &mut p,
            json!({"file1.py": [
                {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["import numpy as np", "np.array([1,2,3])"]},
                {"change_type": "update", "start_line": 0, "end_line": 1, "new_lines": ["import numpy as npp"]}
            ]}),
        );
        assert_eq!(
            serde_json::to_value(&p.multi_file_contexts).expect("json"),
            json!({"old.py": ["old line"], "file1.py": ["import numpy as npp", "np.array([1,2,3])", ""]})
        );
        let log = &p.multi_file_context_changes;
        assert_eq!(log["file1.py"].len(), 2, "the raw changes are kept");
        assert_eq!(log["file1.py"][0]["change_type"], "insert");
        assert_eq!(p.change_count("file1.py"), 2);
    }

    #[test]
    fn later_lines_change_first_so_earlier_edits_do_not_shift_them() {
        let mut p = project(&[("a.py", &["l0", "l1", "l2", "l3"])]);
        apply_ok(
            &mut p,
            json!({"a.py": [
                {"change_type": "remove", "start_line": 0, "end_line": 1, "new_lines": []},
                {"change_type": "update", "start_line": 2, "end_line": 3, "new_lines": ["L2", "L2b"]}
            ]}),
        );
        assert_eq!(p.multi_file_contexts["a.py"], ["l1", "L2", "L2b", "l3"]);
    }

    #[test]
    fn ranges_past_the_end_are_clamped_and_emptied_files_dropped() {
        let mut p = project(&[("a.py", &["only"]), ("c.py", &["c0"])]);
        apply_ok(
            &mut p,
            json!({
                "a.py": [{"change_type": "remove", "start_line": 0, "end_line": 99}],
                "b.py": [{"change_type": "insert", "start_line": 7, "end_line": 0, "new_lines": ["x"]}],
                "c.py": [{"change_type": "update", "start_line": 50, "end_line": 40, "new_lines": ["y"]}]
            }),
        );
        let contexts = &p.multi_file_contexts;
        assert!(!contexts.contains_key("a.py"), "a file without lines leaves the context");
        assert_eq!(contexts["b.py"], ["x"], "an insert into a new, empty file lands at its start");
        assert_eq!(contexts["c.py"], ["c0", "y"], "a range past the end appends, as a Python slice does");
    }

    #[test]
    fn a_new_file_is_as_long_as_its_furthest_update() {
        let mut p = ProjectValue::default();
        apply_ok(&mut p, json!({"n.py": [{"change_type": "update", "start_line": 2, "end_line": 3, "new_lines": ["third"]}]}));
        assert_eq!(p.multi_file_contexts["n.py"], ["", "", "third"]);
    }

    #[test]
    fn negative_lines_and_unknown_change_types_do_not_parse() {
        for bad in [
            json!({"f": [{"change_type": "update", "start_line": -1, "end_line": 0, "new_lines": []}]}),
            json!({"f": [{"change_type": "rename", "start_line": 0, "end_line": 0, "new_lines": []}]}),
        ] {
            assert!(serde_json::from_value::<BTreeMap<String, Vec<FileContextChange>>>(bad).is_err());
        }
    }

    #[test]
    fn a_line_past_the_bound_is_refused_before_anything_is_allocated() {
        for line in [MAX_FILE_LINES + 1, 4_000_000, u32::MAX] {
            let mut p = project(&[("a.py", &["kept"])]);
            let updates = changes(json!({"a.py": [{"change_type": "remove", "start_line": line, "end_line": line}]}));
            assert_eq!(apply_updates(&mut p, &updates), Err(ContextLimit::LineOutOfRange { file: "a.py".into(), line }));
            assert_eq!(p.multi_file_contexts["a.py"], ["kept"], "nothing applied");
        }
    }

    #[test]
    fn the_file_count_the_file_length_and_the_context_size_are_bounded() {
        let mut p = ProjectValue::default();
        let many: serde_json::Map<String, serde_json::Value> = (0..=MAX_CONTEXT_FILES)
            .map(|i| (format!("f{i}.py"), json!([{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x"]}])))
            .collect();
        assert_eq!(apply_updates(&mut p, &changes(json!(many))), Err(ContextLimit::TooManyFiles { files: MAX_CONTEXT_FILES + 1 }));

        let lines = vec![json!("x"); MAX_FILE_LINES as usize + 1];
        let err = apply_updates(
            &mut ProjectValue::default(),
            &changes(json!({"long.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": lines}]})),
        );
        assert!(matches!(err, Err(ContextLimit::FileTooLong { .. })), "{err:?}");

        let wide = "y".repeat(200_000);
        let mut p = ProjectValue::default();
        for i in 0..10 {
            apply_ok(&mut p, json!({format!("w{i}.py"): [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": [wide]}]}));
        }
        let err =
            apply_updates(&mut p, &changes(json!({"w10.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": [wide]}]})));
        assert!(matches!(err, Err(ContextLimit::TooLarge { .. })), "{err:?}");
    }

    #[test]
    fn the_change_log_keeps_its_newest_records_and_counts_the_trimmed_ones() {
        let mut p = ProjectValue::default();
        let line = "z".repeat(100_000);
        for _ in 0..40 {
            apply_ok(&mut p, json!({"a.py": [{"change_type": "update", "start_line": 0, "end_line": 1, "new_lines": [line]}]}));
        }
        let kept = p.multi_file_context_changes["a.py"].len();
        assert!(kept < 40 && kept > 0, "trimmed to the bound: {kept} kept");
        let bytes: usize = p.multi_file_context_changes.values().flatten().map(|r| r.to_string().len()).sum();
        assert!(bytes <= MAX_CHANGE_LOG_BYTES);
        assert_eq!(p.change_count("a.py"), 40, "the count goes on growing");
    }

    #[test]
    fn named_files_are_selected_and_star_means_all_but_the_current_one() {
        let mut project = project(&[("main.py", &["current"]), ("a.py", &["x = 1", "y = 2"]), ("b.py", &["z = 3"])]);
        project.multi_file_context_changes.insert("b.py".into(), vec![json!({}), json!({})]);
        let names = |selection: &ContextSelection| selection.files.keys().cloned().collect::<Vec<_>>();
        let wanted = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();

        let named = select_context_files(&project, &wanted(&["b.py", "gone.py"]), "main.py");
        assert_eq!(named.files, BTreeMap::from([("b.py".to_owned(), vec!["z = 3".to_owned()])]));
        assert_eq!(named.changes_indexes, BTreeMap::from([("b.py".to_owned(), 2)]), "the version the prompt used");
        assert_eq!(names(&select_context_files(&project, &wanted(&["*"]), "main.py")), ["a.py", "b.py"]);
        assert_eq!(select_context_files(&project, &[], "main.py"), ContextSelection::default());
    }

    #[test]
    fn selected_lines_are_redacted_once_more() {
        let project = project(&[("cfg.py", &["AWS_SECRET_ACCESS_KEY = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8Tn2Lp4v\""])]);
        let selection = select_context_files(&project, &["*".to_owned()], "main.py");
        assert!(!selection.files["cfg.py"][0].contains("wJalrXUtnFEMI"), "{:?}", selection.files);
    }
}
