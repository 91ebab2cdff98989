//! Lengths of time written `Nm`, `Nh` or `Nd` — a whole number of minutes, hours or days — as the
//! analytics endpoints take them for a time series' bucket width (`granularity`) and a recent
//! window (`time_window`). Upstream offers a few fixed values (its website's "6 Hours" is one it
//! then refuses); any N is read here, within bounds that keep a series small.

use chrono::Duration;

/// The longest span accepted: about ten years.
pub const MAX_DAYS: i64 = 3660;

/// The most buckets a time series may cut its window into; a finer granularity over that window
/// is a 400 (buckets without rows are left out of answers, but the bound keeps the work and the
/// answer's size proportional to what a chart can show).
pub const MAX_BUCKETS: i64 = 10_000;

/// The unit of a [`Span`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
    /// `d`.
    Days,
}

impl Unit {
    fn suffix(self) -> char {
        match self {
            Self::Minutes => 'm',
            Self::Hours => 'h',
            Self::Days => 'd',
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Self::Minutes => 60,
            Self::Hours => 3600,
            Self::Days => 86_400,
        }
    }
}

/// A whole number (at least 1) of minutes, hours or days, at most [`MAX_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    count: i64,
    unit: Unit,
}

/// Why a text is not a [`Span`] (a short reason, for the caller's 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSpan(String);

impl Span {
    /// `Nm`, `Nh` or `Nd` (trimmed; N in decimal digits, leading zeros allowed).
    pub fn parse(raw: &str) -> Result<Self, InvalidSpan> {
        let raw = raw.trim();
        let expected = || InvalidSpan("expected a whole number of minutes, hours or days such as 15m, 6h or 7d".into());
        let (digits, unit) = match raw.char_indices().last() {
            Some((at, 'm')) => (&raw[..at], Unit::Minutes),
            Some((at, 'h')) => (&raw[..at], Unit::Hours),
            Some((at, 'd')) => (&raw[..at], Unit::Days),
            _ => return Err(expected()),
        };
        if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected());
        }
        let count: i64 = digits.parse().map_err(|_| expected())?;
        if count == 0 {
            return Err(InvalidSpan("must be at least 1".into()));
        }
        let span = Self { count, unit };
        if span.seconds() > MAX_DAYS * 86_400 {
            return Err(InvalidSpan(format!("at most {MAX_DAYS} days")));
        }
        Ok(span)
    }

    /// Its length in seconds.
    pub fn seconds(self) -> i64 {
        self.count * self.unit.seconds()
    }

    /// Its length.
    pub fn duration(self) -> Duration {
        Duration::seconds(self.seconds())
    }

    /// Its canonical name (`6h`; leading zeros dropped), as answers echo it.
    pub fn name(self) -> String {
        format!("{}{}", self.count, self.unit.suffix())
    }

    /// A PostgreSQL interval of its length (`6 hours`), for `date_bin`.
    pub fn interval(self) -> String {
        let unit = match self.unit {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
        };
        format!("{} {unit}", self.count)
    }
}

/// How many buckets `width` cuts a window of `window` into (a partial bucket at each end counts),
/// or a reason when that is more than [`MAX_BUCKETS`].
pub fn check_buckets(window: Duration, width_seconds: i64, width_name: &str) -> Result<i64, InvalidSpan> {
    let buckets = window.num_seconds().max(0) / width_seconds.max(1) + 2;
    if buckets > MAX_BUCKETS {
        return Err(InvalidSpan(format!(
            "{width_name} buckets over a window of {} would be about {buckets}; at most {MAX_BUCKETS} (choose a coarser granularity or a shorter window)",
            describe(window)
        )));
    }
    Ok(buckets)
}

/// `window` in days, hours or minutes, for messages.
fn describe(window: Duration) -> String {
    match window.num_seconds() {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_whole_number_of_minutes_hours_or_days_is_a_span() {
        let cases =
            [("5m", 300, "5m", "5 minutes"), ("6h", 21_600, "6h", "6 hours"), ("1d", 86_400, "1d", "1 days"), ("90d", 90 * 86_400, "90d", "90 days")];
        for (raw, seconds, name, interval) in cases {
            let span = Span::parse(raw).unwrap();
            assert_eq!((span.seconds(), span.name().as_str(), span.interval().as_str()), (seconds, name, interval), "{raw}");
        }
        assert_eq!(Span::parse(" 06h ").unwrap().name(), "6h");
        assert_eq!(Span::parse("3660d").unwrap().seconds(), MAX_DAYS * 86_400);
        assert_eq!(Span::parse("5270400m").unwrap().seconds(), MAX_DAYS * 86_400);
    }

    #[test]
    fn other_texts_zero_and_overlong_spans_are_refused() {
        for raw in
            ["", "h", "6", "6H", "6 h", "-6h", "+6h", "1.5h", "6w", "1y", "6hh", "0x6h", "٦h", "0m", "000d", "3661d", "87841h", "99999999999999d"]
        {
            assert!(Span::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn buckets_per_window_are_bounded() {
        let month = Duration::days(30);
        assert!(check_buckets(month, 300, "5m").is_ok(), "upstream's finest bucket over its default window");
        assert!(check_buckets(Duration::days(90), 3600, "1h").is_ok());
        let error = check_buckets(month, 60, "1m").unwrap_err();
        assert!(error.to_string().starts_with("1m buckets over a window of 30 days would be about 43202; at most 10000"), "{error}");
        assert!(check_buckets(Duration::days(MAX_DAYS), 86_400, "1d").is_ok());
        assert!(check_buckets(Duration::days(4000 * 365), 60, "1m").is_err());
    }
}
