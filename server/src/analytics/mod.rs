//! The research endpoints' domain, free of HTTP and SQL: the time window a request reads, `Nm|Nh|Nd`
//! spans ([`span`]), the one time-parameter parser ([`time`]), interval estimates and the
//! two-proportion test ([`stats`]), calibration arithmetic ([`calibration`]), percentiles of the
//! rollups' latency histograms ([`histogram`]), and the study
//! statistics: user-level inference and CUPED ([`cluster`]), the sample-ratio check ([`srm`]),
//! Holm's correction ([`multiple_testing`]) and always-valid sequential tests ([`sequential`]). The endpoints
//! read their parameters in `routes::analytics::params` and their rows from `db::analytics`.

pub mod calibration;
pub mod cluster;
pub mod evaluation;
pub mod histogram;
pub mod multiple_testing;
pub mod sequential;
pub mod span;
pub mod srm;
pub mod stats;
pub mod time;

use chrono::{DateTime, Duration, Utc};

/// How far back a window reaches when only its end (or nothing) is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// `[start, end]` of the rows an endpoint reads (`meta_query.timestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Inclusive end.
    pub end: DateTime<Utc>,
}

impl Window {
    /// `start`..`end`, `end` defaulting to now and `start` to [`DEFAULT_WINDOW_DAYS`] before
    /// `end`; `None` when `start` is after `end`.
    pub fn new(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Self> {
        let end = end.unwrap_or_else(Utc::now);
        let start = start.unwrap_or(end - Duration::days(DEFAULT_WINDOW_DAYS));
        (start <= end).then_some(Self { start, end })
    }

    /// The last `length` up to now.
    pub fn last(length: Duration) -> Self {
        let end = Utc::now();
        Self { start: end - length, end }
    }

    /// The window of the same length just before this one.
    pub fn previous(&self) -> Self {
        Self { start: self.start - self.length(), end: self.start }
    }

    /// How long it is.
    pub fn length(&self) -> Duration {
        self.end - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_defaults_to_the_last_thirty_days_and_refuses_a_start_after_its_end() {
        let end = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z").expect("RFC 3339").with_timezone(&Utc);
        let window = Window::new(None, Some(end)).expect("valid");
        assert_eq!(window.length(), Duration::days(30));
        assert_eq!(window.previous(), Window { start: end - Duration::days(60), end: end - Duration::days(30) });
        assert_eq!(Window::new(Some(end), Some(end)), Some(Window { start: end, end }));
        assert_eq!(Window::new(Some(end + Duration::seconds(1)), Some(end)), None);
    }
}
