//! Instants as clients write them: every ISO 8601 form Python's `datetime.fromisoformat` (3.11)
//! accepts, so upstream's website and scripts work unchanged (its study form sends
//! `2026-01-31T12:00`, a `<input type="datetime-local">` value), with no zone meaning UTC.
//!
//! The one parser for every time parameter (analytics `start_time`/`end_time`, studies'
//! `starts_at`/`ends_at`). Accepted, as in Python:
//! - dates `YYYY-MM-DD`, `YYYYMMDD`, and ISO week dates `YYYY-Www`, `YYYY-Www-D`, `YYYYWww`,
//!   `YYYYWwwD` (alone: midnight);
//! - then `T` (or `t`, or a space), and a time `HH`, `HH:MM`, `HH:MM:SS`, `HHMM` or `HHMMSS`,
//!   seconds with a fraction after `.` or `,` (1 to 9 digits are kept: nanoseconds; further digits
//!   are read and dropped, as Python drops those past 6);
//! - then nothing (UTC), `Z` (or `z`), or an offset `±HH`, `±HH:MM`, `±HHMM`, `±HH:MM:SS[.f]`,
//!   `±HHMMSS` below 24 hours.
//!
//! Refused, as in Python: reduced dates (`YYYY-MM`, `YYYY`), ordinal dates (`YYYY-DDD`), fractional
//! hours or minutes, hour 24, second 60, an offset without a time. Unlike Python, surrounding
//! whitespace is ignored and the date-time separator is one of `T`, `t` or a space rather than any
//! character. Texts over [`MAX_LEN`] characters are refused before parsing.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

/// The longest text read (the longest sensible form, with nanoseconds and an offset, is 35).
pub const MAX_LEN: usize = 64;

/// Why a text is not an instant (a short reason, for the caller's 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTime(&'static str);

/// `raw` (trimmed) as an instant in UTC.
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, InvalidTime> {
    let text = raw.trim();
    if text.len() > MAX_LEN {
        return Err(InvalidTime("too long"));
    }
    let (date, rest) = date(text.as_bytes())?;
    let Some((&separator, rest)) = rest.split_first() else {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    };
    if !matches!(separator, b'T' | b't' | b' ') {
        return Err(InvalidTime("expected T or a space after the date"));
    }
    let zone_at = rest.iter().position(|c| matches!(c, b'Z' | b'z' | b'+' | b'-')).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (h, m, s, nanos) = clock_parts(clock)?;
    let time = NaiveTime::from_hms_nano_opt(h, m, s, nanos).ok_or(InvalidTime("hour, minute or second out of range"))?;
    let offset = offset(zone)?;
    NaiveDateTime::new(date, time).checked_sub_signed(offset).map(|t| t.and_utc()).ok_or(InvalidTime("out of range"))
}

/// The date at the start of `s`, and what follows it.
fn date(s: &[u8]) -> Result<(NaiveDate, &[u8]), InvalidTime> {
    let year = digits(s, 0, 4).filter(|&y| y > 0).ok_or(InvalidTime("expected a four-digit year from 0001"))? as i32;
    let extended = s.get(4) == Some(&b'-');
    let at = if extended { 5 } else { 4 };
    if s.get(at) == Some(&b'W') {
        let week = digits(s, at + 1, 2).ok_or(InvalidTime("expected a two-digit week after W"))?;
        let mut end = at + 3;
        let mut day = 1;
        let day_at = if extended { end + 1 } else { end };
        let day_follows = if extended { s.get(end) == Some(&b'-') } else { s.get(end).is_some_and(u8::is_ascii_digit) };
        if day_follows {
            day = digits(s, day_at, 1).ok_or(InvalidTime("expected a weekday digit"))?;
            end = day_at + 1;
        }
        let weekday = match day {
            1 => Weekday::Mon,
            2 => Weekday::Tue,
            3 => Weekday::Wed,
            4 => Weekday::Thu,
            5 => Weekday::Fri,
            6 => Weekday::Sat,
            7 => Weekday::Sun,
            _ => return Err(InvalidTime("weekday out of range (1 to 7)")),
        };
        let date = NaiveDate::from_isoywd_opt(year, week, weekday).ok_or(InvalidTime("week out of range"))?;
        return Ok((date, &s[end..]));
    }
    let month = digits(s, at, 2).ok_or(InvalidTime("expected YYYY-MM-DD or YYYYMMDD"))?;
    let day_at = if extended { at + 3 } else { at + 2 };
    if extended && s.get(at + 2) != Some(&b'-') {
        return Err(InvalidTime("expected YYYY-MM-DD"));
    }
    let day = digits(s, day_at, 2).ok_or(InvalidTime("expected YYYY-MM-DD or YYYYMMDD"))?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(InvalidTime("month or day out of range"))?;
    Ok((date, &s[day_at + 2..]))
}

