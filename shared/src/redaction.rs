//! Secret redaction: what a developer's code carries — provider keys, private keys, tokens,
//! passwords — is replaced with `<hidden>` before a prefix, suffix, model output, multi-file
//! context, file name, chat message or title is stored, logged or sent to a model.
//!
//! Upstream runs detect-secrets (1.5) over the text. We keep its detectors' intent with three kinds
//! of rule, all applied to the whole text at once:
//! - **provider patterns** — formats with a recognisable prefix or shape (AWS, GitHub, GitLab, Slack,
//!   Stripe, OpenAI, Google, Hugging Face, npm, PyPI, SendGrid, Twilio, Discord, Telegram, JWTs,
//!   private-key blocks, passwords in URLs). Their edges are any character that is not an ASCII
//!   letter or digit, not `\b`: `_` is a word character, and `creds_AKIA….py` or
//!   `backup-ghp_….tar` must still be found inside a file name or an identifier;
//! - **keyword assignments** — the value assigned to a name that says it is secret
//!   (`db_password = "..."`, `API_KEY=...`, `"token": "..."`, `password: str = "..."`), see below;
//! - **high-entropy strings** — base64 (entropy above 4.5 bits per character) and hex (above 3.0)
//!   runs of 20+ / 32+ characters inside string literals, detect-secrets' limits.
//!
//! Only the secret itself is replaced, so the code around it still reads as code.
//!
//! ## Keyword assignments
//! A name *ends* in a secret word (`password`, `passwd`, `passphrase`, `pwd`, `pass`, `secret`,
//! `token`, `api_key`, `access_key`, `private_key`, `secret_key`, `account_key`, in any case and
//! with any prefix: `db_password`, `DB_PASSWORD`, `dbPassword`, `spring.datasource.password`,
//! `--password`, `x-api-key`) and is assigned with `=`, `:`, `:=` or `=>`: then **every** literal
//! value is hidden, whatever its length or alphabet (`password=kXIjVa`, `db_password=bkqpcxdejldclz`,
//! `secret = 'a'`, `"password": 123456`). A name that merely contains the word (`password_hash`,
//! `token_count`, `tokenizer`) keeps detect-secrets' stricter rule: quoted values of 4+ characters,
//! bare values of 8+ with a digit.
//!
//! What is left alone because it is code, not a secret (the decision this module documents):
//! - empty values, `None`/`null`/`nil`/`undefined`/`true`/`false`;
//! - calls, indexing and member or path access: `get_password()`, `os.environ["PW"]`,
//!   `self.password`, `Token::new`;
//! - variables in an obvious code position: followed by `,` `;` `)` `]` `}` (`connect(password=pw)`,
//!   `let token = t;`), continued by an operator or more words after a spaced `=`/`:` (`password =
//!   base + salt`, `token: the one the server sent`), sigiled (`$PASSWORD`, `@password`), or naming a
//!   secret themselves (`password = db_password`, `token = access_token`);
//! - type annotations after `:` (`password: str`, `token: Option<String>`, `password: &str`, a
//!   capitalised letters-only word such as `String` or `SecretString`);
//! - placeholders: templates, environment lookups and bind parameters (`${DB_PASSWORD}`,
//!   `{{ secret }}`, `<token>`, `%(pw)s`, `$2`, `:password`), `changeme`, `xxxx`, `****`,
//!   `your_token`, `example`, a value that is itself a secret word or a secret's name (the cookie
//!   name in `AUTH_TOKEN = "auth_token"`);
//! - prose: a value followed by more words after a spaced operator (`admin password: 8..50
//!   characters`), and the quote closing a string that holds the name (`split("token=")`).
//!
//! The line between a literal and a variable is drawn on the side of caution where syntax cannot
//! tell them apart: a bare word that ends the line (`.env`, INI, YAML, shell) is taken for a value,
//! so in Python `password = pw` hides `pw`. A quoted value with whitespace is taken for prose (a
//! label or message) and left, as detect-secrets does.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// What a secret becomes (upstream's marker).
pub const HIDDEN: &str = "<hidden>";

/// `text` with every secret replaced by [`HIDDEN`]; borrowed when there was none.
pub fn redact(text: &str) -> Cow<'_, str> {
    replace_spans(text, false)
}

