//! Bodies of the editor's file endpoints (`/api/editor/projects/{project_id}/files`): which files a
//! project has. A file's content is its collaboration room's document, never sent here.

use chrono::{DateTime, Utc};
use code4me_shared::domain::FileName;
use code4me_shared::validation::{Fields, Issue};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// `POST /api/editor/projects/{project_id}/files`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFileRequest {
    /// The new file's name.
    pub name: FileName,
}

impl CreateFileRequest {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let name = f.required("name", FileName::parse);
        finish(f, name.map(|name| Self { name }))
    }
}

/// `POST /api/editor/projects/{project_id}/files/rename`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameFileRequest {
    /// The file's current name.
    pub from: FileName,
    /// Its new name.
    pub to: FileName,
}

impl RenameFileRequest {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let from = f.required("from", FileName::parse);
        let to = f.required("to", FileName::parse);
        finish(f, from.zip(to).map(|(from, to)| Self { from, to }))
    }
}

/// `DELETE /api/editor/projects/{project_id}/files?name=NAME`, parsed from the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFileQuery {
    /// The file to delete.
    pub name: FileName,
}

impl DeleteFileQuery {
    /// Parses the query (every value a string, as `QueryFields` gives it).
    pub fn parse(query: &Value) -> Result<Self, Vec<Issue>> {
        file_in_query(query, "name").map(|name| Self { name })
    }
}

/// The file a query names in `field` (`?name=` to delete, the room's `?file=`): one rule and one
/// error shape for every place a file is named in a URL.
pub fn file_in_query(query: &Value, field: &str) -> Result<FileName, Vec<Issue>> {
    let mut f = Fields::at(query, vec![json!("query")]);
    let name = f.required(field, FileName::parse);
    finish(f, name)
}

fn finish<T>(fields: Fields<'_>, parsed: Option<T>) -> Result<T, Vec<Issue>> {
    match (parsed, fields.finish()) {
        (Some(parsed), Ok(())) => Ok(parsed),
        (_, Err(issues)) => Err(issues),
        // `required` records an issue whenever it yields nothing.
        (None, Ok(())) => Err(Vec::new()),
    }
}

/// One file of a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditorFile {
    /// Its name, a relative path such as `src/main.py` (its room is `?file=` this name).
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/editor/projects/{project_id}/files`: the project's files, sorted by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditorFiles {
    /// The files.
    pub files: Vec<EditorFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_files_by_the_one_rule() {
        assert_eq!(CreateFileRequest::parse(&json!({"name": "src/a.py"})).expect("valid").name.as_str(), "src/a.py");
        let renamed = RenameFileRequest::parse(&json!({"from": "a", "to": "b/c"})).expect("valid");
        assert_eq!((renamed.from.as_str(), renamed.to.as_str()), ("a", "b/c"));
        let issues = RenameFileRequest::parse(&json!({"from": "../x", "to": 7})).expect_err("invalid");
        let locs: Vec<String> = issues.iter().map(|issue| json!(issue.loc).to_string()).collect();
        assert_eq!(locs, [r#"["body","from"]"#, r#"["body","to"]"#]);
        assert_eq!(CreateFileRequest::parse(&json!([])).expect_err("not an object").len(), 1);
        let issues = DeleteFileQuery::parse(&json!({})).expect_err("missing");
        assert_eq!((issues[0].kind.as_str(), json!(issues[0].loc)), ("missing", json!(["query", "name"])));
    }
}
