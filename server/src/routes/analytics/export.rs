//! `GET /api/analytics/export` (admin): a dataset for papers — generations, queries or study
//! participants — as CSV or Parquet, streamed, with pseudonymised ids and only what users
//! consented to (see `services::export`).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::params::{Params, bad_request, window};
use crate::contract::error::ApiError;
use crate::http::auth::AdminCaller;
use crate::services::export::{self, Dataset, Format};
use crate::services::state::AppState;

fn dataset(params: &Params) -> Result<Dataset, ApiError> {
    match params.get("dataset").map(|d| d.trim()) {
        Some("generations") => Ok(Dataset::Generations),
        Some("queries") => Ok(Dataset::Queries),
        Some("studies") => Ok(Dataset::Studies),
        other => Err(bad_request(format!("Invalid dataset: {other:?}; expected generations, queries or studies"))),
    }
}

fn format(params: &Params) -> Result<Format, ApiError> {
    match params.get("format").map(|f| f.trim()) {
        None | Some("csv") => Ok(Format::Csv),
        Some("parquet") => Ok(Format::Parquet),
        Some(other) => Err(bad_request(format!("Invalid format: {other:?}; expected csv or parquet"))),
    }
}

/// Streams a dataset over the window's rows (for `studies`, the studies running at some time in
/// it) as a file to download. User and session ids are pseudonyms keyed for this export alone;
/// completion text only for users who consented to storing context, telemetry only for those who
/// did not withdraw it. The column dictionary is in the README.
#[utoipa::path(get, path = "/api/analytics/export", tag = "analytics", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(
        ("dataset" = String, Query, pattern = "^\\s*(generations|queries|studies)\\s*$", description = "generations, queries or studies (one row per participant)"),
        ("format" = Option<String>, Query, pattern = "^\\s*(csv|parquet)\\s*$", description = "csv (default) or parquet"),
        ("start_time" = Option<String>, Query, description = "ISO 8601 (any form `datetime.fromisoformat` reads); default 30 days before end_time"),
        ("end_time" = Option<String>, Query, description = "ISO 8601; default now")
    ),
    responses(
        (status = 200, description = "The file, streamed", content(
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.apache.parquet")
        )),
        (status = 400, description = "An unknown dataset or format, or a bad time", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn export(State(state): State<AppState>, _admin: AdminCaller, Query(params): Query<Params>) -> Result<Response, ApiError> {
    let (dataset, format, window) = (dataset(&params)?, format(&params)?, window(&params)?);
    let filename = format!("code4me-{}-{}.{}", dataset.name(), window.end.format("%Y%m%dT%H%M%SZ"), format.extension());
    let mut response = Body::from_stream(export::export(&state, dataset, format, window.start, window.end)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