/// `HH[:MM[:SS[.f]]]` or `HH[MM[SS[.f]]]` (all of `s`): hours, minutes, seconds, nanoseconds.
fn clock_parts(s: &[u8]) -> Result<(u32, u32, u32, u32), InvalidTime> {
    let mut parts = [0u32; 3];
    let mut at = 0;
    let extended = s.get(2) == Some(&b':');
    for (i, part) in parts.iter_mut().enumerate() {
        *part = digits(s, at, 2).ok_or(InvalidTime("expected two-digit hours, minutes and seconds"))?;
        at += 2;
        if at == s.len() || i == 2 {
            break;
        }
        if extended {
            if s[at] != b':' {
                return Err(InvalidTime("expected : between hours, minutes and seconds"));
            }
            at += 1;
        }
    }
    let mut nanos = 0;
    if at < s.len() {
        // The loop stops early only at the end of `s`, so all three parts were read.
        if !matches!(s[at], b'.' | b',') {
            return Err(InvalidTime("unexpected text after the time"));
        }
        let fraction = &s[at + 1..];
        if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
            return Err(InvalidTime("expected digits after the decimal point"));
        }
        let kept = &fraction[..fraction.len().min(9)];
        nanos = kept.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) * 10u32.pow(9 - kept.len() as u32);
    }
    Ok((parts[0], parts[1], parts[2], nanos))
}

/// The zone after the time: nothing or `Z` is UTC, else `±` and a clock below 24 hours; the
/// offset to subtract to reach UTC.
fn offset(s: &[u8]) -> Result<Duration, InvalidTime> {
    let Some((&sign, clock)) = s.split_first() else { return Ok(Duration::zero()) };
    if matches!(sign, b'Z' | b'z') {
        return if clock.is_empty() { Ok(Duration::zero()) } else { Err(InvalidTime("unexpected text after Z")) };
    }
    let (h, m, sec, nanos) = clock_parts(clock).map_err(|_| InvalidTime("expected an offset such as +02:00"))?;
    if h >= 24 || m >= 60 || sec >= 60 {
        return Err(InvalidTime("offset out of range"));
    }
    let offset = Duration::hours(h.into()) + Duration::minutes(m.into()) + Duration::seconds(sec.into()) + Duration::nanoseconds(nanos.into());
    Ok(if sign == b'-' { -offset } else { offset })
}

