//! Typed settings, read once from the environment at start-up.
//!
//! Variable names follow Code4me V2 where it has one (`SERVER_PORT`, `DB_HOST`, `REDIS_PORT`,
//! `AUTHENTICATION_TOKEN_EXPIRES_IN_SECONDS`, ...) so an upstream `.env` keeps working. Loading fails
//! fast with an error naming the variable; secrets are wrapped so `Debug` never prints them.
//! Every variable is listed and explained in `.env.example`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The variable is set but its value does not parse.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Invalid {
        /// Name of the variable.
        var: String,
        /// The offending value (never a secret: secrets are strings and always parse).
        value: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// Where settings come from: the process environment, or an explicit map (tests build several
/// servers with different settings in one process, so they must not go through `std::env`).
#[derive(Debug, Clone, Default)]
pub struct EnvSource {
    vars: HashMap<String, String>,
}

impl EnvSource {
    /// Snapshot of the process environment.
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    /// An environment made of exactly these pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// Returns a copy with `key` set to `value` (overriding any previous value).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The raw value of `name`, treating an empty value as unset (as docker-compose passes them).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Parses `name`, or returns `default` when it is unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| SettingsError::Invalid {
                var: name.to_owned(),
                value: value.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// The string value of `name`, or `default` when unset.
    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    /// Parses `name` as whole seconds.
    pub fn seconds_or(&self, name: &str, default: u64) -> Result<Duration, SettingsError> {
        self.parse_or(name, default).map(Duration::from_secs)
    }

    /// Parses `name` as whole milliseconds.
    pub fn millis_or(&self, name: &str, default: u64) -> Result<Duration, SettingsError> {
        self.parse_or(name, default).map(Duration::from_millis)
    }
}

/// PostgreSQL connection settings (`DB_*`).
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Host name or IP address, or an absolute socket directory.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role to connect as.
    pub user: String,
    /// Password of that role (never logged).
    pub password: SecretString,
    /// Database name.
    pub name: String,
    /// Upper bound of pooled connections per process (upstream `DB_POOL_SIZE`).
    pub pool_size: u32,
    /// How long a request waits for a pooled connection before failing (upstream `DB_POOL_TIMEOUT`).
    pub pool_timeout: Duration,
}

impl DatabaseSettings {
    /// Reads `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_PASSWORD`, `DB_NAME`, `DB_POOL_SIZE`, `DB_POOL_TIMEOUT`.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            host: env.string_or("DB_HOST", "127.0.0.1"),
            port: env.parse_or("DB_PORT", 55432)?,
            user: env.string_or("DB_USER", "code4me"),
            password: SecretString::from(env.string_or("DB_PASSWORD", "code4me")),
            name: env.string_or("DB_NAME", "code4me"),
            pool_size: env.parse_or("DB_POOL_SIZE", 20)?,
            pool_timeout: env.seconds_or("DB_POOL_TIMEOUT", 5)?,
        })
    }

    /// The password, for building a connection (the only place it leaves its wrapper).
    pub fn expose_password(&self) -> &str {
        self.password.expose_secret()
    }
}

/// Redis connection settings (`REDIS_*`).
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Optional password (`requirepass`), never logged.
    pub password: Option<SecretString>,
    /// Logical database number.
    pub db: u8,
    /// Per-command response timeout. redis-rs defaults to 500 ms, which kills apalis workers under
    /// load (rust-stack-notes §2.9); ours is longer for commands and bounded for health checks.
    pub response_timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
}

impl RedisSettings {
    /// Reads `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DB`, `REDIS_RESPONSE_TIMEOUT_MS`,
    /// `REDIS_CONNECT_TIMEOUT_MS`.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            host: env.string_or("REDIS_HOST", "127.0.0.1"),
            port: env.parse_or("REDIS_PORT", 56379)?,
            password: env.raw("REDIS_PASSWORD").map(|p| SecretString::from(p.to_owned())),
            db: env.parse_or("REDIS_DB", 0)?,
            response_timeout: env.millis_or("REDIS_RESPONSE_TIMEOUT_MS", 5_000)?,
            connect_timeout: env.millis_or("REDIS_CONNECT_TIMEOUT_MS", 1_000)?,
        })
    }

    /// `redis://` URL including the password; treat the result as a secret.
    pub fn url(&self) -> String {
        let auth = match &self.password {
            Some(p) => format!(":{}@", p.expose_secret()),
            None => String::new(),
        };
        format!("redis://{auth}{}:{}/{}", self.host, self.port, self.db)
    }
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default: machine-readable, carries span fields).
    Json,
    /// Human-readable lines for local debugging.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            other => Err(format!("expected json or pretty, got {other}")),
        }
    }
}