/// Redacts each line, with secrets found on the joined text — so a private-key block split over
/// lines is still found — and every line kept in place: a secret spanning lines becomes `<hidden>`
/// followed by as many empty lines as it covered. For the multi-file context, stored as lines.
pub fn redact_lines(lines: &[String]) -> Vec<String> {
    let joined = lines.join("\n");
    match replace_spans(&joined, true) {
        Cow::Borrowed(_) => lines.to_vec(),
        Cow::Owned(redacted) => redacted.split('\n').map(str::to_owned).collect(),
    }
}

/// `map` with its keys (file names) redacted. Names that become equal once redacted
/// (`a_AKIA…1.py`, `a_AKIA…2.py`) are merged, their values appended in key order: the secret that
/// told them apart is exactly what cannot be kept.
pub fn redact_keys<V>(map: BTreeMap<String, Vec<V>>) -> BTreeMap<String, Vec<V>> {
    let mut redacted: BTreeMap<String, Vec<V>> = BTreeMap::new();
    for (name, values) in map {
        redacted.entry(redact(&name).into_owned()).or_default().extend(values);
    }
    redacted
}

fn replace_spans(text: &str, keep_line_breaks: bool) -> Cow<'_, str> {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(HIDDEN);
        if keep_line_breaks {
            out.extend(text[span.clone()].matches('\n'));
        }
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Byte ranges of the secrets in `text`, sorted and merged.
pub fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans: Vec<Range<usize>> = Vec::new();
    for rule in RULES.iter() {
        for captures in rule.regex.captures_iter(text) {
            if let Some(secret) = captures.name("secret")
                && (!rule.ends_at_separator || text[secret.end()..].chars().next().is_none_or(is_separator))
            {
                spans.push(secret.range());
            }
        }
    }
    spans.extend(assignment_spans(text));
    for literal in STRING_LITERAL.captures_iter(text) {
        let Some(body) = (1..=3).find_map(|i| literal.get(i)) else { continue };
        for token in ENTROPY_TOKEN.find_iter(body.as_str()) {
            if is_high_entropy(token.as_str()) {
                spans.push(body.start() + token.start()..body.start() + token.end());
            }
        }
    }
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// One provider detector: the part of a match to hide is the `secret` group.
struct Rule {
    regex: Regex,
    /// The secret must also end at a separator (or the text's end): for fixed-length formats,
    /// where more letters after it mean it was part of something longer.
    ends_at_separator: bool,
}

/// What may stand next to a provider key: anything but an ASCII letter or digit — so `_`, `-`,
/// `.` and `/` of identifiers, file names and paths separate, where `\b` would not see an edge
/// after `_`.
fn is_separator(c: char) -> bool {
    !c.is_ascii_alphanumeric()
}

/// A provider format that starts at a separator; `ends_at_separator` as [`Rule`] says.
fn provider(pattern: &str, ends_at_separator: bool) -> Rule {
    let regex = Regex::new(&format!("(?:^|[^A-Za-z0-9])(?P<secret>{pattern})")).expect("a valid secret pattern");
    Rule { regex, ends_at_separator }
}

