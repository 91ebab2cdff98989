//! The contract's message strings (wire contract §2.3), byte for byte: every endpoint's outcome
//! and error texts, REST and WebSocket alike. Clients match on some of them, so they live in one
//! place and never change. (The 422 issue texts follow pydantic's wording and are built by the
//! parsers in [`crate::contract::requests`] and [`crate::contract::parse`].)

// Each constant is named after the outcome it reports; a doc line per constant would repeat the name.
#![allow(missing_docs)]

/// 401 for a missing, expired or revoked `auth_token`.
pub const INVALID_AUTH_TOKEN: &str =
    "Authentication token not found! You are not authenticated or your token has expired. Login before you can perform this action.";
/// 401 for a missing or expired session.
pub const INVALID_SESSION_TOKEN: &str =
    "Session not found! You are not authenticated or your session has expired. Login before you can perform this action.";
/// 401 for a project that is not active in the session.
pub const INVALID_PROJECT_TOKEN: &str = "Invalid or expired project token. Acquire a session token first.";

pub const USER_CREATED: &str = "User created successfully. Please check your email for verification.";
pub const USER_EXISTS: &str = "User already exists with this email!";
pub const INVALID_OAUTH_TOKEN: &str = "Invalid or expired token!";
pub const USER_CREATE_FAILED: &str = "Server failed to create a new user!";

pub const AUTHENTICATED_PASSWORD: &str = "User authenticated successfully via email and password.";
pub const AUTHENTICATED_OAUTH: &str = "User authenticated successfully via OAuth.";
pub const INVALID_CREDENTIALS: &str = "Invalid email or password!";
pub const CONFIG_NOT_FOUND: &str = "Config not found!";
pub const AUTHENTICATE_FAILED: &str = "Server failed to authenticate the user!";

pub const USER_RETRIEVED: &str = "User information retrieved successfully.";
pub const USER_NOT_FOUND: &str = "User not found";
pub const USER_GET_FAILED: &str = "Server failed to retrieve user information.";

pub const USER_UPDATED: &str = "User is updated successfully.";
pub const PREVIOUS_PASSWORD_WRONG: &str = "Previous password is not correct!";
pub const USER_UPDATE_FAILED: &str = "Server failed to update the user!";

pub const USER_DELETED: &str = "User is deleted successfully.";
pub const USER_DELETE_FAILED: &str = "Server failed to delete the user!";

pub const VERIFICATION_STATUS: &str = "Verification get returned successfully.";
pub const VERIFICATION_STATUS_FAILED: &str = "Server failed to retrieve verification status.";
pub const VERIFICATION_SENT: &str = "Verification email sent successfully. Please check your inbox.";
pub const VERIFICATION_SEND_FAILED: &str = "Server failed to resend verification email.";
pub const INVALID_VERIFICATION_TOKEN: &str = "Invalid or expired verification token.";
pub const VERIFY_FAILED: &str = "Server failed to verify the user.";

pub const RESET_MAIL_SENT: &str = "Password reset email sent successfully. Check you email for instructions.";
pub const RESET_FAILED: &str = "Server failed to reset the password.";

pub const SESSION_ACQUIRED: &str = "Session acquired successfully";
pub const SESSION_ACQUIRE_FAILED: &str = "Server failed to acquire a session.";
pub const SESSION_DEACTIVATED: &str = "Session deactivated successfully.";
pub const SESSION_DEACTIVATE_FAILED: &str = "Server failed to deactivate session.";

pub const PROJECT_CREATED: &str = "Project created successfully.";
pub const PROJECT_CREATE_FAILED: &str = "Server failed to create a project!";
pub const PROJECT_ACTIVATED: &str = "Project activated successfully.";
pub const PROJECT_GONE: &str = "Project not found. You may need to create or activate it again.";
pub const PROJECT_ACTIVATE_FAILED: &str = "Server failed to activate the project.";

pub const TOO_MANY_REQUESTS: &str = "Too many requests. Please try again later.";

pub const COMPLETIONS_GENERATED: &str = "Completions generated successfully. Ready for display in your IDE.";
pub const COMPLETIONS_FAILED: &str = "Server failed to generate completions.";
pub const COMPLETION_ITEM_FAILED: &str = "Completion for model failed";
pub const COMPLETIONS_RETRIEVED: &str = "Completions retrieved successfully.";
pub const COMPLETIONS_RETRIEVE_FAILED: &str = "Server failed to retrieve completions.";
pub const QUERY_NOT_FOUND: &str = "Query not found";
pub const FEEDBACK_RECORDED: &str = "Feedback recorded successfully.";
pub const FEEDBACK_FAILED: &str = "Server failed to record feedback.";
pub const GENERATION_NOT_FOUND: &str = "Generation record not found";
pub const CONTEXT_UPDATED: &str = "Multi-file context updated successfully.";
pub const CONTEXT_UPDATE_FAILED: &str = "Server failed to update multi-file context.";
pub const CHAT_FAILED: &str = "Server failed to generate chat completions.";
pub const CHAT_GET_FAILED: &str = "Server failed to retrieve chat completions.";
pub const CHAT_DELETED: &str = "Chat deleted successfully";
pub const CHAT_DELETE_FAILED: &str = "Server failed to delete chat";

/// 401 `detail` of the research endpoints without a token.
pub const AUTHENTICATION_REQUIRED: &str = "Authentication required";
/// 401 `detail` of the research endpoints for a token that names no live user.
pub const AUTHENTICATION_FAILED: &str = "Authentication failed";
/// 403 `detail` of the admin-only endpoints.
pub const ADMIN_REQUIRED: &str = "Admin privileges required";

