//! The route table, in one place, and the middleware every request passes through.

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Uri, header};
use axum::middleware;
use axum::routing::any;
use tower::Layer;
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::contract::error::ApiError;
use crate::http::error::{method_not_allowed_body, plain_rejection_body};
use crate::http::{dialect_errors, metering, metrics as http_metrics, rate_limit, request_bounds, website};
use crate::openapi::ApiDoc;
use crate::routes::{
    admin, agent, ai, analytics, chat, completion, config, editor, health, health_root, keys, metrics, openai, ping, project, session, status, usage,
    user, v1, ws,
};
use crate::services::state::AppState;

/// Header carrying the request id: taken from the client when present, generated otherwise, echoed
/// back on the response and recorded as `request.id` on every log line of the request.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface. Returned as a service that first normalises trailing slashes on `/api/`
/// paths (upstream accepts both forms through 307s; we answer both directly).
pub fn build(state: AppState) -> tower::util::MapRequest<Router, fn(Request) -> Request> {
    let (api, openapi) = documented_routes();

    let hsts = state.settings.cookie_secure.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    let router = api
        // WebSockets (not in the OpenAPI document, which cannot describe them; see crate::routes::ws::connection).
        .route("/api/ws/completion", any(ws::completion))
        .route("/api/ws/completion/multi-file-context", any(ws::multi_file_context))
        .route("/api/ws/chat", any(ws::chat))
        // The editor's collaboration rooms: y-sync over WebSocket (crate::routes::editor).
        .route("/api/editor/rooms/{project_id}", any(editor::room))
        // Unknown API paths get the contract's JSON 404, never the website.
        .route("/api", any(|| async { ApiError::NotFound }))
        .route("/api/{*rest}", any(|| async { ApiError::NotFound }))
        .route("/v1", any(|| async { ApiError::NotFound }))
        .route("/v1/{*rest}", any(|| async { ApiError::NotFound }))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback_service(website::router(&state.settings.website_dist_dir))
        .layer(middleware::from_fn(method_not_allowed_body))
        .layer(middleware::from_fn(plain_rejection_body))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        // Before the per-IP limiter: a request admitted with an API key counts against its quota instead.
        .layer(middleware::from_fn_with_state(state.clone(), metering::meter))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), request_bounds::body_deadline))
        .layer(middleware::from_fn_with_state(state.clone(), request_bounds::refuse_oversize_length))
        .layer(middleware::from_fn(request_bounds::refuse_nul_in_url))
        // Outside everything that can refuse a request, so the open APIs' clients read every error in their dialect.
        .layer(middleware::from_fn(dialect_errors::translate))
        .layer(middleware::from_fn(http_metrics::track))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        // Every response: no MIME sniffing, no framing (clickjacking), a conservative referrer
        // policy, and HSTS when the deployment is served over HTTPS.
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts))
        .layer(cors(&state.settings.cors_allowed_origins))
        .with_state(state);

    MapRequestLayer::new(trim_api_trailing_slash as fn(Request) -> Request).layer(router)
}

/// The span every log line of a request is written in.
fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    let route = request.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request.id = %id,
        http.method = %request.method(),
        http.route = route,
        http.path = %request.uri().path(),
    )
}

/// CORS as upstream: credentials allowed, for the configured origins only.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
}