/// A detector whose pattern carries its own context (a name, a URL scheme, a block marker).
fn rule(pattern: &str) -> Rule {
    Rule { regex: Regex::new(pattern).expect("a valid secret pattern"), ends_at_separator: false }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Private keys: the whole block (to the end of the text if it was cut off).
        rule(r"(?P<secret>-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\z))"),
        // AWS access key ids, and secret keys next to an AWS-ish name.
        provider(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}", true),
        rule(r#"(?i)aws.{0,20}?(?:secret|key).{0,20}?['"=:]\s*['"]?(?P<secret>[A-Za-z0-9/+]{40})\b"#),
        // GitHub tokens (classic and fine-grained), GitLab tokens.
        provider(r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}", true),
        provider(r"github_pat_[A-Za-z0-9_]{60,255}", true),
        provider(r"(?:glpat|gldt|glrt|glptt|glft|glsoat|gloas)-[A-Za-z0-9_\-]{20,}", false),
        // Slack tokens and webhooks.
        provider(r"xox[abposr]-(?:\d+-)*[A-Za-z0-9\-]{10,}", false),
        rule(r"(?P<secret>https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)"),
        // Stripe secret and restricted keys (publishable `pk_` keys are public by design).
        provider(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}", false),
        // OpenAI (legacy and project/service keys), Anthropic.
        provider(r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}", false),
        provider(r"sk-(?:proj|svcacct|admin|ant-api\d\d|ant)-[A-Za-z0-9_\-]{20,}", false),
        // Google API keys and OAuth client secrets.
        provider(r"AIza[0-9A-Za-z_\-]{35}", false),
        provider(r"GOCSPX-[A-Za-z0-9_\-]{28}", false),
        // Our own API keys (`c4m_` and 40 base62 characters).
        provider(r"c4m_[A-Za-z0-9]{40}", true),
        // Hugging Face, npm, PyPI, SendGrid, Twilio, Discord bot, Telegram bot tokens.
        provider(r"hf_[A-Za-z0-9]{34,}", true),
        provider(r"npm_[A-Za-z0-9]{36}", true),
        provider(r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}", false),
        provider(r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", false),
        provider(r"SK[0-9a-fA-F]{32}", true),
        provider(r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}", true),
        provider(r"\d{8,10}:AA[0-9A-Za-z_\-]{33}", true),
        // JSON Web Tokens.
        provider(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", false),
        // user:password@ in URLs: the password only.
        rule(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@'\x22]{1,100}:(?P<secret>[^\s/@'\x22]{1,200})@[A-Za-z0-9.\-\[]"),
    ]
});

/// A name that says its value is secret: `password`, `db_pass`, `client_secret`, `API_KEY`,
/// `authToken`, `private-key`... (detect-secrets' keyword list plus tokens; without a word boundary
/// at the end, so `passwordHash =` is found as well — [`ends_in_secret_word`] tells the two apart).
const SECRET_NAME: &str = r#"\b[\w.\-]*?(?:passw(?:or)?d|passwd|passphrase|\bpwd|\bpass\b|_pass\b|secret|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|auth[_\-]?token|access[_\-]?token|refresh[_\-]?token|bearer[_\-]?token|\btoken|_token|account[_\-]?key|(?-i:[a-z0-9](?:Token|Pass\b|Pwd\b)))[\w.\-]*"#;

/// A secret name, the quote closing it (JSON, PHP arrays), a type annotation (`password: str =`)
/// and the assignment operator; the value is read by [`assignment_spans`].
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r#"(?i)(?P<name>{SECRET_NAME})['"]?(?P<annotation>\s*:\s*[A-Za-z_&][\w\[\]<>.|&']*)?\s*(?P<op>:=|=>|=|:)"#))
        .expect("a valid assignment pattern")
});

/// The values assigned to secret names (the module's "Keyword assignments").
fn assignment_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for captures in ASSIGNMENT.captures_iter(text) {
        let (Some(name), Some(op)) = (captures.name("name"), captures.name("op")) else { continue };
        let strong = ends_in_secret_word(name.as_str());
        let rest = &text[op.end()..];
        let comparison = op.as_str() == "=" && rest.starts_with(['=', '~']);
        let path = op.as_str() == ":" && rest.starts_with(':');
        if comparison || path || (captures.name("annotation").is_some() && !strong) {
            continue;
        }
        // `"auth_token=" + t`, `split("token=")`: the quote after the operator closes the string that
        // holds the name; there is no value.
        let opened_before = text[..name.start()].chars().next_back().filter(|c| matches!(c, '"' | '\'' | '`'));
        if opened_before.is_some_and(|q| name.end() == op.start() && rest.starts_with(q)) {
            continue;
        }
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let spaced = gap > 0 || text[name.end()..op.start()].contains([' ', '\t']);
        let at = op.end() + gap;
        if let Some(body) = quoted_value(text, at) {
            let value = &text[body.clone()];
            let accepted = !value.is_empty()
                && !value.contains(char::is_whitespace)
                && !is_placeholder(value)
                && !is_secret_name(value)
                && (strong || value.len() >= 4);
            if accepted {
                spans.push(body);
            }
            continue;
        }
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let end = text[at..line_end]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '&' | '\'' | '"' | '`' | ')' | ']' | '}'))
            .map_or(line_end, |i| at + i);
        if is_bare_literal(&text[at..end], &text[end..line_end], op.as_str(), spaced, strong) {
            spans.push(at..end);
        }
    }
    spans
}