/// Lifetimes of the tokens kept in Redis (upstream names and defaults).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `AUTHENTICATION_TOKEN_EXPIRES_IN_SECONDS` (default 1 day).
    pub auth_token_ttl: Duration,
    /// `SESSION_TOKEN_EXPIRES_IN_SECONDS` (default 2 hours).
    pub session_token_ttl: Duration,
    /// `EMAIL_VERIFICATION_TOKEN_EXPIRES_IN_SECONDS` (default 1 day).
    pub email_verification_ttl: Duration,
    /// `RESET_PASSWORD_TOKEN_EXPIRES_IN_SECONDS` (default 15 minutes).
    pub reset_password_ttl: Duration,
    /// `TOKEN_HOOK_ACTIVATION_IN_SECONDS`: how long before a token expires its cleanup hook fires.
    pub hook_activation: Duration,
}

impl TokenSettings {
    /// Reads the token lifetimes.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            auth_token_ttl: env.seconds_or("AUTHENTICATION_TOKEN_EXPIRES_IN_SECONDS", 86_400)?,
            session_token_ttl: env.seconds_or("SESSION_TOKEN_EXPIRES_IN_SECONDS", 7_200)?,
            email_verification_ttl: env.seconds_or("EMAIL_VERIFICATION_TOKEN_EXPIRES_IN_SECONDS", 86_400)?,
            reset_password_ttl: env.seconds_or("RESET_PASSWORD_TOKEN_EXPIRES_IN_SECONDS", 900)?,
            hook_activation: env.seconds_or("TOKEN_HOOK_ACTIVATION_IN_SECONDS", 10)?,
        })
    }
}

/// Transport security towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (local relays, tests).
    None,
    /// Upgrade with STARTTLS (port 587; upstream's `EMAIL_USE_TLS=true`).
    StartTls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
}

impl FromStr for SmtpTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" | "false" => Ok(Self::None),
            "starttls" | "true" => Ok(Self::StartTls),
            "tls" | "ssl" => Ok(Self::Tls),
            other => Err(format!("expected none, starttls or tls, got {other}")),
        }
    }
}

/// Outgoing mail (`EMAIL_*`, upstream's names). Without `EMAIL_HOST`, mails are written to the log
/// instead (a local install without a mail server still shows verification links).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// SMTP server; `None` logs mails instead of sending them.
    pub host: Option<String>,
    /// SMTP port.
    pub port: u16,
    /// SMTP user, when the server wants authentication.
    pub username: Option<String>,
    /// SMTP password (never logged).
    pub password: Option<SecretString>,
    /// Transport security.
    pub tls: SmtpTls,
    /// `From:` header.
    pub from: String,
    /// How long one delivery may take.
    pub timeout: Duration,
}

impl EmailSettings {
    /// Reads `EMAIL_HOST`, `EMAIL_PORT`, `EMAIL_USERNAME`, `EMAIL_PASSWORD`, `EMAIL_TLS` (or upstream's
    /// `EMAIL_USE_TLS`), `EMAIL_FROM`, `EMAIL_TIMEOUT_SECONDS`.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let upstream_tls = env.parse_or("EMAIL_USE_TLS", false)?;
        let default_tls = if upstream_tls { SmtpTls::StartTls } else { SmtpTls::None };
        Ok(Self {
            host: env.raw("EMAIL_HOST").map(str::to_owned),
            port: env.parse_or("EMAIL_PORT", 587)?,
            username: env.raw("EMAIL_USERNAME").map(str::to_owned),
            password: env.raw("EMAIL_PASSWORD").map(|p| SecretString::from(p.to_owned())),
            tls: env.parse_or("EMAIL_TLS", default_tls)?,
            from: env.string_or("EMAIL_FROM", "Code4me <noreply@code4me.local>"),
            timeout: env.seconds_or("EMAIL_TIMEOUT_SECONDS", 10)?,
        })
    }
}

