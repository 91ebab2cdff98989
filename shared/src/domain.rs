//! Validated domain values: each can only be built by parsing, so a function that takes one never
//! re-checks it. Rules and messages are upstream's (pydantic models in Code4me V2's `Queries.py`).

use std::fmt;

use crate::validation::Rejection;

/// Upstream's password rule: an upper-case letter, a lower-case letter, a digit, no white space.
pub const PASSWORD_PATTERN: &str = r"^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)\S{8,}$";

fn check_length(value: &str, min: usize, max: usize) -> Result<(), Rejection> {
    let chars = value.chars().count();
    if chars < min {
        return Err(Rejection::too_short(min));
    }
    if chars > max {
        return Err(Rejection::too_long(max));
    }
    Ok(())
}

/// An e-mail address, trimmed and lower-cased (so lookups are case-insensitive), 3..=50 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        let normalised = raw.trim().to_lowercase();
        check_length(&normalised, 3, 50)?;
        let invalid = |reason: &str| Rejection::value_error(format!("value is not a valid email address: {reason}"), reason);
        let Some((local, domain)) = normalised.rsplit_once('@') else {
            return Err(invalid("An email address must have an @-sign."));
        };
        if local.is_empty() {
            return Err(invalid("There must be something before the @-sign."));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid("The part after the @-sign is not valid. It should have a period."));
        }
        if !email_address::EmailAddress::is_valid(&normalised) {
            return Err(invalid("The email address contains invalid characters."));
        }
        Ok(Self(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name, 3..=50 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        check_length(raw, 3, 50)?;
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that satisfies upstream's rule (8..=50 characters, upper, lower, digit, no spaces).
/// Deliberately not `Debug`-printable.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Parses a new password.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        check_length(raw, 8, 50)?;
        let has = |f: fn(char) -> bool| raw.chars().any(f);
        let valid = has(|c| c.is_ascii_uppercase()) && has(|c| c.is_ascii_lowercase()) && has(|c| c.is_ascii_digit()) && !has(char::is_whitespace);
        if !valid {
            return Err(Rejection::pattern(PASSWORD_PATTERN));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A project name, 1..=100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    /// Parses a project name.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        check_length(raw, 1, 100)?;
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a file in a web-editor project (a path such as `src/main.py`): 1..=512 characters
/// (the column's width), no control characters, no backslash, no white space at either end, not
/// absolute, and no empty, `.` or `..` segment. The one rule for the file endpoints and the
/// collaboration rooms, so a name the editor can create is a room it can join and no name can
/// pose as a path outside the project when files are exported or shown as a tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 512;

    /// Parses a file name.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        check_length(raw, 1, Self::MAX_CHARS)?;
        let refuse = |why: &str| Err(Rejection::value_error(format!("Value error, file names {why}"), why));
        if raw.chars().any(char::is_control) {
            return refuse("cannot hold control characters");
        }
        if raw.chars().any(is_invisible_format) {
            return refuse("cannot hold invisible or direction-changing characters");
        }
        if raw.contains('\\') {
            return refuse("cannot hold a backslash (separate folders with '/')");
        }
        if raw.trim() != raw {
            return refuse("cannot start or end with white space");
        }
        if raw.starts_with('/') {
            return refuse("cannot start with '/'");
        }
        if raw.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
            return refuse("cannot have an empty, '.' or '..' segment");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unicode format characters that are invisible or reorder text (zero-width characters, the
/// bidirectional overrides and isolates, the BOM, the soft hyphen): a name holding them can look
/// like another in a file tree or a confirmation dialog.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A UUID (tokens, ids), with pydantic's error when it does not parse.
pub fn parse_uuid(raw: &str) -> Result<uuid::Uuid, Rejection> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|e| Rejection::value_error(format!("Input should be a valid UUID, {e}"), e.to_string()))
}

/// A secret token (auth, session, project, verification, password reset) in the one form the
/// server issues: lower-case hex in 8-4-4-4-12 groups. `Uuid::parse_str` also takes upper case,
/// braces, `urn:uuid:` and the bare 32 digits; accepting those would give every token several
/// spellings (for caches, logs and rate limits to disagree on), so they are refused.
pub fn parse_token(raw: &str) -> Option<uuid::Uuid> {
    let token = uuid::Uuid::try_parse(raw).ok()?;
    let mut canonical = uuid::Uuid::encode_buffer();
    (token.hyphenated().encode_lower(&mut canonical) == raw).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_the_form_the_server_issues() {
        let token = uuid::Uuid::new_v4();
        let issued = token.to_string();
        assert_eq!(parse_token(&issued), Some(token));
        for other in [issued.to_uppercase(), format!("{{{issued}}}"), format!("urn:uuid:{issued}"), issued.replace('-', ""), format!(" {issued}")] {
            assert_eq!(parse_token(&other), None, "{other}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Alice@Example.COM ").expect("valid").as_str(), "alice@example.com");
    }

    #[test]
    fn emails_without_at_sign_or_dotted_domain_are_rejected() {
        for bad in ["alice.example.com", "alice@localhost", "@example.com", "a b@example.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_length_is_bounded() {
        let long = format!("{}@example.com", "a".repeat(45));
        assert_eq!(Email::parse(&long).expect_err("too long"), Rejection::too_long(50));
    }

    #[test]
    fn names_need_three_to_fifty_characters() {
        assert_eq!(UserName::parse("ab").expect_err("short"), Rejection::too_short(3));
        assert!(UserName::parse("abc").is_ok());
        assert_eq!(UserName::parse(&"x".repeat(51)).expect_err("long"), Rejection::too_long(50));
    }

    #[test]
    fn passwords_follow_the_upstream_rule() {
        assert!(Password::parse("Secret123").is_ok());
        assert_eq!(Password::parse("Sec1").expect_err("short"), Rejection::too_short(8));
        for bad in ["secret123", "SECRET123", "SecretPass", "Secret 123"] {
            assert_eq!(Password::parse(bad).expect_err(bad), Rejection::pattern(PASSWORD_PATTERN), "{bad}");
        }
    }

    #[test]
    fn passwords_never_appear_in_debug_output() {
        let p = Password::parse("Secret123").expect("valid");
        assert!(!format!("{p:?}").contains("Secret123"));
    }

    #[test]
    fn project_names_need_one_to_a_hundred_characters() {
        assert!(ProjectName::parse("").is_err());
        assert!(ProjectName::parse("p").is_ok());
        assert!(ProjectName::parse(&"p".repeat(101)).is_err());
    }

    #[test]
    fn file_names_are_relative_paths_without_tricks() {
        for good in ["main.py", "src/main.py", "a/b/c.d.e", "with space.txt", ".gitignore", "src/.env", "..hidden", "a..b/c", "ü/数据.rs"] {
            assert_eq!(FileName::parse(good).expect(good).as_str(), good);
        }
        assert_eq!(FileName::parse("").expect_err("empty"), Rejection::too_short(1));
        assert_eq!(FileName::parse(&"x".repeat(513)).expect_err("long"), Rejection::too_long(512));
        assert!(FileName::parse(&"x".repeat(512)).is_ok());
        assert!(FileName::parse(&"ü".repeat(512)).is_ok(), "characters, not bytes");
        for bad in [
            "evil\u{202E}yp.exe",
            "zero\u{200B}width.py",
            "\u{FEFF}bom.py",
            "a\u{0}b",
            "line\nbreak",
            "tab\there",
            "\u{7f}",
            "/abs",
            "/",
            "../x",
            "a/../b",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            "..",
            ".",
            "a\\b",
            "C:\\x",
            " lead",
            "trail ",
            "\u{a0}nbsp",
            "a/b ",
        ] {
            let issue = FileName::parse(bad).expect_err(bad).at(Vec::new(), serde_json::Value::Null);
            assert_eq!(issue.kind, "value_error", "{bad:?}");
        }
    }
}