/// 404 `detail` of a path no route matches (FastAPI's).
pub const NOT_FOUND: &str = "Not Found";
/// 405 `detail` of a known path asked with another method (FastAPI's).
pub const METHOD_NOT_ALLOWED: &str = "Method Not Allowed";
/// 413 `detail` of a body over `MAX_REQUEST_BODY_BYTES`.
pub const PAYLOAD_TOO_LARGE: &str = "Request body too large";
/// 408 `detail` of a body sent too slowly.
pub const REQUEST_TIMEOUT: &str = "Request body not received in time";
/// 415 `detail` of a body not sent as JSON.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "Unsupported Media Type: send the body as application/json";
/// 503 `detail` while PostgreSQL or Redis is unreachable.
pub const UNAVAILABLE: &str = "Service temporarily unavailable; try again shortly.";
/// 500 `detail` of an unexpected failure without a contract message.
pub const INTERNAL_ERROR: &str = "Internal Server Error";
/// 403 `detail` of a WebSocket handshake from an origin that is not allowed.
pub const ORIGIN_NOT_ALLOWED: &str = "Origin not allowed";

/// A project's collaboration room refused to someone who is not one of its members.
pub const NOT_A_PROJECT_MEMBER: &str = "You are not a member of this project";

/// A member who did not create the project tried to add someone.
pub const ONLY_THE_OWNER_ADDS_MEMBERS: &str = "Only the project's owner can add members";

/// No account is registered with the e-mail address a project's owner tried to add.
pub const NO_ACCOUNT_WITH_THIS_EMAIL: &str = "No account has this e-mail address";

/// 409 `detail` when an editor file is created or renamed onto a name the project already has.
pub const FILE_ALREADY_EXISTS: &str = "A file with this name already exists";

/// 409 `detail` when a project already has `MAX_FILES_PER_PROJECT` (500) editor files.
pub const TOO_MANY_FILES: &str = "This project already has 500 files, the most it can have; delete one first";

/// 404 `detail` for an editor file (or its collaboration room) the project does not have.
pub const NO_SUCH_FILE: &str = "No such file in this project";

/// Close reason (code 4404) of a collaboration room's sockets when its file is renamed or deleted.
pub const FILE_RENAMED_OR_DELETED: &str = "The file was renamed or deleted";

/// WebSocket `{"error"}` for a frame that is not one request of the endpoint.
pub const INVALID_WEBSOCKET_REQUEST: &str = "Invalid websocket request";
/// WebSocket `{"error"}` for a binary frame.
pub const BINARY_FRAMES_UNSUPPORTED: &str = "Binary frames are not supported; send JSON text frames";
/// 404 `detail` of the Google sign-in endpoints when Google sign-in is not configured.
pub const GOOGLE_NOT_CONFIGURED: &str = "Google sign-in is not configured";
/// 404 `detail` of the GitHub sign-in endpoints when GitHub sign-in is not configured.
pub const GITHUB_NOT_CONFIGURED: &str = "GitHub sign-in is not configured";
/// 404 `detail` of the Microsoft sign-in endpoints when Microsoft sign-in is not configured.
pub const MICROSOFT_NOT_CONFIGURED: &str = "Microsoft sign-in is not configured";

/// 404 `detail` of the config endpoints (not [`CONFIG_NOT_FOUND`], the plugin contract's `message`).
pub const CONFIG_ROW_NOT_FOUND: &str = "Config not found";

/// 400 `detail` for a config document that does not pass validation.
pub fn invalid_config(reason: impl std::fmt::Display) -> String {
    format!("Invalid config: {reason}")
}

/// 409 `detail` for deleting a config users or studies still refer to.
pub fn config_in_use(config_id: i64, users: i64, studies: i64) -> String {
    format!("Config {config_id} is in use ({users} users, {studies} study references); move them to another config first")
}

/// 409 `detail` when a config was taken into use between the check and the delete.
pub fn config_taken_into_use(config_id: i64) -> String {
    format!("Config {config_id} is in use; move its users to another config first")
}

/// The title of a chat whose models wrote none.
pub const FALLBACK_CHAT_TITLE: &str = "Untitled Chat";

/// 404 `detail` of `POST /api/keys` for a project the caller is not a member of.
pub const PROJECT_NOT_FOUND: &str = "Project not found";
/// 404 `detail` of `DELETE /api/keys/{id}` for a key the caller does not own (or already revoked).
pub const API_KEY_NOT_FOUND: &str = "API key not found";
/// 500 `detail` when a key could not be stored.
pub const API_KEY_CREATE_FAILED: &str = "Server failed to create the API key";
/// `message` of a revoked key.
pub const API_KEY_REVOKED: &str = "API key revoked";
/// 401 `detail` for a key that is malformed, unknown, revoked or expired.
pub const INVALID_API_KEY: &str = "Invalid, revoked or expired API key";
/// 403 `detail` for a key presented to an endpoint keys do not open (account endpoints, the plugin's).
pub const API_KEY_NOT_ALLOWED: &str = "API keys cannot be used on this endpoint; sign in instead";
/// 404 `detail` of the admin tier endpoint for an unknown user.
pub const USER_ROW_NOT_FOUND: &str = "User not found";

/// 429 `detail` when a quota is spent.
pub fn quota_exceeded(tier: &str, window: &str, limit: u64, unit: &str, retry_after_seconds: u64) -> String {
    format!("Quota exceeded: the {tier} tier's {window} limit of {limit} {unit} is used up; try again in {retry_after_seconds} s")
}

/// 401 of the open APIs without a working key or auth token.
pub const OPEN_API_AUTHENTICATION_REQUIRED: &str =
    "Authentication required: send an API key as `Authorization: Bearer c4m_…` (create one at /api/keys), or sign in.";