/// Google sign-in. Tokens are verified against the issuer's published keys; the issuer URL is
/// configurable so tests (and other OpenID providers) need nothing hard-wired to Google.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// OAuth client id (`GOOGLE_CLIENT_ID`, or upstream's `REACT_APP_GOOGLE_CLIENT_ID`); `None`
    /// disables Google sign-in.
    pub client_id: Option<String>,
    /// OAuth client secret for the website's code flow (`GOOGLE_CLIENT_SECRET`).
    pub client_secret: Option<SecretString>,
    /// OpenID issuer (`GOOGLE_ISSUER_URL`, default `https://accounts.google.com`).
    pub issuer_url: String,
    /// How long fetched signing keys are trusted before being refreshed (`GOOGLE_JWKS_CACHE_SECONDS`).
    pub jwks_cache_ttl: Duration,
}

impl GoogleSettings {
    /// Reads the Google settings.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            client_id: env.raw("GOOGLE_CLIENT_ID").or_else(|| env.raw("REACT_APP_GOOGLE_CLIENT_ID")).map(str::to_owned),
            client_secret: env.raw("GOOGLE_CLIENT_SECRET").map(|s| SecretString::from(s.to_owned())),
            issuer_url: env.string_or("GOOGLE_ISSUER_URL", "https://accounts.google.com").trim_end_matches('/').to_owned(),
            jwks_cache_ttl: env.seconds_or("GOOGLE_JWKS_CACHE_SECONDS", 3_600)?,
        })
    }
}

/// GitHub sign-in (OAuth 2 authorization code; GitHub is not an OpenID provider). Every endpoint
/// is configurable so tests run a local stand-in.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// OAuth app client id (`GITHUB_CLIENT_ID`); `None` disables GitHub sign-in.
    pub client_id: Option<String>,
    /// OAuth app client secret (`GITHUB_CLIENT_SECRET`); `None` disables GitHub sign-in.
    pub client_secret: Option<SecretString>,
    /// Where the browser is sent (`GITHUB_AUTHORIZE_URL`, default `https://github.com/login/oauth/authorize`).
    pub authorize_url: String,
    /// Where a code is exchanged (`GITHUB_TOKEN_URL`, default `https://github.com/login/oauth/access_token`).
    pub token_url: String,
    /// The REST API the user's name and addresses come from (`GITHUB_API_URL`, default `https://api.github.com`).
    pub api_url: String,
}

impl GitHubSettings {
    /// Reads the GitHub settings.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            client_id: env.raw("GITHUB_CLIENT_ID").map(str::to_owned),
            client_secret: env.raw("GITHUB_CLIENT_SECRET").map(|s| SecretString::from(s.to_owned())),
            authorize_url: env.string_or("GITHUB_AUTHORIZE_URL", "https://github.com/login/oauth/authorize"),
            token_url: env.string_or("GITHUB_TOKEN_URL", "https://github.com/login/oauth/access_token"),
            api_url: env.string_or("GITHUB_API_URL", "https://api.github.com").trim_end_matches('/').to_owned(),
        })
    }
}

/// Microsoft sign-in (OpenID Connect on the Microsoft identity platform, v2.0 endpoints).
#[derive(Debug, Clone)]
pub struct MicrosoftSettings {
    /// Application (client) id (`MICROSOFT_CLIENT_ID`); `None` disables Microsoft sign-in.
    pub client_id: Option<String>,
    /// Client secret (`MICROSOFT_CLIENT_SECRET`); `None` disables Microsoft sign-in.
    pub client_secret: Option<SecretString>,
    /// `common` (any work, school or personal account), `organizations`, `consumers`, or one
    /// tenant's id or domain (`MICROSOFT_TENANT`, default `common`).
    pub tenant: String,
    /// The identity platform's host (`MICROSOFT_AUTHORITY`, default `https://login.microsoftonline.com`);
    /// tests point it at a local provider.
    pub authority: String,
    /// How long fetched signing keys are trusted before being refreshed (`MICROSOFT_JWKS_CACHE_SECONDS`).
    pub jwks_cache_ttl: Duration,
}

impl MicrosoftSettings {
    /// Reads the Microsoft settings.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            client_id: env.raw("MICROSOFT_CLIENT_ID").map(str::to_owned),
            client_secret: env.raw("MICROSOFT_CLIENT_SECRET").map(|s| SecretString::from(s.to_owned())),
            tenant: env.string_or("MICROSOFT_TENANT", "common").trim_matches('/').to_owned(),
            authority: env.string_or("MICROSOFT_AUTHORITY", "https://login.microsoftonline.com").trim_end_matches('/').to_owned(),
            jwks_cache_ttl: env.seconds_or("MICROSOFT_JWKS_CACHE_SECONDS", 3_600)?,
        })
    }

    /// The OpenID issuer base for the tenant: discovery is at `<this>/.well-known/openid-configuration`.
    pub fn discovery_base(&self) -> String {
        format!("{}/{}/v2.0", self.authority, self.tenant)
    }
}

