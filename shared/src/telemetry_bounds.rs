//! The documented range of every numeric telemetry field: what a real editor can report and what
//! the analytics can aggregate without overflow. The server refuses a value outside (422 with the
//! field's path); the worker, as a last line, stores NULL instead of a value outside (a job queued
//! by an older server must not fail its whole batch on the database's CHECK constraints, migration
//! `20261204000001`, which hold the same numbers).

use crate::jobs::telemetry::{BehavioralRow, ContextualRow};

/// Typing speed, characters per minute (the fastest typists reach about 1,000).
pub const MAX_TYPING_SPEED: f64 = 10_000.0;
/// Durations in milliseconds: 30 days.
pub const MAX_DURATION_MS: i64 = 30 * 24 * 3600 * 1000;
/// Caret line (0-based).
pub const MAX_CARET_LINE: i64 = 10_000_000;
/// Document length in characters.
pub const MAX_DOCUMENT_CHARS: i64 = 1_000_000_000;
/// The caret's relative position in its document.
pub const MAX_RELATIVE_POSITION: f64 = 1.0;

fn float_within(value: Option<f64>, max: f64) -> Option<f64> {
    value.filter(|v| (0.0..=max).contains(v))
}

fn integer_within<T: Into<i64> + Copy>(value: Option<T>, max: i64) -> Option<T> {
    value.filter(|v| (0..=max).contains(&(*v).into()))
}

impl BehavioralRow {
    /// The row with every value outside its range replaced by NULL.
    #[must_use]
    pub fn within_bounds(&self) -> Self {
        Self {
            time_since_last_shown: integer_within(self.time_since_last_shown, MAX_DURATION_MS),
            time_since_last_accepted: integer_within(self.time_since_last_accepted, MAX_DURATION_MS),
            typing_speed: float_within(self.typing_speed, MAX_TYPING_SPEED),
        }
    }
}

impl ContextualRow {
    /// The row with every value outside its range replaced by NULL.
    #[must_use]
    pub fn within_bounds(&self) -> Self {
        Self {
            caret_line: integer_within(self.caret_line, MAX_CARET_LINE),
            document_char_length: integer_within(self.document_char_length, MAX_DOCUMENT_CHARS),
            relative_document_position: float_within(self.relative_document_position, MAX_RELATIVE_POSITION),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_their_ranges_become_null_and_the_rest_stay() {
        let poisoned = BehavioralRow { time_since_last_shown: Some(i64::MAX - 1), time_since_last_accepted: Some(-1), typing_speed: Some(1e308) };
        assert_eq!(poisoned.within_bounds(), BehavioralRow::default());
        let fine = BehavioralRow { time_since_last_shown: Some(0), time_since_last_accepted: Some(MAX_DURATION_MS), typing_speed: Some(250.5) };
        assert_eq!(fine.within_bounds(), fine);
        assert_eq!(BehavioralRow { typing_speed: Some(f64::NAN), ..fine.clone() }.within_bounds().typing_speed, None);
        let context =
            ContextualRow { caret_line: Some(-3), document_char_length: Some(10), relative_document_position: Some(1.5), ..ContextualRow::default() };
        let bounded = context.within_bounds();
        assert_eq!((bounded.caret_line, bounded.document_char_length, bounded.relative_document_position), (None, Some(10), None));
        assert_eq!(
            ContextualRow { relative_document_position: Some(f64::INFINITY), ..ContextualRow::default() }.within_bounds().relative_document_position,
            None
        );
    }
}
