//! Bodies of the editor's project-membership endpoints (`/api/editor/projects/{project_id}/members`):
//! who may join a project's collaboration rooms.

use chrono::{DateTime, Utc};
use code4me_shared::domain::Email;
use code4me_shared::validation::{Fields, Issue};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/editor/projects/{project_id}/members`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddMemberRequest {
    /// The account to add, by its e-mail address (trimmed, lower-cased).
    pub email: Email,
}

impl AddMemberRequest {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let email = f.required("email", Email::parse);
        match (email, f.finish()) {
            (Some(email), Ok(())) => Ok(Self { email }),
            (_, Err(issues)) => Err(issues),
            // `required` records an issue whenever it yields nothing.
            (None, Ok(())) => Err(Vec::new()),
        }
    }
}

/// One member of a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectMember {
    /// The member's account.
    pub user_id: Uuid,
    /// Their display name.
    pub name: String,
    /// Their e-mail address.
    pub email: String,
    /// When they joined the project.
    pub joined_at: DateTime<Utc>,
    /// Whether they created it (the one member who may add others).
    pub is_owner: bool,
}

/// `GET /api/editor/projects/{project_id}/members`: the members, owner first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectMembers {
    /// The members.
    pub members: Vec<ProjectMember>,
}

/// One of the caller's projects, for the editor's project picker.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditorProject {
    /// The project.
    pub project_id: Uuid,
    /// Its name.
    pub project_name: String,
    /// Whether the caller created it (and so may add members).
    pub is_owner: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/editor/projects`: the projects the caller is a member of, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditorProjects {
    /// The projects.
    pub projects: Vec<EditorProject>,
}