/// Upstream's per-path hourly limits (its `.env`), used when `MAX_REQUEST_RATE_PER_HOUR_CONFIG` is unset.
pub const DEFAULT_RATE_LIMITS: &[(&str, u64)] = &[
    ("/api/completion/feedback", 600),
    ("/api/completion/request", 600),
    ("/api/project/activate", 100),
    ("/api/project/create", 100),
    ("/api/session/acquire", 100),
    ("/api/user/authenticate", 100),
    ("/api/user/create", 100),
    ("/api/user/delete", 100),
    ("/api/user/update", 100),
];

/// Request rate limits: per client IP and exact path, per hour, counted in Redis.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Limit for paths without their own (`DEFAULT_MAX_REQUEST_RATE_PER_HOUR`, default 500).
    pub default_per_hour: u64,
    /// Path → limit (`MAX_REQUEST_RATE_PER_HOUR_CONFIG`, a JSON object).
    pub per_path: HashMap<String, u64>,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, comma-separated IPs/CIDRs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl RateLimitSettings {
    /// Reads the rate-limit settings.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let per_path = match env.raw("MAX_REQUEST_RATE_PER_HOUR_CONFIG") {
            None => DEFAULT_RATE_LIMITS.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect(),
            Some(json) => serde_json::from_str(json).map_err(|e| SettingsError::Invalid {
                var: "MAX_REQUEST_RATE_PER_HOUR_CONFIG".into(),
                value: json.to_owned(),
                reason: format!("expected a JSON object of path to requests per hour: {e}"),
            })?,
        };
        let trusted_proxies = env
            .string_or("TRUSTED_PROXIES", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|e| SettingsError::Invalid {
                    var: "TRUSTED_PROXIES".into(),
                    value: s.to_owned(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { default_per_hour: env.parse_or("DEFAULT_MAX_REQUEST_RATE_PER_HOUR", 500)?, per_path, trusted_proxies })
    }

    /// The hourly limit of `path`.
    pub fn limit_for(&self, path: &str) -> u64 {
        self.per_path.get(path).copied().unwrap_or(self.default_per_hour)
    }
}

/// Cost of the argon2id password hash (`PASSWORD_HASH_MEMORY_KIB`, `PASSWORD_HASH_ITERATIONS`);
/// defaults are argon2's recommended 19 MiB, 2 passes.
#[derive(Debug, Clone, Copy)]
pub struct PasswordHashSettings {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
}

