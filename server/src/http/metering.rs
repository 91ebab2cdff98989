//! The API-key door: a request presenting `Authorization: Bearer c4m_…` is authenticated with
//! that key, admitted by its owner's tier quota, answered with `X-RateLimit-*` headers, and
//! metered (one usage record, handed to the batching [`crate::services::usage_sink::UsageSink`]). Keys open only the endpoints in
//! [`KEY_DOORS`]; everywhere else (the account endpoints, the plugin's) they get a 403.
//!
//! Handlers read the admitted caller as [`ApiKeyCaller`] from the request's extensions (the
//! extractors in [`crate::http::auth`] do); generation endpoints attach a [`UsageNote`] to their
//! response so the record carries the model and token counts, and the tokens are charged.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use code4me_shared::jobs::telemetry::UsageRecord;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::http::rate_limit;
use crate::services::api_keys::{self, KEY_PREFIX, Resolved};
use crate::services::quotas::{self, Spent};
use crate::services::state::AppState;

/// Path prefixes API keys open: the usage report, the research API and the operator health, and
/// the generation APIs that build on keys. Never the account endpoints (password, deletion, keys)
/// or the plugin's session endpoints.
pub const KEY_DOORS: &[&str] =
    &["/api/usage", "/api/analytics/", "/api/config", "/api/health/detailed", "/v1/", "/api/v1/", "/api/ai/", "/api/agent/", "/code"];

/// Per-IP budget bucket for key lookups that miss the cache (bounds what unknown keys cost
/// PostgreSQL).
const KEY_LOOKUP_BUCKET: &str = "api_key_lookup";

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// What a generation endpoint reports about the request it served, for its usage record.
#[derive(Debug, Clone, Default)]
pub struct UsageNote {
    /// The model that served it.
    pub model: Option<String>,
    /// Prompt tokens read.
    pub prompt_tokens: u32,
    /// Tokens generated (charged to the daily token budget).
    pub generated_tokens: u32,
}

/// A [`UsageNote`] filled in when a streamed response ends: the usage record (and the token
/// charge) waits until the body is finished or dropped, and reads the note then.
#[derive(Debug, Clone, Default)]
pub struct DeferredUsage(pub Arc<Mutex<UsageNote>>);

impl DeferredUsage {
    /// Sets what the stream served.
    pub fn set(&self, note: UsageNote) {
        *self.0.lock().expect("usage note lock") = note;
    }
}

/// A response body that calls its hook once when it ends or is dropped (a client that goes away
/// mid-stream is metered too).
struct OnEnd<F: FnOnce() + Send + 'static> {
    inner: Body,
    hook: Option<F>,
}

impl<F: FnOnce() + Send + Unpin + 'static> http_body::Body for OnEnd<F> {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<F: FnOnce() + Send + 'static> Drop for OnEnd<F> {
    fn drop(&mut self) {
        if let Some(hook) = self.hook.take() {
            hook();
        }
    }
}

/// The key a request presents, when its bearer token is one of ours (other bearer tokens are the
/// auth tokens [`crate::http::auth`] reads).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(KEY_PREFIX)).then_some(token)
}

