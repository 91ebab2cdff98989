//! The model's answer read as edits, strictly. Two forms are accepted, and nothing else:
//!
//! ```text
//! === FILE: src/lib.rs
//! <the file's complete new content>
//! === END FILE
//! ```
//!
//! (whole-file replacements, any number), or unified diffs in a ```` ```diff ```` fence (as
//! `git diff` writes them). Every path must be relative, inside the repository and outside `.git`;
//! diffs are checked again by `git apply --check` in the sandbox, which refuses what does not apply.

/// One change the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Replace (or create) a file with this content.
    WholeFile {
        /// Repository-relative path.
        path: String,
        /// The new content.
        content: String,
    },
    /// A unified diff for `git apply`.
    Diff {
        /// The patch text.
        patch: String,
        /// The paths it touches.
        paths: Vec<String>,
    },
}

/// Most edits one answer may carry.
const MAX_EDITS: usize = 20;

const FILE_OPEN: &str = "=== FILE:";
const FILE_CLOSE: &str = "=== END FILE";

/// Reads `answer`; an error says what was wrong for the `error` event.
pub fn parse(answer: &str) -> Result<Vec<Edit>, String> {
    let mut edits = whole_files(answer)?;
    if edits.is_empty() {
        edits = diffs(answer)?;
    }
    if edits.is_empty() {
        return Err("the model's answer holds no edits in the expected format (=== FILE: blocks or a ```diff block)".into());
    }
    if edits.len() > MAX_EDITS {
        return Err(format!("the model's answer holds {} edits; at most {MAX_EDITS} are applied", edits.len()));
    }
    Ok(edits)
}

fn whole_files(answer: &str) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut lines = answer.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.trim_start().strip_prefix(FILE_OPEN) else { continue };
        let path = checked_path(path.trim())?;
        let mut content = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line.trim_end() == FILE_CLOSE {
                closed = true;
                break;
            }
            content.push_str(line);
            content.push('\n');
        }
        if !closed {
            return Err(format!("the block for {path} has no `{FILE_CLOSE}` line (the answer was cut off?)"));
        }
        edits.push(Edit::WholeFile { path, content });
    }
    Ok(edits)
}

fn diffs(answer: &str) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut rest = answer;
    while let Some(start) = rest.find("```diff") {
        let body_start = start + rest[start..].find('\n').map_or(rest.len() - start, |n| n + 1);
        let body_end = rest[body_start..].find("\n```").map_or(rest.len(), |n| body_start + n + 1);
        let patch = &rest[body_start..body_end.min(rest.len())];
        let mut paths = Vec::new();
        for line in patch.lines() {
            let names: Vec<&str> = match line.strip_prefix("diff --git ") {
                Some(rest) => rest.split(' ').collect(),
                None => ["--- ", "+++ ", "rename from ", "rename to ", "copy from ", "copy to "]
                    .iter()
                    .filter_map(|marker| line.strip_prefix(marker))
                    .collect(),
            };
            for name in names {
                {
                    let name = name.split('\t').next().unwrap_or_default().trim();
                    if name == "/dev/null" {
                        continue;
                    }
                    let name = name.strip_prefix("a/").or_else(|| name.strip_prefix("b/")).unwrap_or(name);
                    let name = checked_path(name)?;
                    if !paths.contains(&name) {
                        paths.push(name);
                    }
                }
            }
        }
        if paths.is_empty() {
            return Err("a ```diff block names no file (---/+++ lines)".into());
        }
        let mut patch = patch.to_owned();
        if !patch.ends_with('\n') {
            patch.push('\n');
        }
        edits.push(Edit::Diff { patch, paths });
        rest = &rest[body_end.min(rest.len())..];
    }
    Ok(edits)
}

/// Paths (lower-cased prefixes) of CI configuration: what runs with the repository's secrets once
/// pushed.
const CI_PATHS: &[&str] = &[
    ".github/workflows/",
    ".github/actions/",
    ".gitlab-ci.yml",
    ".gitlab/",
    ".circleci/",
    ".travis.yml",
    "azure-pipelines.yml",
    "jenkinsfile",
    ".buildkite/",
    ".drone.yml",
    ".woodpecker",
];

