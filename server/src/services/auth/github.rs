//! Who a GitHub access token belongs to. GitHub is plain OAuth 2 (no ID token), so the address
//! comes from its REST API: `GET /user/emails`, of which only the entry that is both `primary`
//! and `verified` is accepted (a secondary address, or an unverified primary one, could be anyone's),
//! and the display name from `GET /user` (`name`, else `login`).

use anyhow::Context;
use code4me_shared::settings::GitHubSettings;
use oauth2::reqwest;
use serde::Deserialize;

use super::oidc::{Identity, TokenError};

/// GitHub refuses API requests without a `User-Agent`.
const USER_AGENT: &str = "code4me-rs";

/// The GitHub OAuth app and API we talk to.
#[derive(Clone)]
pub struct GitHubApi {
    client_id: String,
    /// The authorization page, token endpoint and API base, from settings.
    settings: GitHubSettings,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
    name: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Deserialize)]
struct EmailEntry {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GitHubApi {
    /// The client, or `None` unless both client id and secret are configured.
    pub fn from_settings(settings: &GitHubSettings, http: reqwest::Client) -> Option<Self> {
        let client_id = settings.client_id.clone()?;
        settings.client_secret.as_ref()?;
        Some(Self { client_id, settings: settings.clone(), http })
    }

    /// The configured client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The settings (endpoints and client secret).
    pub fn settings(&self) -> &GitHubSettings {
        &self.settings
    }

    /// The HTTP client (shared with the code exchange).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The verified primary address and name of the token's owner.
    pub async fn identity(&self, access_token: &str) -> Result<Identity, TokenError> {
        let user: User = self.get_json(access_token, "/user").await.map_err(TokenError::Provider)?;
        let emails: Vec<EmailEntry> = self.get_json(access_token, "/user/emails").await.map_err(TokenError::Provider)?;
        let email = verified_primary(&emails).ok_or(TokenError::EmailNotVerified)?;
        let name = user.name.filter(|n| !n.trim().is_empty()).unwrap_or(user.login);
        Ok(Identity { email: email.trim().to_lowercase(), name: Some(name) })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, access_token: &str, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.settings.api_url);
        let response = self
            .http
            .get(&url)
            .bearer_auth(access_token)
            .header("Accept", "application/vnd.github+json")
            .header("User-Agent", USER_AGENT)
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("GET {url}"))?;
        let body = response.bytes().await.context("reading the body")?;
        serde_json::from_slice(&body).with_context(|| format!("parsing GET {url}"))
    }
}

/// The address GitHub marks both primary and verified, if there is one.
fn verified_primary(emails: &[EmailEntry]) -> Option<&str> {
    emails.iter().find(|e| e.primary && e.verified).map(|e| e.email.as_str())
}

#[cfg(test)]
mod tests {
    use super::{EmailEntry, verified_primary};

    fn entry(email: &str, primary: bool, verified: bool) -> EmailEntry {
        EmailEntry { email: email.into(), primary, verified }
    }

    #[test]
    fn only_the_verified_primary_address_is_taken() {
        let emails = [entry("old@example.com", false, true), entry("main@example.com", true, true)];
        assert_eq!(verified_primary(&emails), Some("main@example.com"));
    }

    #[test]
    fn an_unverified_primary_is_not_replaced_by_a_verified_secondary() {
        let emails = [entry("main@example.com", true, false), entry("other@example.com", false, true)];
        assert_eq!(verified_primary(&emails), None);
        assert_eq!(verified_primary(&[]), None);
    }
}