/// `/api/x/` → `/api/x` (query kept). Only API paths: the docs UI lives at `/docs/` and redirects
/// `/docs` there, so normalising it would loop.
fn trim_api_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > "/api/".len() && path.starts_with("/api/") && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        if let Ok(path_and_query) = rebuilt.parse() {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// The documented REST endpoints, each with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ping::ping))
        .routes(routes!(health::health))
        .routes(routes!(health::live::live))
        .routes(routes!(health::ready::ready))
        .routes(routes!(health::detailed::detailed))
        .routes(routes!(metrics::metrics))
        .routes(routes!(user::create::create))
        .routes(routes!(user::authenticate::authenticate))
        .routes(routes!(user::get::get))
        .routes(routes!(user::update::update))
        .routes(routes!(user::delete::delete))
        .routes(routes!(user::verify::check))
        .routes(routes!(user::verify::resend))
        .routes(routes!(user::verify::confirm))
        .routes(routes!(user::reset_password::request))
        .routes(routes!(user::reset_password::form))
        .routes(routes!(user::reset_password::change))
        .routes(routes!(user::oauth::providers))
        .routes(routes!(user::oauth::login))
        .routes(routes!(user::oauth::callback))
        .routes(routes!(session::acquire::acquire))
        .routes(routes!(session::deactivate::deactivate))
        .routes(routes!(project::create::create))
        .routes(routes!(project::activate::activate))
        .routes(routes!(completion::request::request))
        .routes(routes!(completion::feedback::feedback))
        .routes(routes!(completion::multi_file_context::update))
        .routes(routes!(completion::get::get))
        .routes(routes!(chat::request::request))
        .routes(routes!(chat::get::get))
        .routes(routes!(chat::delete::delete))
        .routes(routes!(analytics::overview::dashboard))
        .routes(routes!(analytics::overview::activity_timeline))
        .routes(routes!(analytics::overview::user_engagement))
        .routes(routes!(analytics::calibration::reliability_diagram))
        .routes(routes!(analytics::calibration::brier_score))
        .routes(routes!(analytics::calibration::confidence_distribution))
        .routes(routes!(analytics::research::code_survival))
        .routes(routes!(analytics::research::effort))
        .routes(routes!(analytics::research::latency_stages))
        .routes(routes!(analytics::export::export))
        .routes(routes!(analytics::calibration::calibration_summary))
        .routes(routes!(analytics::usage::acceptance_rates))
        .routes(routes!(analytics::usage::latency_distribution))
        .routes(routes!(analytics::usage::queries_over_time))
        .routes(routes!(analytics::usage::user_behavior))
        .routes(routes!(analytics::models::ground_truth_analysis))
        .routes(routes!(analytics::models::comparison))
        .routes(routes!(analytics::models::usage_trends))
        .routes(routes!(analytics::models::performance_by_context))
        .routes(routes!(analytics::studies::create))
        .routes(routes!(analytics::studies::list))
        .routes(routes!(analytics::studies::details))
        .routes(routes!(analytics::studies::activate))
        .routes(routes!(analytics::studies::deactivate))
        .routes(routes!(analytics::study_evaluation::evaluation))
        .routes(routes!(config::crud::list, config::crud::create))
        .routes(routes!(config::crud::get, config::crud::update, config::crud::delete))
        .routes(routes!(config::models::languages))
        .routes(routes!(config::models::models))
        .routes(routes!(config::models::validate))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(editor::members, editor::add_member))
        .routes(routes!(editor::projects::list))
        .routes(routes!(editor::files::list, editor::files::create, editor::files::delete))
        .routes(routes!(editor::files::rename))
        .routes(routes!(usage::report))
        .routes(routes!(usage::quota))
        .routes(routes!(admin::set_tier))
        .routes(routes!(v1::completion::complete))
        .routes(routes!(v1::metrics::metrics))
        .routes(routes!(health_root::health))
        .routes(routes!(ai::generate::generate))
        .routes(routes!(ai::complete::complete))
        .routes(routes!(ai::analyze::analyze))
        .routes(routes!(ai::refactor::refactor))
        .routes(routes!(ai::document::document))
        .routes(routes!(ai::health::health))
        .routes(routes!(status::status))
        .routes(routes!(agent::health::health))
        .routes(routes!(agent::code::code))
        .routes(routes!(agent::code::code_alias))
        .routes(routes!(agent::runs::list))
        .routes(routes!(agent::runs::get, agent::runs::cancel))
        .routes(routes!(openai::models::list))
        .routes(routes!(openai::completions::create))
        .routes(routes!(openai::chat_completions::create))
        .routes(routes!(openai::embeddings::create))
}

/// The OpenAPI document served at `/openapi.json`, without a running server: the website's typed
/// client is generated from it (`code4me-server openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().1
}

/// The REST routes and the OpenAPI document describing them.
fn documented_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, document) = api_routes().split_for_parts();
    (routes, crate::openapi::with_shared_responses(with_unique_operation_ids(document)))
}

/// utoipa names each operation after its handler, and handlers of different modules share names
/// (`create`, `get`, ...); OpenAPI requires unique operation ids (generated clients key on them), so
/// each is named after its method and path instead:
/// `GET /api/analytics/studies/{study_id}/evaluation` → `getAnalyticsStudiesStudyIdEvaluation`.
fn with_unique_operation_ids(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations =
            [("get", &mut item.get), ("put", &mut item.put), ("post", &mut item.post), ("delete", &mut item.delete), ("patch", &mut item.patch)];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                operation.operation_id = Some(operation_id(method, path));
            }
        }
    }
    document
}

/// `method` followed by the words of `path` (without `/api`) in camel case; a path outside `/api`
/// (`/health`, `/v1/…`) gets `Root` first, so it never collides with its `/api` namesake.
fn operation_id(method: &str, path: &str) -> String {
    let (rest, root) = match path.strip_prefix("/api") {
        Some(rest) => (rest, false),
        None => (path, true),
    };
    let words = rest.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
    let mut id = method.to_owned();
    if root {
        id.push_str("Root");
    }
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_name_method_and_path() {
        assert_eq!(operation_id("get", "/api/analytics/studies/{study_id}/evaluation"), "getAnalyticsStudiesStudyIdEvaluation");
        assert_eq!(operation_id("delete", "/api/session/deactivate/"), "deleteSessionDeactivate");
        assert_eq!(operation_id("get", "/health"), "getRootHealth", "never the same as /api/health's");
        assert_eq!(operation_id("post", "/v1/chat/completions"), "postRootV1ChatCompletions");
    }

    #[test]
    fn every_operation_id_is_unique() {
        let document = openapi();
        let mut ids: Vec<String> = document
            .paths
            .paths
            .values()
            .flat_map(|item| [&item.get, &item.put, &item.post, &item.delete, &item.patch])
            .flatten()
            .map(|operation| operation.operation_id.clone().expect("every operation has an id"))
            .collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "duplicate operation ids");
    }
}
