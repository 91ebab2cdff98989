//! The request bodies and query strings of the account endpoints (`/api/user/...`,
//! `/api/project/...`), read field by field so problems come back as pydantic's 422 lists.

use code4me_shared::domain::{Email, Password, ProjectName, UserName, parse_uuid};
use code4me_shared::validation::{Fields, Issue, Rejection};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::contract::error::ApiError;

/// A parsed sign-up request (`POST /api/user/create`). The plugin always sends `provider` and
/// `token` (`"no_provider"`, `""`); only `provider == "google"` with a non-empty token is a Google
/// sign-up.
pub struct SignUp {
    /// The address.
    pub email: Email,
    /// The display name.
    pub name: UserName,
    /// The password (also for Google sign-ups: the plugin always sends one).
    pub password: Password,
    /// The config the plugin will run with.
    pub config_id: i64,
    /// The Google ID token of a Google sign-up.
    pub google_token: Option<String>,
}

impl SignUp {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let email = f.required("email", Email::parse);
        let name = f.required("name", UserName::parse);
        let password = f.required("password", Password::parse);
        let config_id = f.required_integer("config_id", 0);
        let provider = f.optional("provider", |s| Ok(s.to_owned()));
        let token = f.optional("token", |s| Ok(s.to_owned()));
        match (email, name, password, config_id, provider, token, f.finish()) {
            (Some(email), Some(name), Some(password), Some(config_id), Some(provider), Some(token), Ok(())) => {
                let google_token = (provider.as_deref() == Some("google")).then_some(token).flatten().filter(|t| !t.is_empty());
                Ok(Self { email, name, password, config_id, google_token })
            }
            (.., Err(issues)) => Err(issues),
            _ => Err(Vec::new()),
        }
    }
}

/// How the caller of `POST /api/user/authenticate` proves who they are. Dispatch is on
/// `provider == "google"` with a non-empty token — the plugin always sends
/// `provider:"no_provider", token:""` with its e-mail and password (upstream mis-dispatches some of
/// these bodies).
pub enum Credentials {
    /// E-mail and password.
    Password {
        /// The address.
        email: Email,
        /// The password as typed.
        password: String,
    },
    /// A Google ID token.
    Google {
        /// The token.
        token: String,
    },
}

impl Credentials {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let provider = f.optional("provider", |s| Ok(s.to_owned())).flatten();
        let token = f.optional("token", |s| Ok(s.to_owned())).flatten().filter(|t| !t.is_empty());
        if let (Some("google"), Some(token)) = (provider.as_deref(), token) {
            f.finish()?;
            return Ok(Self::Google { token });
        }
        let email = f.required("email", Email::parse);
        let password = f.required("password", |s| if s.is_empty() { Err(Rejection::too_short(1)) } else { Ok(s.to_owned()) });
        match (email, password, f.finish()) {
            (Some(email), Some(password), Ok(())) => Ok(Self::Password { email, password }),
            (.., Err(issues)) => Err(issues),
            _ => Err(Vec::new()),
        }
    }
}

/// A parsed `PUT /api/user/update` (every field optional).
pub struct UserUpdate {
    /// New name.
    pub name: Option<UserName>,
    /// New address.
    pub email: Option<Email>,
    /// Checked when given together with `password`.
    pub previous_password: Option<String>,
    /// New password.
    pub password: Option<Password>,
    /// Preferences to merge over the defaults.
    pub preference: Option<Map<String, Value>>,
}

impl UserUpdate {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let name = f.optional("name", UserName::parse);
        let email = f.optional("email", Email::parse);
        let previous_password = f.optional("previous_password", |s| Ok(s.to_owned()));
        let password = f.optional("password", Password::parse);
        let preference = f.object("preference");
        // Accepted for compatibility, validated, and deliberately not applied (see README: a user must
        // not verify their own address or pick their own study arm).
        let _config_id = f.integer_at_least("config_id", 1, None);
        let _verified = f.boolean("verified");
        match (name, email, previous_password, password, preference, f.finish()) {
            (Some(name), Some(email), Some(previous_password), Some(password), Some(preference), Ok(())) => {
                Ok(Self { name, email, previous_password, password, preference })
            }
            (.., Err(issues)) => Err(issues),
            _ => Err(Vec::new()),
        }
    }
}

/// `?delete_data=` of `DELETE /api/user/delete` (default false).
pub fn parse_delete_data(query: &Value) -> Result<bool, ApiError> {
    let mut f = Fields::at(query, vec![json!("query")]);
    let delete_data = f.boolean("delete_data");
    f.finish()?;
    Ok(delete_data.flatten().unwrap_or(false))
}

/// `?email=` of `POST /api/user/reset-password/request`.
pub fn parse_reset_email(query: &Value) -> Result<Email, ApiError> {
    let mut f = Fields::at(query, vec![json!("query")]);
    let email = f.required("email", Email::parse);
    f.finish()?;
    email.ok_or(ApiError::Validation(Vec::new()))
}

/// `?token=` of the verification link (`GET /api/user/verify`): the raw text, checked later.
pub fn parse_verification_token(query: &Value) -> Result<Option<String>, ApiError> {
    let mut f = Fields::at(query, vec![json!("query")]);
    let token = f.required("token", |s| Ok(s.to_owned()));
    f.finish()?;
    Ok(token)
}

/// `{"project_name"}` of `POST /api/project/create`.
pub fn parse_project_name(body: &Value) -> Result<ProjectName, ApiError> {
    let mut f = Fields::body(body);
    let name = f.required("project_name", ProjectName::parse);
    f.finish()?;
    name.ok_or(ApiError::Validation(Vec::new()))
}

/// `{"project_id"}` of `PUT /api/project/activate`.
pub fn parse_project_id(body: &Value) -> Result<Uuid, ApiError> {
    let mut f = Fields::body(body);
    let project_id = f.required("project_id", parse_uuid);
    f.finish()?;
    project_id.ok_or(ApiError::Validation(Vec::new()))
}