/// The `n`-digit number at `s[at..]`, when all `n` are ASCII digits.
fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = s.get(at..at + n)?;
    slice.iter().all(u8::is_ascii_digit).then(|| slice.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("RFC 3339").with_timezone(&Utc)
    }

    #[test]
    fn every_form_python_accepts_is_read_with_no_zone_meaning_utc() {
        let cases = [
            // Dates alone: midnight UTC.
            ("2026-01-31", "2026-01-31T00:00:00Z"),
            ("20260131", "2026-01-31T00:00:00Z"),
            ("2026-W05", "2026-01-26T00:00:00Z"),
            ("2026-W05-6", "2026-01-31T00:00:00Z"),
            ("2026W05", "2026-01-26T00:00:00Z"),
            ("2026W056", "2026-01-31T00:00:00Z"),
            // Reduced times, as upstream's study form sends (`datetime-local`).
            ("2026-01-31T12", "2026-01-31T12:00:00Z"),
            ("2026-01-31T12:30", "2026-01-31T12:30:00Z"),
            ("2026-01-31T12:30:15", "2026-01-31T12:30:15Z"),
            ("2026-01-31T1230", "2026-01-31T12:30:00Z"),
            ("2026-01-31T123015", "2026-01-31T12:30:15Z"),
            ("20260131T123015", "2026-01-31T12:30:15Z"),
            ("2026-W05-6T12:30", "2026-01-31T12:30:00Z"),
            // Separators.
            ("2026-01-31 12:30", "2026-01-31T12:30:00Z"),
            ("2026-01-31t12:30", "2026-01-31T12:30:00Z"),
            // Fractions of any length, after . or ,.
            ("2026-01-31T12:30:15.5", "2026-01-31T12:30:15.5Z"),
            ("2026-01-31T12:30:15.123", "2026-01-31T12:30:15.123Z"),
            ("2026-01-31T12:30:15,123456", "2026-01-31T12:30:15.123456Z"),
            ("2026-01-31T12:30:15.123456789", "2026-01-31T12:30:15.123456789Z"),
            ("2026-01-31T12:30:15.1234567891234", "2026-01-31T12:30:15.123456789Z"),
            ("2026-01-31T123015.25", "2026-01-31T12:30:15.25Z"),
            // Zones.
            ("2026-01-31T12:30:15Z", "2026-01-31T12:30:15Z"),
            ("2026-01-31T12:30:15z", "2026-01-31T12:30:15Z"),
            ("2026-01-31T12:30Z", "2026-01-31T12:30:00Z"),
            ("2026-01-31T12Z", "2026-01-31T12:00:00Z"),
            ("2026-01-31T12:30:15+02:00", "2026-01-31T10:30:15Z"),
            ("2026-01-31T12:30:15-0530", "2026-01-31T18:00:15Z"),
            ("2026-01-31T12:30:15+02", "2026-01-31T10:30:15Z"),
            ("2026-01-31T12:30:15+02:00:30", "2026-01-31T10:29:45Z"),
            ("2026-01-31T12:30:15.5+00:00:00.5", "2026-01-31T12:30:15Z"),
            ("2026-01-31T00:30-01:00", "2026-01-31T01:30:00Z"),
            ("2026-01-31T00:30+01:00", "2026-01-30T23:30:00Z"),
            // What JavaScript's toISOString and chrono's to_rfc3339 write.
            ("2026-01-31T12:30:15.123Z", "2026-01-31T12:30:15.123Z"),
            ("2026-01-31T12:30:15.123456+00:00", "2026-01-31T12:30:15.123456Z"),
            // Whitespace around is ignored.
            ("  2026-01-31T12:30Z \n", "2026-01-31T12:30:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_instant(text), Ok(at(expected)), "{text}");
        }
    }

    #[test]
    fn what_python_refuses_is_refused() {
        for text in [
            "",
            "soon",
            "2026",
            "2026-01",
            "2026-031",
            "26-01-31",
            "2026-13-01",
            "2026-02-30",
            "2026-0131",
            "202601-31",
            "2026-W54",
            "2026-W05-8",
            "2026-01-31T",
            "2026-01-31X12:30",
            "2026-01-31T1",
            "2026-01-31T12:3",
            "2026-01-31T12:30:1",
            "2026-01-31T12.5",
            "2026-01-31T12:30.5",
            "2026-01-31T12:30:15.",
            "2026-01-31T12:30:15.x",
            "2026-01-31T12:3015",
            "2026-01-31T24:00",
            "2026-01-31T12:60",
            "2026-01-31T12:30:60",
            "2026-01-31T12:30+24:00",
            "2026-01-31T12:30+02:60",
            "2026-01-31T12:30+2",
            "2026-01-31T12:30Z+01:00",
            "2026-01-31T12:30 +01:00",
            "2026-01-31+01:00",
            "2026-01-31Z",
            "+2026-01-31",
            "0000-01-01",
            "２０２６-01-31",
        ] {
            assert!(parse_instant(text).is_err(), "{text} should be refused, got {:?}", parse_instant(text));
        }
        assert_eq!(parse_instant(&"2026-01-31T12:30:15.".repeat(4)), Err(InvalidTime("too long")));
    }
}
