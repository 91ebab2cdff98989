//! HTTP plumbing: extractors (bodies, queries, callers), cookies, rate limits, request bounds,
//! metrics, the accept loop, and the website and HTML pages.

pub mod auth;
pub mod cookies;
pub mod dialect_errors;
pub mod error;
pub mod extract;
pub mod metering;
pub mod metrics;
pub mod operator;
pub mod pages;
pub mod rate_limit;
pub mod reply;
pub mod request_bounds;
pub mod serve;
pub mod website;
