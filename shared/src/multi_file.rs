//! The multi-file context: the lines of a project's other open files, kept up to date from the
//! plugin's change records (`POST /api/completion/multi-file-context/update` and its WebSocket twin)
//! and pasted into completion prompts. The update algorithm is upstream's, including its quirks, so
//! a plugin that replays the same changes sees the same context.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// Applies `updates` (file → its changes) to a project's context and appends the raw change records
/// to its change log, as upstream's `update_multi_file_context_in_session`:
/// - each file's changes run from the highest `start_line` down (a stable sort, so changes at the
///   same line keep their order), so an edit never shifts the lines of one still to come;
/// - a file not yet in the context starts as `max(end_line of its non-insert changes)` empty lines;
/// - ranges are clamped to the file as Python slices are, so no change can fail;
/// - a file left without lines is dropped from the context.
pub fn apply_updates(
    contexts: &mut BTreeMap<String, Vec<String>>,
    change_log: &mut BTreeMap<String, Vec<serde_json::Value>>,
    updates: &BTreeMap<String, Vec<FileContextChange>>,
) {
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
        if !lines.is_empty() {
            contexts.insert(file.clone(), lines);
        }
        let log = change_log.entry(file.clone()).or_default();
        log.extend(changes.iter().map(|c| serde_json::to_value(c).expect("a change record serialises")));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(value: serde_json::Value) -> BTreeMap<String, Vec<FileContextChange>> {
        serde_json::from_value(value).expect("change records")
    }

    #[test]
    fn upstreams_worked_example() {
        let mut contexts = BTreeMap::from([("old.py".to_owned(), vec!["old line".to_owned()])]);
        let mut log = BTreeMap::new();
        let updates = changes(json!({"file1.py": [
            {"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["import numpy as np", "np.array([1,2,3])"]},
            {"change_type": "update", "start_line": 0, "end_line": 1, "new_lines": ["import numpy as npp"]}
        ]}));
        apply_updates(&mut contexts, &mut log, &updates);
        assert_eq!(
            serde_json::to_value(&contexts).expect("json"),
            json!({"old.py": ["old line"], "file1.py": ["import numpy as npp", "np.array([1,2,3])", ""]})
        );
        assert_eq!(log["file1.py"].len(), 2, "the raw changes are kept");
        assert_eq!(log["file1.py"][0]["change_type"], "insert");
    }

    #[test]
    fn later_lines_change_first_so_earlier_edits_do_not_shift_them() {
        let mut contexts = BTreeMap::from([("a.py".to_owned(), ["l0", "l1", "l2", "l3"].map(String::from).to_vec())]);
        let updates = changes(json!({"a.py": [
            {"change_type": "remove", "start_line": 0, "end_line": 1, "new_lines": []},
            {"change_type": "update", "start_line": 2, "end_line": 3, "new_lines": ["L2", "L2b"]}
        ]}));
        apply_updates(&mut contexts, &mut BTreeMap::new(), &updates);
        assert_eq!(contexts["a.py"], ["l1", "L2", "L2b", "l3"]);
    }

    #[test]
    fn ranges_past_the_end_are_clamped_and_emptied_files_dropped() {
        let mut contexts = BTreeMap::from([
            ("a.py".to_owned(), vec!["only".to_owned()]),
            ("c.py".to_owned(), vec!["c0".to_owned()]),
        ]);
        let updates = changes(json!({
            "a.py": [{"change_type": "remove", "start_line": 0, "end_line": 99}],
            "b.py": [{"change_type": "insert", "start_line": 7, "end_line": 0, "new_lines": ["x"]}],
            "c.py": [{"change_type": "update", "start_line": 50, "end_line": 40, "new_lines": ["y"]}]
        }));
        apply_updates(&mut contexts, &mut BTreeMap::new(), &updates);
        assert!(!contexts.contains_key("a.py"), "a file without lines leaves the context");
        assert_eq!(contexts["b.py"], ["x"], "an insert into a new, empty file lands at its start");
        assert_eq!(contexts["c.py"], ["c0", "y"], "a range past the end appends, as a Python slice does");
    }

    #[test]
    fn a_new_file_is_as_long_as_its_furthest_update() {
        let mut contexts = BTreeMap::new();
        let updates = changes(json!({"n.py": [{"change_type": "update", "start_line": 2, "end_line": 3, "new_lines": ["third"]}]}));
        apply_updates(&mut contexts, &mut BTreeMap::new(), &updates);
        assert_eq!(contexts["n.py"], ["", "", "third"]);
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
}
