//! What every analytics endpoint reads from its query string — who may see which rows, the time
//! window, a model, a grouping, a bucket width — parsed into domain values, and the `filters` its
//! answer echoes. Bad parameters are FastAPI-style `400 {"detail": ...}` (upstream raises its 400s
//! inside a `try` and answers 500; here they stay 400s).

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::analytics::span::{self, Span};
use crate::analytics::{Window, time};
use crate::contract::error::ApiError;
use crate::db::analytics::{GroupBy, Scope};
use crate::http::auth::ResearchCaller;

/// The query string as name → value, so each endpoint words its own errors.
pub type Params = HashMap<String, String>;

/// `400 {"detail": message}`.
pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::Detail(StatusCode::BAD_REQUEST, message.into())
}

/// The parameters every windowed analytics endpoint takes, for the API docs.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read from the query string by name; this type only documents them
pub struct ScopeParams {
    /// ISO 8601 in any form Python's `datetime.fromisoformat` reads (`2026-01-31T12:00:00Z`,
    /// `2026-01-31T12:00`, `2026-01-31`, `+02:00` offsets...); no zone means UTC. Default: 30
    /// days before `end_time`.
    start_time: Option<String>,
    /// ISO 8601 as `start_time`; default now.
    end_time: Option<String>,
    /// Admins only: one user's rows (ignored for everyone else, who see only their own).
    user_id: Option<Uuid>,
}

/// `start_time` / `end_time` ([`parse_time`]), defaulting to the last 30 days.
pub fn window(params: &Params) -> Result<Window, ApiError> {
    let end = params.get("end_time").map(|raw| parse_time("end_time", raw)).transpose()?;
    let start = params.get("start_time").map(|raw| parse_time("start_time", raw)).transpose()?;
    Window::new(start, end).ok_or_else(|| bad_request("Invalid time range: start_time must not be after end_time"))
}

/// The time parameter `name`: any ISO 8601 form [`time::parse_instant`] reads, no zone meaning
/// UTC; otherwise a 400 naming the parameter and the reason.
pub fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    time::parse_instant(raw).map_err(|reason| {
        let shown = if raw.len() <= time::MAX_LEN { format!("{raw:?}") } else { "a longer text".to_owned() };
        bad_request(format!(
            "Invalid {name}: expected an ISO 8601 time such as 2026-01-31T12:00:00Z, 2026-01-31T12:00 or 2026-01-31 (no zone means UTC), got {shown} ({reason})"
        ))
    })
}

/// Whose rows a caller sees: a non-admin only their own whatever they ask; an admin everyone's, or
/// one user's with `user_id`.
pub fn user_scope(caller: ResearchCaller, params: &Params) -> Result<Option<Uuid>, ApiError> {
    if !caller.is_admin {
        return Ok(Some(caller.user_id));
    }
    params
        .get("user_id")
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| Uuid::parse_str(raw.trim()).map_err(|_| bad_request(format!("Invalid user_id: {raw:?} is not a UUID"))))
        .transpose()
}

/// The request's shared parameters.
pub struct Filters {
    /// `start_time`..`end_time`.
    pub window: Window,
    /// Whose rows ([`user_scope`]).
    pub user: Option<Uuid>,
    /// `model_id`, when the endpoint takes one and it was given.
    pub model_id: Option<i64>,
}

/// `filters` of a windowed analytics response: the rows it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeFilters {
    /// Start of the window (inclusive).
    pub start_time: DateTime<Utc>,
    /// End of the window (inclusive).
    pub end_time: DateTime<Utc>,
    /// The one user whose rows were read; `null` for everyone's (admins only).
    pub user_id: Option<Uuid>,
}

/// `filters` of an analytics response that takes `model_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelScopeFilters {
    /// The window and the user.
    #[serde(flatten)]
    pub scope: ScopeFilters,
    /// The one model read; `null` for every model.
    pub model_id: Option<i64>,
}