/// The body of a string literal starting at `at` (with an optional `r`/`b`/`f`/`u`/`@`/`$`
/// prefix), to its closing quote, or to the end of the line when it is cut off there (a prefix
/// ends at the caret, often inside the string being typed).
fn quoted_value(text: &str, at: usize) -> Option<Range<usize>> {
    let rest = &text.as_bytes()[at..];
    let prefix = rest.iter().take_while(|b| matches!(b, b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'f' | b'F' | b'@' | b'$')).count();
    let quote = *rest.get(prefix).filter(|&&q| prefix <= 2 && matches!(q, b'"' | b'\'' | b'`'))?;
    let start = at + prefix + 1;
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    // `B"` may be a value and the quote that closes its string: a prefix needs a closed literal.
    if prefix > 0 && bytes.get(i) != Some(&quote) {
        return None;
    }
    Some(start..i.min(bytes.len()))
}

/// Whether an unquoted value is a literal to hide rather than code (see the module's list).
/// `after` is the rest of its line; `spaced` says whether the operator had spaces around it.
fn is_bare_literal(value: &str, after: &str, op: &str, spaced: bool, strong: bool) -> bool {
    let lower = value.to_ascii_lowercase();
    let next = after.trim_start_matches([' ', '\t']);
    let code = value.is_empty()
        || value.starts_with(['#', '\\', '|', '?']) || value.starts_with("//") || value.starts_with("/*")
        || ["none", "null", "nil", "undefined", "true", "false", "nan", "self", "this", "super"].contains(&lower.as_str())
        || is_placeholder(value)
        || value.contains(['(', '[', '{', '<'])
        || MEMBER_ACCESS.is_match(value)
        || (value.starts_with(['&', '*']) && value[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '\'' || c == '_'))
        || (op == ":" && is_type_name(value))
        // Prose: `admin password: 8..50 characters`, `SET password = $2 WHERE`.
        || (spaced && next.starts_with(char::is_alphanumeric));
    if code {
        return false;
    }
    if IDENTIFIER.is_match(value) {
        let variable = value.starts_with(['$', '@'])
            || names_a_secret(&lower)
            || next.starts_with([')', ']', '}'])
            || (after.starts_with([',', ';']) && after[1..].chars().next().is_none_or(char::is_whitespace))
            || (spaced && !next.is_empty() && !is_comment(next));
        if variable {
            return false;
        }
    }
    if strong {
        return true;
    }
    // detect-secrets' rule for names that only contain a secret word: long, with a digit, alone.
    let alone = after.is_empty() || after.starts_with([' ', '\t', '\r', '#', ';', ',']);
    let continued = next.starts_with(['(', '.', '[', '+', '-', '*', '/']);
    value.len() >= 8 && value.bytes().any(|b| b.is_ascii_digit()) && alone && !continued
}

/// `a.b`, `a::b`, `a->b`, `a?.b`: a member or path, never a literal.
static MEMBER_ACCESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[$@]?[A-Za-z_][\w$]*(?:(?:\.|::|->|\?\.)[A-Za-z_$][\w$]*)+$").expect("member pattern"));

/// A bare identifier, maybe sigiled (`$pw`, `@password`).
static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[$@]?[A-Za-z_][A-Za-z0-9_]*$").expect("identifier pattern"));

/// A type after `name:` — a primitive, or a capitalised letters-only word (`String`, `SecretString`).
fn is_type_name(value: &str) -> bool {
    const PRIMITIVES: &[&str] = &[
        "str",
        "string",
        "bytes",
        "bytearray",
        "int",
        "integer",
        "float",
        "double",
        "bool",
        "boolean",
        "number",
        "bigint",
        "any",
        "unknown",
        "object",
        "char",
        "byte",
        "short",
        "long",
        "void",
        "never",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "f32",
        "f64",
        "uuid",
    ];
    PRIMITIVES.contains(&value)
        || (value.starts_with(|c: char| c.is_ascii_uppercase())
            && value.chars().all(|c| c.is_ascii_alphabetic())
            && value.chars().any(|c| c.is_ascii_lowercase()))
}

