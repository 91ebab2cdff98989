//! Request rate limiting per client IP and exact path, per hour (upstream's `SimpleRateLimiter`),
//! counted in Redis so every server instance shares one budget. `X-Forwarded-For` is believed only
//! from `TRUSTED_PROXIES`. When Redis is unreachable the limiter lets requests through (the
//! endpoints behind it report the outage themselves).

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use code4me_shared::redis_keys::RATE_LIMIT;

use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::http::auth::{self, PrefetchedAuthToken};
use crate::services::callers::ApiKeyCaller;
use crate::services::state::AppState;
use crate::services::tokens;

const WINDOW_SECONDS: u64 = 3_600;

/// Paths that are never limited: orchestration probes must always answer.
fn exempt(path: &str) -> bool {
    !path.starts_with("/api/") || path == "/api/ping" || HEALTH_PATHS.contains(&path)
}

/// The health endpoints (load balancers and monitors poll them from few addresses).
pub const HEALTH_PATHS: [&str; 4] = ["/api/health", "/api/health/live", "/api/health/ready", "/api/health/detailed"];

/// The middleware. Requests admitted with an API key ([`crate::http::metering`], which runs first)
/// are counted against their tier's quota instead. A request presenting an auth token has its
/// owner read in the counter's round trip ([`PrefetchedAuthToken`]).
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if exempt(path) || request.extensions().get::<ApiKeyCaller>().is_some() {
        return next.run(request).await;
    }
    let Some(ip) = request_ip(&state, &request) else {
        return next.run(request).await;
    };
    let token = auth::presented_token(request.headers());
    let (refusal, owner) = count(&state, ip, path, token).await;
    if let Some(refusal) = refusal {
        return refusal;
    }
    if let (Some(token), Some(user_id)) = (token, owner) {
        request.extensions_mut().insert(PrefetchedAuthToken { token, user_id });
    }
    next.run(request).await
}

/// Counts one request of `ip` in `bucket` (a path, or another name sharing the budget rules);
/// returns the 429 to answer once the hour's budget is spent, `None` while it is not (or when Redis
/// cannot count).
pub async fn spend(state: &AppState, ip: IpAddr, bucket: &str) -> Option<Response> {
    count(state, ip, bucket, None).await.0
}

/// [`spend`], reading the owner of `token` in the same pipeline when one is given: the refusal,
/// and `Some(owner)` when the token was read (`Some(None)`: not a live token; `None`: not read,
/// Redis failed).
async fn count(state: &AppState, ip: IpAddr, bucket: &str, token: Option<Uuid>) -> (Option<Response>, Option<Option<Uuid>>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let window = now / WINDOW_SECONDS;
    let key = format!("{RATE_LIMIT}{window}:{ip}:{bucket}");
    let mut pipe = redis::pipe();
    pipe.incr(&key, 1).cmd("EXPIRE").arg(&key).arg(WINDOW_SECONDS + 60).arg("NX").ignore();
    let token_key = token.map(tokens::auth_token_key);
    if let Some(token_key) = &token_key {
        pipe.get(token_key);
    }
    let counted: redis::RedisResult<(u64, Option<Option<String>>)> = match &token_key {
        Some(_) => pipe.query_async(&mut state.redis.clone()).await.map(|(count, raw): (u64, Option<String>)| (count, Some(raw))),
        None => pipe.query_async(&mut state.redis.clone()).await.map(|(count,): (u64,)| (count, None)),
    };
    match counted {
        Ok((count, _)) if count > state.settings.rate_limits.limit_for(bucket) => {
            let mut response = ApiError::TooManyRequests.into_response();
            let retry_after = WINDOW_SECONDS - now % WINDOW_SECONDS;
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            tracing::info!(client.ip = %ip, rate_limit.bucket = %bucket, "rate limit exceeded");
            (Some(response), None)
        }
        Ok((_, raw)) => {
            let owner = raw.zip(token_key).map(|(raw, key)| tokens::owner_of_auth_token_value(&key, raw));
            (None, owner)
        }
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter cannot reach Redis; letting the request through");
            (None, None)
        }
    }
}

/// The client's address of a request.
pub fn request_ip(state: &AppState, request: &Request) -> Option<IpAddr> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    client_ip(peer, request.headers(), &state.settings.rate_limits.trusted_proxies)
}

/// The client's address: the socket peer, unless the peer is a trusted proxy — then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(forwarded.iter().rev().find(|ip| !is_trusted(ip)).or(forwarded.first()).copied().unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).expect("ascii"));
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer = "203.0.113.9".parse().ok();
        assert_eq!(client_ip(peer, &headers("1.2.3.4"), &[]), peer);
    }

    #[test]
    fn a_trusted_proxy_forwards_the_right_most_untrusted_address() {
        let trusted = vec!["10.0.0.0/8".parse().expect("cidr")];
        let peer = "10.0.0.2".parse().ok();
        let ip = client_ip(peer, &headers("198.51.100.1, 192.0.2.7, 10.0.0.3"), &trusted);
        assert_eq!(ip, "192.0.2.7".parse().ok(), "a client-supplied left-most entry is not believed");
    }

    #[test]
    fn health_and_ping_are_never_limited() {
        assert!(exempt("/api/health") && exempt("/api/ping") && exempt("/docs/"));
        assert!(exempt("/api/health/live") && exempt("/api/health/ready") && exempt("/api/health/detailed"));
        assert!(!exempt("/api/health/other"));
        assert!(!exempt("/api/user/authenticate"));
    }
}
