//! Text bound into PostgreSQL by the worker.
//!
//! A `text` column cannot hold U+0000: PostgreSQL rejects the whole statement ("invalid byte
//! sequence for encoding UTF8: 0x00"), and a write PostgreSQL rejects is moved to the dead set — a
//! query's telemetry or a file's index lost for one character. The server refuses NUL in request
//! bodies, but the worker also writes text it made itself (a model can emit a U+0000 token) or that
//! an older server queued, so every text the worker binds goes through [`pg_text`]: it replaces
//! U+0000 with U+FFFD, which keeps the text's length in characters and shows that something was there.
//!
//! Nothing else in a Rust string can be refused by a UTF-8 database (a `&str` is valid UTF-8 and
//! cannot hold a lone surrogate), so this is the worker's whole text rule.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// What U+0000 becomes.
pub const NUL_REPLACEMENT: char = '\u{FFFD}';
const NUL_REPLACEMENT_STR: &str = "\u{FFFD}";

/// `text` as PostgreSQL accepts it; borrowed when it had no NUL (the usual case: no copy).
pub fn pg_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', NUL_REPLACEMENT_STR)) } else { Cow::Borrowed(text) }
}

/// [`pg_text`] of an optional text (a nullable column).
pub fn pg_text_opt(text: Option<&str>) -> Option<Cow<'_, str>> {
    text.map(pg_text)
}

/// [`pg_text`] of an owned text, reusing it when it had no NUL.
pub fn pg_string(text: String) -> String {
    match pg_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cleaned) => cleaned,
    }
}

/// A map whose keys are bound (or serialised into a bound JSON text) with [`pg_text`] applied to
/// each key; borrowed when no key had a NUL. Keys that become equal add their values up.
pub fn pg_keys<V: Clone + std::ops::AddAssign>(map: &BTreeMap<String, V>) -> Cow<'_, BTreeMap<String, V>> {
    if !map.keys().any(|k| k.contains('\0')) {
        return Cow::Borrowed(map);
    }
    let mut cleaned: BTreeMap<String, V> = BTreeMap::new();
    for (key, value) in map {
        match cleaned.entry(pg_string(key.clone())) {
            std::collections::btree_map::Entry::Occupied(mut slot) => *slot.get_mut() += value.clone(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value.clone());
            }
        }
    }
    Cow::Owned(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_becomes_the_replacement_character_and_clean_text_is_not_copied() {
        assert_eq!(pg_text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(pg_text("plain"), Cow::Borrowed("plain")));
        assert_eq!(pg_text_opt(Some("\0")).as_deref(), Some("\u{FFFD}"));
        assert_eq!(pg_text_opt(None), None);
        assert_eq!(pg_string("x\0".to_owned()), "x\u{FFFD}");
    }

    #[test]
    fn map_keys_are_cleaned_and_colliding_keys_add_up() {
        let map = BTreeMap::from([("a\0.py".to_owned(), 2_usize), ("a\u{FFFD}.py".to_owned(), 3), ("b.py".to_owned(), 1)]);
        assert_eq!(pg_keys(&map).into_owned(), BTreeMap::from([("a\u{FFFD}.py".to_owned(), 5), ("b.py".to_owned(), 1)]));
        let clean = BTreeMap::from([("b.py".to_owned(), 1_usize)]);
        assert!(matches!(pg_keys(&clean), Cow::Borrowed(_)));
    }
}