/// Settings of the HTTP server process.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to bind (`SERVER_HOST`).
    pub host: String,
    /// Port to bind (`SERVER_PORT`, 8008 as upstream; 0 picks a free port).
    pub port: u16,
    /// Recorded with every query as `server_version_id` (`SERVER_VERSION_ID`).
    pub version_id: i64,
    /// Token lifetimes.
    pub tokens: TokenSettings,
    /// Origins allowed by CORS and for WebSocket upgrades (`CORS_ALLOWED_ORIGINS`, comma-separated).
    pub cors_allowed_origins: Vec<String>,
    /// Built website served at `/` (`WEBSITE_DIST_DIR`).
    pub website_dist_dir: PathBuf,
    /// How long graceful shutdown waits for in-flight requests (`SHUTDOWN_GRACE_SECONDS`).
    pub shutdown_grace: Duration,
    /// Upper bound for a dependency probe in `/api/health` (`HEALTH_CHECK_TIMEOUT_MS`).
    pub health_check_timeout: Duration,
    /// How long start-up keeps retrying PostgreSQL and Redis (`STARTUP_CONNECT_TIMEOUT_SECONDS`).
    pub startup_connect_timeout: Duration,
    /// Log format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Base URL users reach this server at, for links in mails (`PUBLIC_URL`).
    pub public_url: String,
    /// Link target of verification mails (`VERIFICATION_URL`, upstream's name).
    pub verification_url: String,
    /// Link target of password-reset mails (`RESET_PASSWORD_URL`, upstream's name).
    pub reset_password_url: String,
    /// Served over HTTPS (`COOKIE_SECURE`): cookies get `Secure`, responses get HSTS.
    pub cookie_secure: bool,
    /// Largest accepted request body (`MAX_REQUEST_BODY_BYTES`, default 512 KiB); larger → 413.
    pub max_body_bytes: usize,
    /// Slow and greedy clients: header, body and connection bounds.
    pub connections: ConnectionSettings,
    /// Outgoing mail.
    pub email: EmailSettings,
    /// Google sign-in.
    pub google: GoogleSettings,
    /// GitHub sign-in.
    pub github: GitHubSettings,
    /// Microsoft sign-in.
    pub microsoft: MicrosoftSettings,
    /// Request rate limits.
    pub rate_limits: RateLimitSettings,
    /// Quotas of each user tier, for requests made with API keys.
    pub tiers: crate::tiers::TierTable,
    /// The open APIs: the provider chain and the suggestion cache.
    pub open_api: crate::providers::OpenApiSettings,
    /// Password hashing cost.
    pub password_hash: PasswordHashSettings,
    /// How often the expiry sweep runs (`EXPIRY_SWEEP_SECONDS`, default 60).
    pub expiry_sweep_interval: Duration,
    /// How long a completion request waits for its models (`COMPLETION_TIMEOUT_MS`); a model that
    /// has not answered by then gets the contract's error item.
    pub completion_timeout: Duration,
    /// How long a chat request waits for its models (`CHAT_TIMEOUT_MS`).
    pub chat_timeout: Duration,
    /// Admin account created or promoted at start (`ADMIN_EMAIL`, `ADMIN_PASSWORD`).
    pub admin_bootstrap: Option<(String, SecretString)>,
    /// PostgreSQL.
    pub database: DatabaseSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// The operators' health endpoints.
    pub health: HealthSettings,
    /// How long an agent run goes on after its last open stream closed
    /// (`AGENT_DISCONNECT_GRACE_SECONDS`, default 10): long enough to reconnect with
    /// `Last-Event-ID`, short enough that closing the browser stops the agent.
    pub agent_disconnect_grace: Duration,
}

/// What `/api/health/detailed` needs beyond the probes.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// A bearer token that opens `/api/health/detailed` to monitoring without an admin account
    /// (`HEALTH_TOKEN`); unset, only admins read it.
    pub token: Option<SecretString>,
    /// The directory whose file system's free space is reported (`C4M_DATA_DIR`, as `run.sh`
    /// lays it out: database, Redis files, models, logs).
    pub data_dir: PathBuf,
    /// The JSON log files `GET /api/agent/health` and `code4me-server logs analyze` read
    /// (`LOG_FILES`, comma-separated). The processes log to stderr; these are where the scripts
    /// send it: by default `<C4M_DATA_DIR>/logs/server.log` and `worker.log`, as `run.sh` writes them.
    pub log_files: Vec<PathBuf>,
}

impl HealthSettings {
    /// Reads the health settings.
    pub fn from_env(env: &EnvSource) -> Self {
        let data_dir = PathBuf::from(env.string_or("C4M_DATA_DIR", "data"));
        let log_files = match env.raw("LOG_FILES").map(str::trim).filter(|f| !f.is_empty()) {
            Some(files) => files.split(',').map(str::trim).filter(|f| !f.is_empty()).map(PathBuf::from).collect(),
            None => vec![data_dir.join("logs/server.log"), data_dir.join("logs/worker.log")],
        };
        Self {
            token: env.raw("HEALTH_TOKEN").map(str::trim).filter(|t| !t.is_empty()).map(|t| SecretString::from(t.to_owned())),
            data_dir,
            log_files,
        }
    }
}

/// Upstream's default CORS origins (its website on port 3000 and the public deployment).
const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000,http://localhost:8008,\
http://127.0.0.1:8008,https://code4me.me,https://www.code4me.me,https://app.code4me.me";

/// What one client may hold of the server: without these bounds a client trickling its headers or
/// body a byte at a time, or opening connections it never uses, holds file descriptors and tasks
/// for as long as it likes (slowloris).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// Time to send a request's headers, counted from the moment the server waits for them, so
    /// an idle keep-alive connection is closed after it too (`HTTP_HEADER_READ_TIMEOUT_SECONDS`, 10).
    pub header_read_timeout: Duration,
    /// Time to send a whole request body, counted from its headers (`HTTP_BODY_TIMEOUT_SECONDS`, 30);
    /// past it the request is answered 408.
    pub body_timeout: Duration,
    /// Open connections (WebSockets included) one client IP may hold
    /// (`HTTP_MAX_CONNECTIONS_PER_IP`, 256); more are answered 429 and closed.
    pub max_per_ip: usize,
}

