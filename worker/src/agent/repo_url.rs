//! The `validation` stage: what a repository URL may be. An `http(s)` URL whose host (and port, when
//! the allow-list names one) is in `AGENT_ALLOWED_HOSTS`, with a path of its own and no password in
//! it; or, with `AGENT_ALLOW_LOCAL=true`, an absolute local path or `file://` URL of an existing
//! repository. Everything else — other schemes (`ssh`, `git`, `ext::`), user names and passwords,
//! hosts outside the list — is refused before anything runs.

use std::path::Path;

use code4me_shared::agent::AgentSettings;
use reqwest::Url;

/// A repository the agent may clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// What git is given.
    pub clone_url: String,
    /// `host` or `host:port` (lower case) for remote repositories; `None` for local ones.
    pub host: Option<String>,
    /// The host's forge path `owner/name` (without `.git`), for the pull-request API.
    pub forge_path: Option<(String, String)>,
}

impl Repository {
    /// A repository on the local file system.
    pub fn is_local(&self) -> bool {
        self.host.is_none()
    }

    /// The local repository's path.
    pub fn local_path(&self) -> Option<&std::path::Path> {
        self.clone_url.strip_prefix("file://").map(std::path::Path::new)
    }

    /// Whether a token may travel to it: over TLS, or to this machine.
    pub fn sends_secrets_safely(&self) -> bool {
        let loopback = self.host.as_deref().is_some_and(|h| {
            let name = h.rsplit_once(':').map_or(h, |(name, _)| name);
            name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        self.clone_url.starts_with("https://") || loopback
    }
}

/// Checks `text` against the settings.
pub fn check(text: &str, settings: &AgentSettings) -> Result<Repository, String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 2048 || text.chars().any(char::is_control) {
        return Err("the repository URL is empty, too long or holds control characters".into());
    }
    if text.starts_with('/') || text.starts_with("file://") {
        return local(text, settings);
    }
    let url = Url::parse(text).map_err(|e| format!("the repository URL does not parse: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("only http and https repository URLs are accepted, not {}:", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the repository URL must not carry a user name or password; tokens come from the server's configuration".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the repository URL must not carry a query or a fragment".into());
    }
    let host = url.host_str().ok_or("the repository URL has no host")?.to_ascii_lowercase();
    let with_port = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let allowed = settings.allowed_hosts.iter().any(|entry| *entry == with_port || (*entry == host && url.port().is_none()));
    if !allowed {
        return Err(format!("{with_port} is not an allowed repository host (AGENT_ALLOWED_HOSTS: {})", settings.allowed_hosts.join(", ")));
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    if segments.len() < 2 || segments.iter().any(|s| *s == ".." || *s == ".") {
        return Err("the repository URL needs an owner and a repository name in its path".into());
    }
    let name = segments[segments.len() - 1].trim_end_matches(".git").to_owned();
    let owner = segments[segments.len() - 2].to_owned();
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !plain(&owner) || !plain(&name) {
        return Err("the repository's owner and name may hold only letters, digits, '.', '_' and '-'".into());
    }
    Ok(Repository { clone_url: url.to_string(), host: Some(with_port), forge_path: Some((owner, name)) })
}

fn local(text: &str, settings: &AgentSettings) -> Result<Repository, String> {
    if !settings.allow_local {
        return Err("local repositories are refused (AGENT_ALLOW_LOCAL is off)".into());
    }
    let path = match text.strip_prefix("file://") {
        Some(rest) => rest,
        None => text,
    };
    if !path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return Err("a local repository must be an absolute path without ..".into());
    }
    if !Path::new(path).exists() {
        return Err(format!("no repository at {path}"));
    }
    // `file://` so that `--depth 1` applies (git ignores it for plain local paths).
    Ok(Repository { clone_url: format!("file://{path}"), host: None, forge_path: None })
}

#[cfg(test)]
mod tests {
    use code4me_shared::settings::EnvSource;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> AgentSettings {
        AgentSettings::from_env(&EnvSource::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn github_is_allowed_by_default_and_names_its_owner_and_repository() {
        let repo = check("https://github.com/rust-lang/rust.git", &settings(&[])).unwrap();
        assert_eq!(repo.host.as_deref(), Some("github.com"));
        assert_eq!(repo.forge_path, Some(("rust-lang".into(), "rust".into())));
    }

    #[test]
    fn other_hosts_schemes_and_credentials_are_refused() {
        let defaults = settings(&[]);
        for url in [
            "https://gitlab.com/a/b",
            "https://github.com.evil.example/a/b",
            "ssh://github.com/a/b",
            "git@github.com:a/b.git",
            "ext::sh -c touch% /tmp/pwned",
            "https://user:pw@github.com/a/b",
            "https://github.com/a",
            "https://github.com/a/b?x=1",
            "https://github.com:8443/a/b",
            "/tmp/repo",
            "file:///tmp/repo",
            "https://github.com/a/b\0",
            "https://github.com/a/b%2F..%2Fc",
        ] {
            assert!(check(url, &defaults).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn a_port_must_be_listed_when_the_list_names_one() {
        let listed = settings(&[("AGENT_ALLOWED_HOSTS", "127.0.0.1:9418")]);
        assert!(check("http://127.0.0.1:9418/o/r.git", &listed).is_ok());
        assert!(check("http://127.0.0.1:9419/o/r.git", &listed).is_err());
    }

    #[test]
    fn tokens_travel_over_tls_or_to_this_machine_only() {
        let listed = settings(&[("AGENT_ALLOWED_HOSTS", "github.com,127.0.0.1:8080,git.example")]);
        assert!(check("https://github.com/a/b", &listed).unwrap().sends_secrets_safely());
        assert!(check("http://127.0.0.1:8080/a/b", &listed).unwrap().sends_secrets_safely());
        assert!(!check("http://git.example/a/b", &listed).unwrap().sends_secrets_safely());
    }

    #[test]
    fn local_paths_need_the_setting_and_exist() {
        let local = settings(&[("AGENT_ALLOW_LOCAL", "true")]);
        let dir = std::env::temp_dir();
        let repo = check(dir.to_str().unwrap(), &local).unwrap();
        assert!(repo.is_local() && repo.clone_url.starts_with("file://"));
        assert!(check("/no/such/repository", &local).is_err());
        assert!(check("/tmp/../etc", &local).is_err());
    }
}
