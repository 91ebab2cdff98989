//! Prometheus metrics: request counts and latency histograms by route template and status.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter of finished HTTP requests, labelled `method`, `route`, `status`.
pub const REQUESTS_TOTAL: &str = "http_requests_total";
/// Histogram of request latency in seconds, labelled like [`REQUESTS_TOTAL`].
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";

/// Latency buckets from 1 ms (cached endpoints) to 60 s (a chat answer on a busy CPU).
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process-wide recorder. The `metrics` facade has exactly one global recorder, so it is
/// installed on first use and shared by every server built in this process.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
                // The suggestion API's latencies are histograms too (its users aggregate them
                // across servers, which summaries' quantiles cannot be).
                .and_then(|b| b.set_buckets_for_metric(Matcher::Prefix(crate::services::suggestions::METRIC_PREFIX.to_owned()), LATENCY_BUCKETS))
                // Cannot fail: the bucket list above is a non-empty constant.
                .expect("non-empty latency buckets");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program's); then ours is
            // still rendered at /metrics, only the facade macros go elsewhere.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be incomplete");
            }
            // Histogram samples accumulate until drained; without a scrape they would grow without
            // bound, so a background thread drains them every few seconds.
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the metrics upkeep thread");
            }
            handle
        })
        .clone()
}

/// The method label: the standard methods by name, anything else (a client may send any token
/// as a method) as `other`, so the label set stays closed.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN.iter().find(|(known, _)| known == method).map_or("other", |(_, label)| label)
}

/// Middleware recording [`REQUESTS_TOTAL`] and [`REQUEST_DURATION`]. The route label is the
/// matched template (`/api/completion/{query_id}`), never the raw path, so ids cannot explode the
/// label set; unmatched requests share the label `unmatched`.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let labels = [("method", method.to_owned()), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(REQUEST_DURATION, &labels).record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        let random = axum::http::Method::from_bytes(b"XKCDQWERTY").expect("a token is a method");
        assert_eq!(method_label(&random), "other");
    }
}
