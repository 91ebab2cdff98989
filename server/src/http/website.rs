//! Serves the built React dashboard (`website/dist`) at `/`, with client-side routes falling back to
//! `index.html`, under a strict Content-Security-Policy. Unknown `/api/*` paths never reach here:
//! they get the contract's JSON 404.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// The dashboard's Content-Security-Policy: everything from this origin only, no inline or
/// `eval`'d script, no plugins, no framing, forms and `<base>` kept on this origin. Vite emits only
/// external module scripts and stylesheets, the charts (recharts) set styles through the CSSOM, and
/// every request goes to this server's `/api` (its WebSockets included: `'self'` covers `ws:` on
/// this origin). Inline *styles* are allowed: the editor's CodeMirror writes its theme into a
/// `<style>` element at run time and the Yjs binding colours collaborators' cursors with `style`
/// attributes. Styles run no code, and scripts stay restricted to this origin's files. The Swagger UI at `/docs` is not served from here and
/// gets no policy: its vendored stylesheet draws its icons from `data:` URIs, and this one would
/// hide them.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; font-src 'self'; \
connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Page shown when the website has not been built, so `/` explains itself instead of a bare 404.
const NOT_BUILT: &str = "<!doctype html><title>Code4me-RS</title><h1>Code4me-RS</h1>\
<p>The dashboard has not been built. Run <code>./run.sh</code> (or <code>cd website &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>\
<p>The API is up: see <a href=\"/docs\">/docs</a>.</p>";

/// A router serving `dist`, or the "not built" page when `dist/index.html` is missing.
/// Every response (page, asset, fallback) carries [`CONTENT_SECURITY_POLICY`].
pub fn router(dist: &Path) -> Router {
    let index = dist.join("index.html");
    let site = if index.is_file() {
        Router::new().fallback_service(ServeDir::new(dist).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %dist.display(), "website not built; serving a placeholder at /");
        Router::new().fallback(|| async { (StatusCode::OK, Html(NOT_BUILT)).into_response() })
    };
    site.layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
}
