//! Cookies as upstream sets and reads them: `HttpOnly; Path=/; SameSite=Lax`, `Secure` when
//! `COOKIE_SECURE`; when a name repeats in the `Cookie` header the **last** value wins (the plugin
//! appends its per-project `project_token` after the cookie jar's).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use time::OffsetDateTime;

/// Cookie carrying the auth token.
pub const AUTH_TOKEN: &str = "auth_token";
/// Cookie carrying the session token.
pub const SESSION_TOKEN: &str = "session_token";
/// Cookie carrying the active project's token.
pub const PROJECT_TOKEN: &str = "project_token";

/// The value of cookie `name`; the last occurrence across all `Cookie` headers wins.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| Cookie::split_parse(line.to_owned()))
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .last()
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value; `lifetime` adds `Expires` (upstream's session cookie for projects has none).
pub fn set(name: &'static str, value: &str, lifetime: Option<Duration>, secure: bool) -> HeaderValue {
    let mut cookie = Cookie::build((name, value.to_owned())).http_only(true).path("/").same_site(SameSite::Lax).secure(secure);
    if let Some(lifetime) = lifetime {
        cookie = cookie.expires(OffsetDateTime::now_utc() + lifetime);
    }
    header_value(&cookie.build())
}

/// A `Set-Cookie` value that removes cookie `name` (empty value, expired).
pub fn clear(name: &'static str, secure: bool) -> HeaderValue {
    let cookie =
        Cookie::build((name, "")).http_only(true).path("/").same_site(SameSite::Lax).secure(secure).expires(OffsetDateTime::UNIX_EPOCH).build();
    header_value(&cookie)
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Cannot fail: names are constants and values are UUIDs or empty, all visible ASCII.
    HeaderValue::from_str(&cookie.to_string()).expect("cookie header is visible ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_duplicate_cookie_wins_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("auth_token=a; project_token=A"));
        headers.append(header::COOKIE, HeaderValue::from_static("project_token=B"));
        assert_eq!(read(&headers, PROJECT_TOKEN).as_deref(), Some("B"));
        assert_eq!(read(&headers, AUTH_TOKEN).as_deref(), Some("a"));
        assert_eq!(read(&headers, SESSION_TOKEN), None);
    }

    #[test]
    fn set_cookies_carry_the_upstream_attributes() {
        let value = set(AUTH_TOKEN, "t", Some(Duration::from_secs(60)), false);
        let text = value.to_str().expect("ascii");
        for part in ["auth_token=t", "HttpOnly", "Path=/", "SameSite=Lax", "Expires="] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!text.contains("Secure"));
        assert!(set(PROJECT_TOKEN, "p", None, true).to_str().expect("ascii").contains("Secure"));
    }
}