impl ServerSettings {
    /// Reads every server setting.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let port = env.parse_or("SERVER_PORT", 8008)?;
        let public_url = env.string_or("PUBLIC_URL", &format!("http://localhost:{port}")).trim_end_matches('/').to_owned();
        let admin_bootstrap = match (env.raw("ADMIN_EMAIL"), env.raw("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email.to_owned(), SecretString::from(password.to_owned()))),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(SettingsError::Invalid {
                    var: "ADMIN_EMAIL/ADMIN_PASSWORD".into(),
                    value: String::new(),
                    reason: "set both or neither".into(),
                });
            }
        };
        Ok(Self {
            host: env.string_or("SERVER_HOST", "127.0.0.1"),
            port,
            verification_url: env.string_or("VERIFICATION_URL", &format!("{public_url}/api/user/verify")),
            reset_password_url: env.string_or("RESET_PASSWORD_URL", &format!("{public_url}/api/user/reset-password")),
            public_url,
            cookie_secure: env.parse_or("COOKIE_SECURE", false)?,
            max_body_bytes: env.parse_or("MAX_REQUEST_BODY_BYTES", 512 * 1024)?,
            connections: ConnectionSettings {
                header_read_timeout: env.seconds_or("HTTP_HEADER_READ_TIMEOUT_SECONDS", 10)?,
                body_timeout: env.seconds_or("HTTP_BODY_TIMEOUT_SECONDS", 30)?,
                max_per_ip: env.parse_or("HTTP_MAX_CONNECTIONS_PER_IP", 256)?,
            },
            email: EmailSettings::from_env(env)?,
            google: GoogleSettings::from_env(env)?,
            github: GitHubSettings::from_env(env)?,
            microsoft: MicrosoftSettings::from_env(env)?,
            rate_limits: RateLimitSettings::from_env(env)?,
            tiers: crate::tiers::TierTable::from_env(env)?,
            open_api: crate::providers::OpenApiSettings::from_env(env)?,
            password_hash: PasswordHashSettings {
                memory_kib: env.parse_or("PASSWORD_HASH_MEMORY_KIB", 19 * 1024)?,
                iterations: env.parse_or("PASSWORD_HASH_ITERATIONS", 2)?,
            },
            expiry_sweep_interval: env.seconds_or("EXPIRY_SWEEP_SECONDS", 60)?,
            completion_timeout: env.millis_or("COMPLETION_TIMEOUT_MS", 30_000)?,
            chat_timeout: env.millis_or("CHAT_TIMEOUT_MS", 120_000)?,
            admin_bootstrap,
            version_id: env.parse_or("SERVER_VERSION_ID", 1)?,
            tokens: TokenSettings::from_env(env)?,
            cors_allowed_origins: env
                .string_or("CORS_ALLOWED_ORIGINS", DEFAULT_CORS_ORIGINS)
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            website_dist_dir: PathBuf::from(env.string_or("WEBSITE_DIST_DIR", "website/dist")),
            shutdown_grace: env.seconds_or("SHUTDOWN_GRACE_SECONDS", 10)?,
            health_check_timeout: env.millis_or("HEALTH_CHECK_TIMEOUT_MS", 1_000)?,
            startup_connect_timeout: env.seconds_or("STARTUP_CONNECT_TIMEOUT_SECONDS", 30)?,
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Json)?,
            database: DatabaseSettings::from_env(env)?,
            redis: RedisSettings::from_env(env)?,
            health: HealthSettings::from_env(env),
            agent_disconnect_grace: env.seconds_or("AGENT_DISCONNECT_GRACE_SECONDS", 10)?,
        })
    }
}

/// Where model weights live unless `MODEL_CACHE_DIR` says otherwise (the worker and `fetch-model`).
pub const DEFAULT_MODEL_CACHE_DIR: &str = "data/models";

