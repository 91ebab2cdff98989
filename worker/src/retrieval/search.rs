//! Finding the chunks most related to the code before the caret.
//!
//! The query is the last complete lines of the prefix, not the line being typed: the chosen
//! snippets then change only when a line is finished, and the prompt they open stays the same
//! from keystroke to keystroke, which keeps the model's KV cache warm. Snippets are pasted in file
//! and line order for the same reason (a score that moves does not reorder the prompt).
//!
//! Because the query only changes when a line is finished, each project's last search is kept for
//! [`REUSE_FOR`] and answered again while the user types within a line: most keystrokes then cost
//! no embedding and no query. Indexing a project on this worker forgets its last search.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use code4me_shared::retrieval::{RetrievalOptions, Snippet};
use pgvector::Vector;
use uuid::Uuid;

use super::{RetrievalError, Retriever};

/// Most complete lines of the prefix the index is searched with.
const QUERY_LINES: usize = 8;

/// Candidates fetched per snippet wanted, before the score floor, per-file cap and budget apply.
const CANDIDATES_PER_SNIPPET: usize = 4;

/// How long a project's last search may be answered again.
pub const REUSE_FOR: Duration = Duration::from_secs(10);

/// The outcome of one search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retrieved {
    /// The text searched with.
    pub query: String,
    /// What goes into the prompt, in prompt order.
    pub snippets: Vec<Snippet>,
    /// Why nothing was found, when nothing was.
    pub note: Option<String>,
    /// Whether this is the project's previous search answered again.
    pub reused: bool,
}

/// What makes two searches the same.
#[derive(Debug, Clone, PartialEq)]
struct SearchKey {
    query: String,
    exclude: Vec<String>,
    options: RetrievalOptions,
}

/// Each project's last search, for [`REUSE_FOR`].
#[derive(Debug, Default)]
pub(super) struct LastSearches {
    by_project: Mutex<HashMap<Uuid, (SearchKey, Retrieved, Instant)>>,
}

impl LastSearches {
    fn get(&self, project_id: Uuid, key: &SearchKey) -> Option<Retrieved> {
        let searches = self.by_project.lock().expect("last searches lock");
        let (stored, found, at) = searches.get(&project_id)?;
        (stored == key && at.elapsed() < REUSE_FOR).then(|| Retrieved { reused: true, ..found.clone() })
    }

    fn put(&self, project_id: Uuid, key: SearchKey, found: &Retrieved) {
        let mut searches = self.by_project.lock().expect("last searches lock");
        searches.retain(|_, (_, _, at)| at.elapsed() < REUSE_FOR);
        searches.insert(project_id, (key, found.clone(), Instant::now()));
    }

    /// Forgets `project_id`'s last search (its index changed).
    pub(super) fn forget(&self, project_id: Uuid) {
        self.by_project.lock().expect("last searches lock").remove(&project_id);
    }
}

/// The search text for `prefix`: its last complete lines (the whole prefix when it has no line
/// break yet).
pub fn query_text(prefix: &str) -> &str {
    let complete = prefix.rfind('\n').map_or(prefix, |end| &prefix[..end]);
    let start = complete.rmatch_indices('\n').nth(QUERY_LINES - 1).map_or(0, |(i, _)| i + 1);
    &complete[start..]
}