impl Filters {
    /// Reads the window, the user scope and `model_id`.
    pub fn parse(caller: ResearchCaller, params: &Params) -> Result<Self, ApiError> {
        Ok(Self { model_id: integer(params, "model_id")?, ..Self::parse_without_model(caller, params)? })
    }

    /// Reads the window and the user scope, for endpoints that cover every model.
    pub fn parse_without_model(caller: ResearchCaller, params: &Params) -> Result<Self, ApiError> {
        Ok(Self::over(window(params)?, user_scope(caller, params)?))
    }

    /// Every model's rows of `user` (or everyone) in `window`.
    pub fn over(window: Window, user: Option<Uuid>) -> Self {
        Self { window, user, model_id: None }
    }

    /// The rows the database reads.
    pub fn rows(&self) -> Scope {
        Scope { start: self.window.start, end: self.window.end, user: self.user, model_id: self.model_id }
    }

    /// `filters` of a response: the window and the user.
    pub fn scope(&self) -> ScopeFilters {
        ScopeFilters { start_time: self.window.start, end_time: self.window.end, user_id: self.user }
    }

    /// `filters` of a response that takes `model_id`: the window, the user and the model.
    pub fn with_model(&self) -> ModelScopeFilters {
        ModelScopeFilters { scope: self.scope(), model_id: self.model_id }
    }
}

/// The API docs' description of a `granularity` read by [`bucket`].
pub const GRANULARITY_DOC: &str = "Bucket width: a whole number of minutes, hours or days (`5m`, `15m`, `6h`, `1d`...; default `1h`), \
     at most 3660 days, and cutting the window into at most 10,000 buckets (400 otherwise)";

/// `granularity` of a time series over `window`: any whole number of minutes, hours or days
/// (`Nm`, `Nh`, `Nd`; default `1h`) that cuts the window into at most [`span::MAX_BUCKETS`]
/// buckets; otherwise a 400. Buckets are aligned to 2000-01-01T00:00:00Z (upstream truncates both
/// 5m and 15m to the minute).
pub fn bucket(params: &Params, window: Duration) -> Result<Span, ApiError> {
    let raw = params.get("granularity").map(|g| g.trim()).filter(|g| !g.is_empty()).unwrap_or("1h");
    let invalid = |reason: span::InvalidSpan| bad_request(format!("Invalid granularity: {}: {reason}", shown(raw)));
    let width = Span::parse(raw).map_err(invalid)?;
    span::check_buckets(window, width.seconds(), &width.name()).map_err(invalid)?;
    Ok(width)
}

/// `raw` quoted for a message, or a placeholder when it is long.
pub fn shown(raw: &str) -> String {
    if raw.chars().count() <= 32 { format!("{raw:?}") } else { "the text given".to_owned() }
}

/// `group_by` among `allowed` (the first is the default); anything else is a 400.
pub fn group_by(params: &Params, allowed: &[GroupBy]) -> Result<GroupBy, ApiError> {
    let raw = params.get("group_by").map(|s| s.trim()).filter(|s| !s.is_empty());
    let Some(raw) = raw else { return Ok(allowed[0]) };
    allowed.iter().copied().find(|g| g.name() == raw).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|g| g.name()).collect();
        bad_request(format!("Invalid group_by: {raw:?} (expected one of {})", names.join(", ")))
    })
}

/// An optional integer parameter.
pub fn integer(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| raw.trim().parse::<i64>().map_err(|_| bad_request(format!("Invalid {name}: {raw:?} is not an integer"))))
        .transpose()
}

/// An integer parameter within `min..=max` (`default` when absent); out of range is a 422, as
/// FastAPI's `Query(ge, le)` answers.
pub fn bounded(params: &Params, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    let value = integer(params, name)?.unwrap_or(default);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::Validation(vec![code4me_shared::validation::Issue::new(
            if value < min { "greater_than_equal" } else { "less_than_equal" },
            vec![json!("query"), json!(name)],
            format!("Input should be between {min} and {max}"),
            json!(value.to_string()),
            Some(json!({"ge": min, "le": max})),
        )]))
    }
}