/// `401` for a key that does not work.
fn invalid_key() -> Response {
    let mut response = ApiError::Detail(StatusCode::UNAUTHORIZED, messages::INVALID_API_KEY.into()).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Whether keys open `path`: a door ending in `/` opens everything below it, any other door
/// itself and what is below it.
pub fn accepts_keys(path: &str) -> bool {
    KEY_DOORS.iter().any(|door| {
        if door.ends_with('/') {
            path.starts_with(door)
        } else {
            path.strip_prefix(door).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }
    })
}

/// The middleware.
pub async fn meter(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(presented) = presented_key(request.headers()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if !accepts_keys(&path) {
        return ApiError::Detail(StatusCode::FORBIDDEN, messages::API_KEY_NOT_ALLOWED.into()).into_response();
    }
    let started = Instant::now();
    let at = Utc::now();
    let endpoint = request.extensions().get::<MatchedPath>().map_or(path.clone(), |m| m.as_str().to_owned());

    let (caller, admission) = match api_keys::resolve_cached(&state, &presented).await {
        Err(error) => return ApiError::Unavailable(error).into_response(),
        Ok(Resolved::Admitted(caller, admission)) => (caller, admission),
        Ok(Resolved::Invalid) => return invalid_key(),
        Ok(Resolved::Miss(key_hash)) => {
            // Unknown to the cache: the lookup costs PostgreSQL a query, so it spends the client's
            // per-IP budget (a stream of made-up keys is stopped there).
            if let Some(ip) = rate_limit::request_ip(&state, &request)
                && let Some(refusal) = rate_limit::spend(&state, ip, KEY_LOOKUP_BUCKET).await
            {
                return refusal;
            }
            let caller = match api_keys::look_up(&state, key_hash).await {
                Err(error) => return ApiError::Unavailable(error).into_response(),
                Ok(None) => return invalid_key(),
                Ok(Some(caller)) => caller,
            };
            match quotas::admit(&mut state.redis.clone(), caller.user_id, state.settings.tiers.limits(caller.tier)).await {
                Ok(admission) => (caller, admission),
                Err(error) => return ApiError::Unavailable(error.into()).into_response(),
            }
        }
    };
    let limits = state.settings.tiers.limits(caller.tier);
    let binding = admission.state.binding(admission.refused);
    let mut response = match admission.refused {
        Some(spent) => {
            let retry_after = quotas::seconds_until(binding);
            let (window, unit) = match spent {
                Spent::HourlyRequests => ("hourly", "requests"),
                Spent::DailyRequests => ("daily", "requests"),
                Spent::DailyTokens => ("daily", "generated tokens"),
            };
            let text = messages::quota_exceeded(caller.tier.as_str(), window, binding.limit, unit, retry_after);
            tracing::info!(user.id = %caller.user_id, key.id = %caller.key_id, window, "quota exceeded");
            let mut response = ApiError::Detail(StatusCode::TOO_MANY_REQUESTS, text).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        None => {
            request.extensions_mut().insert(caller);
            // The counters as this request left them, for a handler that reports them.
            request.extensions_mut().insert(admission.state.report(caller.tier, limits));
            next.run(request).await
        }
    };
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(binding.limit));
    headers.insert(REMAINING, HeaderValue::from(binding.remaining));
    headers.insert(RESET, HeaderValue::from(binding.reset));

    let status = response.status().as_u16();
    let meter = move |note: UsageNote| {
        if note.generated_tokens > 0 {
            let mut redis = state.redis.clone();
            let user_id = caller.user_id;
            tokio::spawn(async move {
                if let Err(error) = quotas::charge_tokens(&mut redis, user_id, u64::from(note.generated_tokens)).await {
                    tracing::warn!(%error, user.id = %user_id, "generated tokens not charged to the daily budget");
                }
            });
        }
        state.usage.record(UsageRecord {
            usage_id: Uuid::new_v4(),
            user_id: caller.user_id,
            key_id: Some(caller.key_id),
            endpoint,
            model: note.model,
            prompt_tokens: note.prompt_tokens,
            generated_tokens: note.generated_tokens,
            latency_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
            status,
            at,
        });
    };
    if let Some(deferred) = response.extensions().get::<DeferredUsage>().cloned() {
        let (parts, body) = response.into_parts();
        let hook = move || meter(deferred.0.lock().expect("usage note lock").clone());
        return Response::from_parts(parts, Body::new(OnEnd { inner: body, hook: Some(hook) }));
    }
    meter(response.extensions().get::<UsageNote>().cloned().unwrap_or_default());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_open_the_public_apis_and_never_the_account_endpoints() {
        for open in ["/api/usage", "/api/analytics/usage/acceptance-rates", "/api/config", "/api/config/3", "/v1/completions", "/api/health/detailed"]
        {
            assert!(accepts_keys(open), "{open}");
        }
        for closed in
            ["/api/keys", "/api/keys/1", "/api/user/update", "/api/user/delete", "/api/completion/request", "/api/usagex", "/api/session/acquire"]
        {
            assert!(!accepts_keys(closed), "{closed}");
        }
    }

    #[test]
    fn only_our_bearer_tokens_are_keys() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("ascii"));
            presented_key(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer c4m_abc").as_deref(), Some("c4m_abc"));
        assert_eq!(with("bearer  c4m_abc ").as_deref(), Some("c4m_abc"));
        assert_eq!(with("Bearer 2b5e4a1c-0000-4000-8000-000000000000"), None);
        assert_eq!(with("Basic c4m_abc"), None);
    }
}