/// A comment opening the rest of a line.
fn is_comment(rest: &str) -> bool {
    rest.starts_with(['#', '\r']) || rest.starts_with("//") || rest.starts_with("/*") || rest.starts_with("--") || rest.starts_with(';')
}

/// Whether a quoted value is a secret's *name* (a cookie, header or dictionary key: `"auth_token"`,
/// `"x-api-key"`, `"session_token:"`): letters in words joined by `_ - . :`, one a secret word.
fn is_secret_name(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-', '.', ':']).filter(|w| !w.is_empty()).collect();
    words.len() >= 2
        && lower.chars().all(|c| c.is_ascii_lowercase() || matches!(c, '_' | '-' | '.' | ':'))
        && words.iter().any(|w| ["password", "passwd", "secret", "token", "pass", "pwd", "key", "apikey"].contains(w))
}

/// Whether an identifier itself names a secret (`db_password`, `ACCESS_TOKEN`): a variable.
fn names_a_secret(lower: &str) -> bool {
    ["password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "credential"].iter().any(|w| lower.contains(w))
}

/// Whether a name's last word is a secret word (`password`, `db_password`, `dbPassword`,
/// `SECRET_KEY`, `x-api-key`, `authToken`, `db_pass`, `password2`), as opposed to a name that
/// merely contains one (`password_hash`, `token_count`, `tokenizer`).
fn ends_in_secret_word(name: &str) -> bool {
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let squashed: String = name.chars().filter(|c| !matches!(c, '_' | '-' | '.')).collect::<String>().to_ascii_lowercase();
    const ANYWHERE: &[&str] = &["password", "passwd", "passphrase", "secret", "apikey", "accesskey", "privatekey", "secretkey", "accountkey"];
    if ANYWHERE.iter().any(|w| squashed.ends_with(w)) {
        return true;
    }
    // Short words only as a word of their own: `db_pass`, `dbPass`, `PWD`, `auth_token`, `githubToken`.
    ["pass", "pwd", "token"].iter().any(|w| {
        let Some(start) = name.len().checked_sub(w.len()) else { return false };
        let (before, word) = name.split_at(start);
        word.eq_ignore_ascii_case(w)
            && (before.is_empty()
                || before.ends_with(['_', '-', '.'])
                || (word.starts_with(|c: char| c.is_ascii_uppercase()) && before.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())))
    })
}

/// Values that only stand for a secret: templates, environment lookups, `changeme`, `xxxx`, a
/// secret word itself.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    // Templates, environment lookups and bind parameters (`$1`, `:password`, `[uuid]`).
    let lookup = value.starts_with(['<', '{', '%', '['])
        || value.strip_prefix('$').is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '{' | '('))
                || (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        || value.strip_prefix(':').is_some_and(|rest| IDENTIFIER.is_match(rest));
    lookup
        || value.chars().all(|c| matches!(c, 'x' | 'X' | '*' | '.' | '•'))
        || ["changeme", "example", "placeholder", "your_", "your-", "dummy", "redacted", "hidden"].iter().any(|p| lower.contains(p))
        || ["password", "passwd", "secret", "token", "pass", "pwd", "apikey", "api_key"].contains(&lower.as_str())
}

/// String literals ("...", '...', `...`) on one line; the body is group 1, 2 or 3.
static STRING_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"\\\n]{20,})"|'([^'\\\n]{20,})'|`([^`\\\n]{20,})`"#).expect("literal pattern"));

/// Runs of base64 / hex characters long enough to be keys.
static ENTROPY_TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_\-]{20,}={0,2}").expect("token pattern"));

/// detect-secrets' limits: base64 above 4.5 bits per character, hex (32+ characters) above 3.0.
fn is_high_entropy(token: &str) -> bool {
    let is_hex = token.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        return token.len() >= 32 && token.bytes().any(|b| b.is_ascii_alphabetic()) && shannon_entropy(token) > 3.0;
    }
    shannon_entropy(token) > 4.5
}

