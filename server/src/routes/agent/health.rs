//! `GET /api/agent/health` (admin): the log analyzer's report over the server's own log files
//! (`LOG_FILES`) — the same JSON `code4me-server logs analyze --json` prints, for the admin
//! dashboard.
//!
//! A server with no log file to read (its stderr goes to a terminal or a container runtime, not to
//! a file) still answers 200: the report lists each file with its error and has no score
//! (`health.status` `unknown`). A 503 would say the server is unwell, which it is not; the report
//! says what it could not see.

use axum::Json;
use axum::extract::State;
use code4me_shared::validation::Issue;
use serde_json::{Value, json};

use crate::contract::error::ApiError;
use crate::contract::log_report::LogReport;
use crate::http::auth::AdminCaller;
use crate::http::extract::QueryFields;
use crate::services::log_analysis::{self, source};
use crate::services::state::AppState;

/// The window the dashboard looks at unless it asks for another.
const DEFAULT_WINDOW: &str = "1h";

/// The health report of the last `since` (default `1h`) of the server's logs.
#[utoipa::path(get, path = "/api/agent/health", tag = "agent", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("since" = Option<String>, Query, description = "Window: a whole number and `s`, `m`, `h`, `d` or `w` (`30m`, `1h`, `2d`); default `1h`")),
    responses(
        (status = 200, description = "The report; without a readable log file `health.score` is null and `sources` say why", body = LogReport),
        (status = 401, description = "Not signed in (`{\"detail\"}`, as every admin endpoint)", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail),
        (status = 422, description = "`since` is not a window", body = crate::openapi::ValidationError)
    ))]
pub async fn health(State(state): State<AppState>, _admin: AdminCaller, QueryFields(query): QueryFields) -> Result<Json<LogReport>, ApiError> {
    // Through the contract's query reader: a repeated or odd `since` is our 422, never axum's text 400.
    let text = query.get("since").and_then(Value::as_str).unwrap_or(DEFAULT_WINDOW).to_owned();
    let window = log_analysis::parse_since(&text).map_err(|why| {
        let loc = vec![json!("query"), json!("since")];
        ApiError::Validation(vec![Issue::new("value_error", loc, format!("Value error, {why}"), Value::String(text.clone()), None)])
    })?;
    Ok(Json(source::server_report(state.settings.health.log_files.clone(), window).await?))
}
