//! Secret redaction: what a developer's code carries — provider keys, private keys, tokens,
//! passwords — is replaced with `<hidden>` before a prefix, suffix, model output or multi-file
//! context is stored, logged or sent to a model.
//!
//! Upstream runs detect-secrets (1.5) over the text. We keep its detectors' intent with three kinds
//! of rule, all applied to the whole text at once:
//! - **provider patterns** — formats with a recognisable prefix or shape (AWS, GitHub, GitLab, Slack,
//!   Stripe, OpenAI, Google, Hugging Face, npm, PyPI, SendGrid, Twilio, Discord, Telegram, JWTs,
//!   private-key blocks, passwords in URLs);
//! - **keyword assignments** — the value assigned to a name that says it is secret
//!   (`db_password = "..."`, `API_KEY=...`, `"token": "..."`);
//! - **high-entropy strings** — base64 (entropy above 4.5 bits per character) and hex (above 3.0)
//!   runs of 20+ / 32+ characters inside string literals, detect-secrets' limits.
//!
//! Only the secret itself is replaced, so the code around it still reads as code.

use std::borrow::Cow;
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
                && rule.accept.is_none_or(|accept| accept(secret.as_str(), &text[secret.end()..]))
            {
                spans.push(secret.range());
            }
        }
    }
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

/// One detector: the part of a match to hide is the `secret` group.
struct Rule {
    regex: Regex,
    /// Further check on the secret and the text after it (where a regex alone over-matches).
    accept: Option<fn(&str, &str) -> bool>,
}

fn rule(pattern: &str) -> Rule {
    Rule { regex: Regex::new(pattern).expect("a valid secret pattern"), accept: None }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Private keys: the whole block (to the end of the text if it was cut off).
        rule(r"(?P<secret>-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----|\z))"),
        // AWS access key ids, and secret keys next to an AWS-ish name.
        rule(r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})\b"),
        rule(r#"(?i)aws.{0,20}?(?:secret|key).{0,20}?['"=:]\s*['"]?(?P<secret>[A-Za-z0-9/+]{40})\b"#),
        // GitHub tokens (classic and fine-grained), GitLab tokens.
        rule(r"\b(?P<secret>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b"),
        rule(r"\b(?P<secret>github_pat_[A-Za-z0-9_]{60,255})\b"),
        rule(r"\b(?P<secret>(?:glpat|gldt|glrt|glptt|glft|glsoat|gloas)-[A-Za-z0-9_\-]{20,})"),
        // Slack tokens and webhooks.
        rule(r"\b(?P<secret>xox[abposr]-(?:\d+-)*[A-Za-z0-9\-]{10,})"),
        rule(r"(?P<secret>https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)"),
        // Stripe secret and restricted keys (publishable `pk_` keys are public by design).
        rule(r"\b(?P<secret>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})"),
        // OpenAI (legacy and project/service keys), Anthropic.
        rule(r"\b(?P<secret>sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})"),
        rule(r"\b(?P<secret>sk-(?:proj|svcacct|admin|ant-api\d\d|ant)-[A-Za-z0-9_\-]{20,})"),
        // Google API keys and OAuth client secrets.
        rule(r"\b(?P<secret>AIza[0-9A-Za-z_\-]{35})"),
        rule(r"\b(?P<secret>GOCSPX-[A-Za-z0-9_\-]{28})"),
        // Hugging Face, npm, PyPI, SendGrid, Twilio, Discord bot, Telegram bot tokens.
        rule(r"\b(?P<secret>hf_[A-Za-z0-9]{34,})\b"),
        rule(r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b"),
        rule(r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})"),
        rule(r"\b(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})"),
        rule(r"\b(?P<secret>SK[0-9a-fA-F]{32})\b"),
        rule(r"\b(?P<secret>[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})\b"),
        rule(r"\b(?P<secret>\d{8,10}:AA[0-9A-Za-z_\-]{33})\b"),
        // JSON Web Tokens.
        rule(r"\b(?P<secret>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"),
        // user:password@ in URLs: the password only.
        rule(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@'\x22]{1,100}:(?P<secret>[^\s/@'\x22]{1,200})@[A-Za-z0-9.\-\[]"),
        // A quoted value assigned to a secret-sounding name.
        Rule {
            regex: Regex::new(&format!(r#"(?i){SECRET_NAME}['"]?\s*(?::=|=>|=|:)\s*(?:[rbuf]|@)?(?P<quote>['"`])(?P<secret>[^'"`\s]{{4,}})"#))
                .expect("a valid secret pattern"),
            accept: Some(|secret, after| !is_placeholder(secret) && after.starts_with(['\'', '"', '`'])),
        },
        // An unquoted value (`.env`, shell, YAML, properties): only where it cannot be code.
        Rule {
            regex: Regex::new(&format!(r#"(?i){SECRET_NAME}\s*(?:=|:)[ \t]*(?P<secret>[A-Za-z0-9+/=_\-.!@#$%^&*~]{{8,}})"#))
                .expect("a valid secret pattern"),
            accept: Some(|secret, after| {
                let ends_line = after.is_empty() || after.starts_with(['\n', '\r', ' ', '\t', '#', ';', ','])
                    && !after.trim_start_matches([' ', '\t']).starts_with(['(', '.', '[', '+', '-', '*', '/']);
                ends_line && secret.bytes().any(|b| b.is_ascii_digit()) && !is_placeholder(secret)
            }),
        },
    ]
});

/// A name that says its value is secret: `password`, `db_pass`, `client_secret`, `API_KEY`,
/// `authToken`, `private-key`... (detect-secrets' keyword list plus tokens; without a word boundary at the end, so `passwordHash =` counts as well).
const SECRET_NAME: &str = r#"\b[\w.\-]*?(?:passw(?:or)?d|passwd|\bpwd|\bpass\b|_pass\b|secret|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|auth[_\-]?token|access[_\-]?token|refresh[_\-]?token|bearer[_\-]?token|\btoken|_token|account[_\-]?key)[\w.\-]*"#;

/// Values that only stand for a secret: templates, environment lookups, `changeme`, `xxxx`.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.starts_with(['$', '<', '{', '%'])
        || value.chars().all(|c| c == 'x' || c == 'X' || c == '*' || c == '.')
        || ["changeme", "password", "example", "placeholder", "your_", "dummy", "redacted", "hidden"].iter().any(|p| lower.contains(p))
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
    fn a_private_key_block_is_hidden_whole_even_when_cut_off() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8Ue2Ko7Pi\nq7Wz9Xv2Lk4Mn8Bp3Rt6Yh1Jd5Fs0Gc4Ha8\n-----END RSA PRIVATE KEY-----";
        let code = format!("KEY = \"\"\"\n{key}\n\"\"\"\nsign(KEY)");
        assert_eq!(redact(&code), "KEY = \"\"\"\n<hidden>\n\"\"\"\nsign(KEY)");
        let cut = "pem = '''-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
        assert_eq!(redact(cut), "pem = '''<hidden>");
    }

    #[test]
    fn lines_keep_their_numbers_when_a_secret_spans_several() {
        let lines: Vec<String> =
            ["x = 1", "-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "-----END PRIVATE KEY-----", "y = 2"].map(String::from).to_vec();
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
            "server/src/tokens.rs",
            "server/src/auth/password.rs",
            "server/src/auth/google.rs",
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