/// Settings of the worker process.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long start-up keeps retrying PostgreSQL and Redis before giving up
    /// (`STARTUP_CONNECT_TIMEOUT_SECONDS`).
    pub startup_connect_timeout: Duration,
    /// Directory with model weights (`MODEL_CACHE_DIR`, as upstream).
    pub model_cache_dir: PathBuf,
    /// Threads running the models' forward passes (`MODEL_THREADS`; 0, the default, means one per
    /// core). One pool serves every model, so concurrent sequences share cores instead of fighting.
    pub model_threads: usize,
    /// Finished sequences each model keeps for prompt-prefix reuse (`MODEL_PREFIX_CACHE_ENTRIES`).
    pub model_prefix_cache_entries: usize,
    /// Longest draft a speculative decoding step verifies (`MODEL_MAX_DRAFT_TOKENS`, default 8;
    /// 0 turns speculation off). Output is the same either way; only speed changes.
    pub model_max_draft_tokens: usize,
    /// Decode a model's concurrent generations in shared batched steps (`MODEL_BATCHING`, default
    /// true; false runs each generation's steps on their own, as before continuous batching).
    pub model_batching: bool,
    /// Where candle runtimes run (`MODEL_DEVICE`: `cpu`, or `cuda` / `cuda:N` in a build with the
    /// `cuda` feature). The native GGUF engine is CPU-only.
    pub model_device: String,
    /// Name this worker reports itself under (`WORKER_ID`; default host name and process id).
    pub worker_id: String,
    /// Generations this worker runs at once (`LLM_CONCURRENCY`, default 8): the width of a GGUF
    /// model's continuous batch, whose concurrent sequences decode in shared steps.
    pub llm_concurrency: usize,
    /// Telemetry jobs in flight at once (`DB_CONCURRENCY`); those waiting together are committed
    /// in one transaction.
    pub db_concurrency: usize,
    /// Indexing jobs in flight at once (`INDEX_CONCURRENCY`). They have their own queue so telemetry
    /// never waits behind embedding; the embedding itself still runs one batch at a time.
    pub index_concurrency: usize,
    /// Start a completion prompt whose prefix is the plugin's full sliding window at a stable
    /// anchor line, so consecutive keystrokes reuse the KV cache (`PROMPT_ANCHOR`, default true).
    pub prompt_anchor: bool,
    /// How long finished jobs stay in Redis before the vacuum deletes them
    /// (`QUEUE_KEEP_FINISHED_SECONDS`; apalis-redis itself never deletes them).
    pub queue_keep_finished: Duration,
    /// Log format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// PostgreSQL.
    pub database: DatabaseSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// The repository agent (`AGENT_*`).
    pub agent: crate::agent::AgentSettings,
    /// Where the worker serves Prometheus metrics (`WORKER_METRICS_ADDR`, `host:port`; unset =
    /// nowhere).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The open APIs' provider chain (`PROVIDERS`): the agent may ask a remote provider.
    pub providers: crate::providers::OpenApiSettings,
}

impl WorkerSettings {
    /// Reads every worker setting.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        Ok(Self {
            startup_connect_timeout: env.seconds_or("STARTUP_CONNECT_TIMEOUT_SECONDS", 30)?,
            model_cache_dir: PathBuf::from(env.string_or("MODEL_CACHE_DIR", DEFAULT_MODEL_CACHE_DIR)),
            model_threads: env.parse_or("MODEL_THREADS", 0)?,
            model_prefix_cache_entries: env.parse_or("MODEL_PREFIX_CACHE_ENTRIES", 8)?,
            model_max_draft_tokens: env.parse_or("MODEL_MAX_DRAFT_TOKENS", 8)?,
            model_batching: env.parse_or("MODEL_BATCHING", true)?,
            model_device: env.string_or("MODEL_DEVICE", "cpu"),
            worker_id: env.string_or("WORKER_ID", &default_worker_id()),
            llm_concurrency: env.parse_or("LLM_CONCURRENCY", 8)?,
            db_concurrency: env.parse_or("DB_CONCURRENCY", 64)?,
            index_concurrency: env.parse_or("INDEX_CONCURRENCY", 2)?,
            prompt_anchor: env.parse_or("PROMPT_ANCHOR", true)?,
            queue_keep_finished: env.seconds_or("QUEUE_KEEP_FINISHED_SECONDS", 600)?,
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Json)?,
            database: DatabaseSettings::from_env(env)?,
            redis: RedisSettings::from_env(env)?,
            agent: crate::agent::AgentSettings::from_env(env)?,
            metrics_addr: match env.raw("WORKER_METRICS_ADDR").map(str::trim).filter(|a| !a.is_empty()) {
                Some(text) => Some(text.parse().map_err(|e| SettingsError::Invalid {
                    var: "WORKER_METRICS_ADDR".into(),
                    value: text.into(),
                    reason: format!("expected host:port ({e})"),
                })?),
                None => None,
            },
            providers: crate::providers::OpenApiSettings::from_env(env)?,
        })
    }
}

