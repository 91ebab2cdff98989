//! `GET /api/v1/metrics`: the suggestion API's own metrics in Prometheus' text format, for the
//! teams that call it (their dashboards scrape with the API key they already have). Only the
//! `suggestion_*` families: the server's other metrics (routes, queues, other users' traffic by
//! route) stay on the operators' `/metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::auth::OpenCaller;
use crate::services::state::AppState;
use crate::services::suggestions::METRIC_PREFIX;

/// Requests by outcome, cache hits, misses and hit ratio, processing and generation latency
/// histograms of the suggestion API (this server instance's counts).
#[utoipa::path(get, path = "/api/v1/metrics", tag = "suggestions", security(("bearer" = []), ("auth_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "No credentials, or an invalid API key", body = crate::contract::suggestions::SuggestionErrorBody),
        (status = 422, description = "The URL holds an encoded U+0000", body = crate::contract::suggestions::SuggestionErrorBody),
        (status = 429, description = "The API key's quota is spent", body = crate::contract::suggestions::SuggestionErrorBody),
        (status = 503, description = "PostgreSQL or Redis is unreachable", body = crate::contract::suggestions::SuggestionErrorBody)
    ))]
pub async fn metrics(State(state): State<AppState>, _caller: OpenCaller) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], only_suggestions(&state.metrics.render()))
}

/// The lines of `exposition` that belong to the suggestion API's families (samples and their
/// `# HELP`/`# TYPE` lines).
fn only_suggestions(exposition: &str) -> String {
    let mut kept = String::new();
    for line in exposition.lines() {
        let name = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
        if name.starts_with(METRIC_PREFIX) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::only_suggestions;

    #[test]
    fn only_the_suggestion_families_are_shown() {
        let text = "# TYPE http_requests_total counter\nhttp_requests_total{route=\"/x\"} 3\n# TYPE suggestion_cache_hits_total counter\nsuggestion_cache_hits_total 2\n";
        assert_eq!(only_suggestions(text), "# TYPE suggestion_cache_hits_total counter\nsuggestion_cache_hits_total 2\n");
    }
}