/// Bits per character of `text`'s own character distribution.
fn shannon_entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in text.bytes() {
        counts[b as usize] += 1;
    }
    let n = text.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic secrets in the formats providers issue (not real credentials), each embedded in a
    /// realistic line of code; `{}` marks the secret.
    const CORPUS: &[(&str, &str)] = &[
        ("aws id", "s3 = boto3.client('s3', aws_access_key_id='{}')"),
        ("aws secret", "AWS_SECRET_ACCESS_KEY = \"{}\""),
        ("github", "headers = {{'Authorization': 'token {}'}}"),
        ("github fine-grained", "const gh = new Octokit({{ auth: \"{}\" }});"),
        ("gitlab", "gitlab = Gitlab(url, private_token=\"{}\")"),
        ("slack bot", "client = WebClient(token=\"{}\")"),
        ("slack webhook", "requests.post(\"{}\", json=payload)"),
        ("stripe", "stripe.api_key = \"{}\""),
        ("openai legacy", "client = OpenAI(api_key=\"{}\")"),
        ("openai project", "openai.api_key = '{}'"),
        ("google", "const map = new Maps({{ key: '{}' }});"),
        ("google oauth", "let client_secret = \"{}\";"),
        ("hugging face", "login(\"{}\")"),
        ("code4me key", "curl -H \"Authorization: Bearer {}\" https://code4me.example/v1/models"),
        ("npm", "//registry.npmjs.org/:_authToken={}"),
        ("sendgrid", "sg = SendGridAPIClient(\"{}\")"),
        ("twilio", "api_key_sid = \"{}\""),
        ("jwt", "curl -H \"Authorization: Bearer {}\" https://api.example.org"),
        ("basic auth url", "DATABASE_URL = \"postgres://admin:{}@db.internal:5432/app\""),
        ("keyword quoted", "db_password = \"{}\""),
        ("keyword json", "{{\"client_secret\": \"{}\", \"client_id\": \"web\"}}"),
        ("keyword env", "API_KEY={}"),
        ("keyword yaml", "  password: {}"),
        ("high-entropy base64", "let signing_key = decode(\"{}\");"),
        ("high-entropy hex", "SESSION_SALT = bytes.fromhex(\"{}\")"),
        // Provider keys inside file names, identifiers and paths (`_`, `-`, `.`, `/` separate).
        ("aws id in a file name", "creds_{}.py"),
        ("aws id in an identifier", "BACKUP_{}_OLD = 1"),
        ("github token in a path", "/home/dev/backup-{}/config.yml"),
        ("hugging face in a file name", "model.{}.safetensors"),
        // Every literal value of a secret name, whatever its length or alphabet.
        ("keyword env letters only", "db_password={}"),
        ("keyword env short", "password={}"),
        ("keyword env upper", "export DB_PASSWORD={}"),
        ("keyword quoted one letter", "secret = '{}'"),
        ("keyword yaml short", "  api_key: {}"),
        ("keyword json number", "{{\"password\": {}, \"user\": \"bob\"}}"),
        ("keyword php array", "'db_pass' => '{}',"),
        ("keyword go", "token := \"{}\""),
        ("keyword annotated", "password: str = \"{}\""),
        ("keyword camel case", "const githubToken = '{}';"),
        ("keyword url query", "GET /login?user=bob&password={}&next=/"),
        ("keyword cli flag", "mysql --password={} -u root app"),
        ("keyword connection string", "conn = \"Server=db;Database=app;Password={};\""),
        ("keyword ini", "passwd = {}  ; production"),
        ("keyword cut off at the caret", "client_secret = \"{}"),
        ("chat title", "Deploy fails with db_password={} on staging"),
    ];

    fn secret(name: &str) -> String {
        match name {
            "aws id" => "AKIAIOSFODNN7QX3M2ZB".into(),
            "aws secret" => "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".into(),
            "github" => "ghp_R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ngABC".into(),
            "github fine-grained" => format!("github_pat_11ABCDEFG0{}", "q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc".repeat(2)),
            "gitlab" => "glpat-x9Qz2Lm7Rv4Kt8Wn3Bp6".into(),
            "slack bot" => "xoxb-2048611837-1234567890123-q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1J".into(),
            "slack webhook" => "https://hooks.slack.com/services/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".into(),
            "stripe" => "sk_live_51Hq7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd".into(),
            "openai legacy" => "sk-q7Wz9Xv2Lk4Mn8Bp3Rt6T3BlbkFJYh1Jd5Fs0Gc4Ha8Ue2".into(),
            "openai project" => "sk-proj-q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8Ue2Ko7Pi".into(),
            "google" => "AIzaSyq7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4H".into(),
            "google oauth" => "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".into(),
            "hugging face" => "hf_q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha".into(),
            "code4me key" => "c4m_q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8Ue2Ko".into(),
            "npm" => "npm_q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8".into(),
            "sendgrid" => "SG.q7Wz9Xv2Lk4Mn8Bp3Rt6Yh.1Jd5Fs0Gc4Ha8Ue2Ko7Piq7Wz9Xv2Lk4Mn8Bp3Rt6Yh1".into(),
            "twilio" => "SK0123456789abcdef0123456789abcdef".into(),
            "jwt" => "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".into(),
            "basic auth url" => "S3cr3t-Pa55".into(),
            "keyword quoted" => "tr0ub4dor&3horse".into(),
            "keyword json" => "Zx81-kkq-19ah".into(),
            "keyword env" => "a1b2c3d4e5f6g7h8".into(),
            "keyword yaml" => "Hunter2Hunter2".into(),
            "high-entropy base64" => "Rk9PQkFSLXNpZ25pbmcta2V5LTk4Nzo/XzEyMw+ZmQ".into(),
            "high-entropy hex" => "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            "aws id in a file name" | "aws id in an identifier" => "AKIAIOSFODNN7EXAMPLE".into(),
            "github token in a path" => "ghp_R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ngABC".into(),
            "hugging face in a file name" => "hf_q7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha".into(),
            "keyword env letters only" | "chat title" => "bkqpcxdejldclz".into(),
            "keyword env short" | "keyword connection string" => "kXIjVa".into(),
            "keyword env upper" => "hunter".into(),
            "keyword quoted one letter" => "a".into(),
            "keyword yaml short" => "q1".into(),
            "keyword json number" => "123456".into(),
            "keyword php array" => "letmein".into(),
            "keyword go" => "t0k".into(),
            "keyword annotated" => "pw1".into(),
            "keyword camel case" => "abc".into(),
            "keyword url query" => "hunter2".into(),
            "keyword cli flag" => "s3cr3t!".into(),
            "keyword ini" => "Tr0ub4dor".into(),
            "keyword cut off at the caret" => "kXIj".into(),
            other => unreachable!("no secret for {other}"),
        }
    }

    #[test]
    fn every_kind_of_secret_in_the_corpus_is_hidden_and_the_code_around_it_kept() {
        for (name, line) in CORPUS {
            let secret = secret(name);
            let code = line.replace("{{", "{").replace("}}", "}").replacen("{}", &secret, 1);
            let expected = line.replace("{{", "{").replace("}}", "}").replacen("{}", HIDDEN, 1);
            assert_eq!(redact(&code), expected, "{name}");
        }
    }

    #[test]
    fn a_provider_key_glued_to_more_letters_or_digits_is_not_a_key() {
        for text in ["XAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE9", "tokenAKIAIOSFODNN7EXAMPLE.py"] {
            assert_eq!(redact(text), text, "{text}");
        }
        assert_eq!(redact("a_AKIAIOSFODNN7EXAMPLE_b_AKIAIOSFODNN7EXAMPLF"), "a_<hidden>_b_<hidden>", "two keys one separator apart");
    }

    /// What the module documents as code, not a secret.
    #[test]
    fn code_that_only_names_a_secret_is_left_alone() {
        let code = [
            "password = get_password()",
            "password = None",
            "let password = null;",
            "password = ''",
            "password: str",
            "fn check(password: &str, token: Option<String>) -> bool {",
            "    password: SecretString,",
            "let token = tokens.next();",
            "password = self.password",
            "password = os.environ[\"DB_PASSWORD\"]",
            "conn = connect(host=h, password=pw)",
            "conn = connect(password=pw, user=u)",
            "if password == \"\":",
            "token = access_token",
            "PASSWORD=${DB_PASSWORD}",
            "password=$PASSWORD ./run.sh",
            "  password: string;",
            "let hash = Password::parse(raw)?;",
            "api_key = settings.api_key",
            "secret = config['secret']",
            "const password = await ask();",
            "def login(user, password=None):",
            "token: the one the server sent",
            "password = base + salt",
            "password_hash = hasher.hash(password)",
            "max_tokens = 256",
            "token_count: 12",
            "password = \"changeme\"",
            "api_key = \"<your-api-key>\"",
            "password: \"Enter your password\"",
            "$password = $_POST['password'];",
            "{ password, token }",
            "pub const AUTH_TOKEN: &str = \"auth_token\";",
            "pub const SESSION_TOKEN: &str = \"session_token:\";",
            "let token = path.split(\"token=\").nth(1).expect(\"token\");",
            "cookie.starts_with(\"auth_token=\")",
            "sqlx::query(\"UPDATE users SET password = $2 WHERE id = $1\")",
            "UPDATE users SET password = :password WHERE id = :id",
            "anyhow!(\"admin password: 8..50 characters with a digit\")",
            "let mut on_token = |event: TokenEvent| {",
            "\".user.auth_token\" => \"[uuid]\",",
        ];
        for line in code {
            let found: Vec<&str> = secret_spans(line).into_iter().map(|s| &line[s]).collect();
            assert!(found.is_empty(), "{line:?}: {found:?}");
        }
    }

    #[test]
    fn file_names_that_become_equal_once_redacted_are_merged() {
        let map = BTreeMap::from([
            ("a_AKIAIOSFODNN7EXAMPLE.py".to_owned(), vec![1]),
            ("a_AKIAIOSFODNN7EXAMPLF.py".to_owned(), vec![2]),
            ("b.py".to_owned(), vec![3]),
        ]);
        assert_eq!(redact_keys(map), BTreeMap::from([("a_<hidden>.py".to_owned(), vec![1, 2]), ("b.py".to_owned(), vec![3])]));
    }

    #[test]
    fn a_private_key_block_is_hidden_whole_even_when_cut_off() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8Ue2Ko7Pi\nq7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8\n-----END RSA PRIVATE KEY-----";
        let code = format!("KEY = \"\"\"\n{key}\n\"\"\"\nsign(KEY)");
        assert_eq!(redact(&code), "KEY = \"\"\"\n<hidden>\n\"\"\"\nsign(KEY)");
        let cut = "pem = '''-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
        assert_eq!(redact(cut), "pem = '''<hidden>");
    }

    #[test]
    fn lines_keep_their_numbers_when_a_secret_spans_several() {
        let lines: Vec<String> = ["x = 1", "-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "-----END PRIVATE KEY-----", "y = 2"]
            .map(String::from)
            .to_vec();
        assert_eq!(redact_lines(&lines), ["x = 1", "<hidden>", "", "", "y = 2"]);
        let plain: Vec<String> = vec!["fn main() {}".into()];
        assert_eq!(redact_lines(&plain), plain);
    }

    /// Ordinary code — this repository's own sources, full of names like `password`, `token` and
    /// `secret`, hashes in tests and long identifiers — comes through untouched.
    #[test]
    fn ordinary_code_is_left_alone() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root");
        let files = [
            "shared/src/settings.rs",
            "shared/src/domain.rs",
            "shared/src/connect.rs",
            "shared/src/validation.rs",
            "server/src/services/tokens.rs",
            "server/src/services/auth/password.rs",
            "server/src/services/auth/oidc.rs",
            "server/src/services/auth/github.rs",
            "server/src/services/sign_in.rs",
            "worker/src/model/tokenizer.rs",
            "worker/src/model/sampling.rs",
            "website/src/api.ts",
            "bench/llama_cpp_inference.py",
        ];
        let mut checked = 0;
        for file in files {
            let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
            checked += 1;
            let found: Vec<&str> = secret_spans(&text).into_iter().map(|s| &text[s]).collect();
            assert!(found.is_empty(), "{file}: false positives {found:?}");
        }
        assert!(checked >= 8, "the corpus files exist ({checked} read)");
    }

    #[test]
    fn entropy_separates_keys_from_words() {
        assert!(shannon_entropy("aaaa") < 0.01);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert!(!is_high_entropy("this_is_a_long_identifier_name"));
        assert!(!is_high_entropy("0123456789012345678901234567890123"), "digits only are not a hex key");
        assert!(is_high_entropy("Rk9PQkFSLXNpZ25pbmcta2V5LTk4Nzo/XzEyMw+ZmQ"));
    }
}