/// `<host>-<pid>`: unique among live workers, and readable in an admin's model list.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let host = if host.is_empty() { "worker".to_owned() } else { host };
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_upstream_names_and_our_ports() {
        let s = ServerSettings::from_env(&EnvSource::default()).expect("defaults parse");
        assert_eq!(s.port, 8008);
        assert_eq!(s.tokens.session_token_ttl, Duration::from_secs(7_200));
        assert_eq!(s.tokens.auth_token_ttl, Duration::from_secs(86_400));
        assert_ne!(s.database.port, 5432, "never the system PostgreSQL port");
        assert_ne!(s.redis.port, 6379, "never the system Redis port");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let env = EnvSource::from_pairs([("SERVER_PORT", "eighty")]);
        let err = ServerSettings::from_env(&env).expect_err("must reject");
        assert!(err.to_string().contains("SERVER_PORT"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let env = EnvSource::from_pairs([("DB_PASSWORD", "hunter2-very-secret"), ("REDIS_PASSWORD", "r3dis-pass"), ("HEALTH_TOKEN", "h3alth-token")]);
        let s = ServerSettings::from_env(&env).expect("parses");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-very-secret"), "{shown}");
        assert!(!shown.contains("r3dis-pass"), "{shown}");
        assert!(!shown.contains("h3alth-token"), "{shown}");
        assert_eq!(s.database.expose_password(), "hunter2-very-secret");
        assert!(s.redis.url().starts_with("redis://:r3dis-pass@"));
    }

    #[test]
    fn the_log_files_default_to_the_data_dirs_and_can_be_listed() {
        let s = ServerSettings::from_env(&EnvSource::from_pairs([("C4M_DATA_DIR", "/srv/c4m")])).expect("parses");
        assert_eq!(s.health.log_files, [PathBuf::from("/srv/c4m/logs/server.log"), PathBuf::from("/srv/c4m/logs/worker.log")]);
        let s = ServerSettings::from_env(&EnvSource::from_pairs([("LOG_FILES", " /var/log/a.log, ,b.log ")])).expect("parses");
        assert_eq!(s.health.log_files, [PathBuf::from("/var/log/a.log"), PathBuf::from("b.log")]);
    }

    #[test]
    fn cors_origins_are_split_and_normalised() {
        let env = EnvSource::from_pairs([("CORS_ALLOWED_ORIGINS", " https://a.example/ ,http://b.example,, ")]);
        let s = ServerSettings::from_env(&env).expect("parses");
        assert_eq!(s.cors_allowed_origins, vec!["https://a.example", "http://b.example"]);
    }

    #[test]
    fn sign_in_providers_default_to_the_real_endpoints_and_hide_their_secrets() {
        let s = ServerSettings::from_env(&EnvSource::default()).expect("defaults parse");
        assert!(s.github.client_id.is_none() && s.microsoft.client_id.is_none(), "off until configured");
        assert_eq!(s.github.authorize_url, "https://github.com/login/oauth/authorize");
        assert_eq!(s.github.token_url, "https://github.com/login/oauth/access_token");
        assert_eq!(s.github.api_url, "https://api.github.com");
        assert_eq!(s.microsoft.discovery_base(), "https://login.microsoftonline.com/common/v2.0");
        let env = EnvSource::from_pairs([
            ("GITHUB_CLIENT_SECRET", "gh-client-secret-value"),
            ("MICROSOFT_CLIENT_SECRET", "ms-client-secret-value"),
            ("MICROSOFT_TENANT", "contoso.onmicrosoft.com"),
            ("MICROSOFT_AUTHORITY", "http://127.0.0.1:9/"),
        ]);
        let s = ServerSettings::from_env(&env).expect("parses");
        let shown = format!("{s:?}");
        assert!(!shown.contains("gh-client-secret-value") && !shown.contains("ms-client-secret-value"), "{shown}");
        assert_eq!(s.microsoft.discovery_base(), "http://127.0.0.1:9/contoso.onmicrosoft.com/v2.0");
    }
}