/// Refuses edits to CI configuration (unless the operator allows them: `AGENT_ALLOW_CI_EDITS`).
pub fn refuse_ci(edits: &[Edit]) -> Result<(), String> {
    let paths = edits.iter().flat_map(|edit| match edit {
        Edit::WholeFile { path, .. } => std::slice::from_ref(path),
        Edit::Diff { paths, .. } => paths.as_slice(),
    });
    for path in paths {
        let lower = path.to_ascii_lowercase();
        if CI_PATHS.iter().any(|ci| lower.starts_with(ci)) {
            return Err(format!("refused path {path:?}: CI configuration is not edited (AGENT_ALLOW_CI_EDITS is off)"));
        }
    }
    Ok(())
}

/// A repository-relative path that stays inside the repository and out of `.git`.
pub fn checked_path(path: &str) -> Result<String, String> {
    let refuse = |why: &str| Err(format!("refused path {path:?}: {why}"));
    if path.is_empty() || path.len() > 400 {
        return refuse("empty or longer than 400 bytes");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return refuse("control characters or backslashes");
    }
    if path.starts_with('/') || path.starts_with('~') {
        return refuse("absolute");
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return refuse("empty, `.` or `..` components leave or blur the repository");
        }
        if part.eq_ignore_ascii_case(".git") {
            return refuse("nothing is written under .git");
        }
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_file_blocks_are_read_with_their_content() {
        let answer = "Sure.\n=== FILE: src/a.py\nprint('a')\n\n=== END FILE\n=== FILE: README.md\n# Hi\n=== END FILE\n";
        assert_eq!(
            parse(answer).unwrap(),
            vec![
                Edit::WholeFile { path: "src/a.py".into(), content: "print('a')\n\n".into() },
                Edit::WholeFile { path: "README.md".into(), content: "# Hi\n".into() }
            ]
        );
    }

    #[test]
    fn fenced_diffs_are_read_with_their_paths() {
        let answer = "```diff\n--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-old\n+new\n```\n";
        let edits = parse(answer).unwrap();
        assert_eq!(edits, vec![Edit::Diff { patch: "--- a/x.txt\n+++ b/x.txt\n@@ -1 +1 @@\n-old\n+new\n".into(), paths: vec!["x.txt".into()] }]);
    }

    #[test]
    fn escaping_paths_and_git_internals_are_refused() {
        for path in ["../x", "a/../../x", "/etc/passwd", ".git/config", "sub/.GIT/hooks/pre-commit", "a//b", "a\\..\\b", "~/x", "a\0b"] {
            let answer = format!("=== FILE: {path}\nx\n=== END FILE\n");
            assert!(parse(&answer).is_err(), "{path:?} must be refused");
        }
        let diff = "```diff\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n```";
        assert!(parse(diff).is_err());
        let rename = "```diff\ndiff --git a/x b/.git/config\nsimilarity index 100%\nrename from x\nrename to .git/config\n```";
        assert!(parse(rename).is_err(), "renames are checked too");
    }

    #[test]
    fn ci_configuration_is_refused() {
        let edits = parse("=== FILE: .github/workflows/ci.yml\non: push\n=== END FILE\n").unwrap();
        assert!(refuse_ci(&edits).is_err());
        let edits = parse("=== FILE: .GitLab-CI.yml\nx\n=== END FILE\n").unwrap();
        assert!(refuse_ci(&edits).is_err());
        assert!(refuse_ci(&parse("=== FILE: src/ci.rs\nx\n=== END FILE\n").unwrap()).is_ok());
    }

    #[test]
    fn garbage_and_cut_off_answers_are_errors() {
        assert!(parse("I think you should refactor the code.").is_err());
        assert!(parse("").is_err());
        assert!(parse("=== FILE: a.txt\nno end").is_err());
    }
}
