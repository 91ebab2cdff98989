//! Serves the built React dashboard (`website/dist`) at `/`, with client-side routes falling back to
//! `index.html`. Unknown `/api/*` paths never reach here: they get the contract's JSON 404.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};

/// Page shown when the website has not been built, so `/` explains itself instead of a bare 404.
const NOT_BUILT: &str = "<!doctype html><title>Code4me-RS</title><h1>Code4me-RS</h1>\
<p>The dashboard has not been built. Run <code>./run.sh</code> (or <code>cd website &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>\
<p>The API is up: see <a href=\"/docs\">/docs</a>.</p>";

/// A router serving `dist`, or the "not built" page when `dist/index.html` is missing.
pub fn router(dist: &Path) -> Router {
    let index = dist.join("index.html");
    if index.is_file() {
        Router::new().fallback_service(ServeDir::new(dist).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %dist.display(), "website not built; serving a placeholder at /");
        Router::new().fallback(|| async { (StatusCode::OK, Html(NOT_BUILT)).into_response() })
    }
}