impl Retriever {
    /// The snippets of `project_id`'s index to add to a prompt for `prefix`, leaving out the files
    /// in `exclude` (the edited file, and files the prompt already holds whole).
    pub async fn search(&self, project_id: Uuid, prefix: &str, exclude: &[String], options: &RetrievalOptions) -> Result<Retrieved, RetrievalError> {
        let query = query_text(prefix).to_owned();
        if query.trim().is_empty() {
            return Ok(Retrieved { query, note: Some("nothing before the caret to search with".into()), ..Retrieved::default() });
        }
        // Names as the index stores them (see `index`); a NUL in a bound text would fail the search.
        let exclude: Vec<String> = exclude.iter().map(|name| crate::pg_text::pg_string(name.clone())).collect();
        let exclude = exclude.as_slice();
        let key = SearchKey { query: query.clone(), exclude: exclude.to_vec(), options: *options };
        if let Some(found) = self.last_searches.get(project_id, &key) {
            return Ok(found);
        }
        let indexed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM retrieval_chunk WHERE project_id = $1 AND NOT (file_name = ANY($2)))")
            .bind(project_id)
            .bind(exclude)
            .fetch_one(&self.db)
            .await?;
        if !indexed {
            let note = "no other file of this project is indexed yet (the plugin's multi-file context updates fill the index)";
            return Ok(Retrieved { query, note: Some(note.into()), ..Retrieved::default() });
        }
        let vector = Vector::from(self.embed(vec![query.clone()]).await?.remove(0));
        let limit = i64::try_from(options.max_snippets.max(1) * CANDIDATES_PER_SNIPPET).unwrap_or(i64::MAX);
        let candidates: Vec<Snippet> = sqlx::query_as::<_, (String, i32, i32, String, f64)>(
            "SELECT file_name, start_line, end_line, content, 1 - (embedding <=> $1) AS score FROM retrieval_chunk \
             WHERE project_id = $2 AND NOT (file_name = ANY($3)) ORDER BY embedding <=> $1 LIMIT $4",
        )
        .bind(&vector)
        .bind(project_id)
        .bind(exclude)
        .bind(limit)
        .fetch_all(&self.db)
        .await?
        .into_iter()
        .map(|(file_name, start_line, end_line, content, score)| Snippet { file_name, start_line, end_line, score: score as f32, content })
        .collect();
        let best = candidates.first().map(|s| s.score);
        let snippets = select(candidates, options);
        let note = match (snippets.is_empty(), best) {
            (true, Some(best)) => Some(format!("no chunk fits the budget with a score of at least {} (best {best:.2})", options.min_score)),
            _ => None,
        };
        let found = Retrieved { query, snippets, note, reused: false };
        self.last_searches.put(project_id, key, &found);
        Ok(found)
    }
}

/// From candidates in descending score order: those at or above the score floor, at most
/// `max_per_file` per file and `max_snippets` in all, while they fit the character budget (a
/// snippet that does not fit is passed over for smaller ones); returned in file and line order.
pub fn select(candidates: Vec<Snippet>, options: &RetrievalOptions) -> Vec<Snippet> {
    let mut chosen: Vec<Snippet> = Vec::new();
    let mut used = 0;
    for candidate in candidates {
        if chosen.len() == options.max_snippets || candidate.score < options.min_score {
            break;
        }
        let size = candidate.content.chars().count();
        let from_file = chosen.iter().filter(|s| s.file_name == candidate.file_name).count();
        if used + size <= options.budget_chars && from_file < options.max_per_file {
            used += size;
            chosen.push(candidate);
        }
    }
    chosen.sort_by(|a, b| (&a.file_name, a.start_line).cmp(&(&b.file_name, b.start_line)));
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snippet(file: &str, line: i32, score: f32, size: usize) -> Snippet {
        Snippet { file_name: file.into(), start_line: line, end_line: line + 3, score, content: "x".repeat(size) }
    }

    #[test]
    fn the_query_is_the_last_complete_lines() {
        assert_eq!(query_text("import os\ndef f():\n    ret"), "import os\ndef f():");
        assert_eq!(query_text("partial"), "partial");
        let many: String = (0..20).map(|i| format!("line {i}\n")).collect();
        assert_eq!(query_text(&(many + "cur")), (12..20).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n"));
    }

    #[test]
    fn selection_honours_floor_per_file_cap_budget_and_count() {
        let options = RetrievalOptions { budget_chars: 300, max_snippets: 3, max_per_file: 1, min_score: 0.5 };
        let candidates = vec![
            snippet("b.py", 10, 0.9, 100),
            snippet("b.py", 40, 0.8, 100), // second from b.py: over the per-file cap
            snippet("a.py", 0, 0.7, 250),  // over the budget left (200)
            snippet("c.py", 5, 0.6, 150),
            snippet("d.py", 5, 0.4, 10), // under the floor
        ];
        let chosen = select(candidates, &options);
        let picked: Vec<(&str, i32)> = chosen.iter().map(|s| (s.file_name.as_str(), s.start_line)).collect();
        assert_eq!(picked, [("b.py", 10), ("c.py", 5)], "in file order");
        let two = RetrievalOptions { max_snippets: 1, ..options };
        assert_eq!(select(vec![snippet("a", 0, 0.9, 1), snippet("b", 0, 0.9, 1)], &two).len(), 1);
    }
}
