//! The website's sign-in with Google, GitHub or Microsoft (ours; upstream's website posts Google's
//! ID token to `/api/user/authenticate`, which also works): one flow for every provider. The
//! authorization-code flow with PKCE and a nonce ([`crate::services::auth::browser`]), its state
//! in Redis for ten minutes, bound to its provider and used once; then the provider's word on who
//! the user is (an OpenID ID token for Google and Microsoft, [`crate::services::auth::oidc`]; the
//! user API for GitHub, [`crate::services::auth::github`]), and the account found or created for
//! the verified address.
//!
//! Linking is by verified address: whichever provider vouches for `a@b.c` signs into the account
//! with that e-mail, so one person never gets two accounts for one address.

use axum::http::StatusCode;
use code4me_shared::domain::Email;
use code4me_shared::redis_keys::{self as keys, OAuthFlowValue, key};
use redis::AsyncCommands;
use secrecy::SecretString;
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, NewUser, UserRow};
use crate::services::auth::browser::{self, OAuthApp};
use crate::services::auth::github::GitHubApi;
use crate::services::auth::oidc::{Identity, OidcVerifier, TokenError};
use crate::services::state::AppState;

/// How long a started sign-in may take.
const FLOW_TTL_SECONDS: u64 = 600;

/// A sign-in provider the website may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Google (OpenID Connect).
    Google,
    /// GitHub (OAuth 2 and its user API).
    GitHub,
    /// Microsoft identity platform (OpenID Connect).
    Microsoft,
}

impl Provider {
    /// Every provider, in the order the website shows them.
    pub const ALL: [Provider; 3] = [Provider::Google, Provider::GitHub, Provider::Microsoft];

    /// The provider named by a URL segment (`google`, `github`, `microsoft`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Its URL segment and the name flows are stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
            Provider::Microsoft => "microsoft",
        }
    }

    fn not_configured(self) -> ApiError {
        let detail = match self {
            Provider::Google => messages::GOOGLE_NOT_CONFIGURED,
            Provider::GitHub => messages::GITHUB_NOT_CONFIGURED,
            Provider::Microsoft => messages::MICROSOFT_NOT_CONFIGURED,
        };
        ApiError::Detail(StatusCode::NOT_FOUND, detail.into())
    }
}

/// How a configured provider says who the user is.
enum Vouching<'a> {
    /// An ID token from the code exchange, verified against the provider's keys.
    IdToken(&'a OidcVerifier),
    /// The access token, shown to GitHub's user API.
    GitHubApi(&'a GitHubApi),
}

/// A provider with everything its flow needs.
struct Configured<'a> {
    vouching: Vouching<'a>,
    client_id: &'a str,
    client_secret: &'a SecretString,
}

/// The provider's configuration, or `None` when its client id or secret is missing.
fn configured(state: &AppState, provider: Provider) -> Option<Configured<'_>> {
    let settings = &state.settings;
    let (vouching, client_id, client_secret) = match provider {
        Provider::Google => {
            let google = state.google.as_ref()?;
            (Vouching::IdToken(google), google.client_id(), settings.google.client_secret.as_ref()?)
        }
        Provider::Microsoft => {
            let microsoft = state.microsoft.as_ref()?;
            (Vouching::IdToken(microsoft), microsoft.client_id(), settings.microsoft.client_secret.as_ref()?)
        }
        Provider::GitHub => {
            let github = state.github.as_ref()?;
            (Vouching::GitHubApi(github), github.client_id(), settings.github.client_secret.as_ref()?)
        }
    };
    Some(Configured { vouching, client_id, client_secret })
}

impl Configured<'_> {
    /// The OAuth client: OpenID providers' endpoints come from their discovery document, GitHub's
    /// from settings.
    async fn app(&self, state: &AppState, provider: Provider) -> Result<OAuthApp<'_>, TokenError> {
        let (authorize_url, token_url) = match self.vouching {
            Vouching::IdToken(verifier) => {
                let metadata = verifier.metadata().await?;
                (metadata.authorization_endpoint, metadata.token_endpoint)
            }
            Vouching::GitHubApi(github) => (github.settings().authorize_url.clone(), github.settings().token_url.clone()),
        };
        Ok(OAuthApp {
            client_id: self.client_id,
            client_secret: self.client_secret,
            authorize_url,
            token_url,
            callback_url: format!("{}/api/user/oauth/{}/callback", state.settings.public_url, provider.as_str()),
            // Google's flow has always used Basic; GitHub documents only the body.
            secret_in_body: provider != Provider::Google,
        })
    }

    fn scopes(&self) -> &'static [&'static str] {
        match self.vouching {
            Vouching::IdToken(_) => &["openid", "email", "profile"],
            Vouching::GitHubApi(_) => &["read:user", "user:email"],
        }
    }

    fn http(&self) -> &oauth2::reqwest::Client {
        match self.vouching {
            Vouching::IdToken(verifier) => verifier.http(),
            Vouching::GitHubApi(github) => github.http(),
        }
    }

    /// Who the exchanged tokens say the user is, refusing unverified addresses.
    async fn identify(&self, tokens: browser::Tokens, nonce: &str) -> Result<Identity, TokenError> {
        match self.vouching {
            Vouching::IdToken(verifier) => {
                let id_token = tokens.id_token.ok_or_else(|| TokenError::Invalid("no ID token in the token response".into()))?;
                verifier.verify(&id_token, Some(nonce)).await
            }
            Vouching::GitHubApi(github) => github.identity(&tokens.access_token).await,
        }
    }
}

/// Whether the website's "Sign in with <provider>" works (client id and secret configured).
pub fn offered(state: &AppState, provider: Provider) -> bool {
    configured(state, provider).is_some()
}

/// Only same-site paths: an open redirect would let a link send users anywhere after sign-in.
fn safe_return_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

fn unauthorized() -> ApiError {
    ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN)
}

/// Starts a sign-in, remembering the provider, the PKCE verifier, the nonce and where to land
/// afterwards; returns the provider's page to send the browser to.
pub async fn start(state: &AppState, provider: Provider, return_to: Option<&str>) -> Result<String, ApiError> {
    let config = configured(state, provider).ok_or_else(|| provider.not_configured())?;
    let app = config.app(state, provider).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let started = browser::start(&app, config.scopes()).map_err(ApiError::Unavailable)?;
    let flow = OAuthFlowValue {
        pkce_verifier: started.pkce_verifier,
        nonce: started.nonce,
        return_to: safe_return_path(return_to),
        provider: provider.as_str().to_owned(),
    };
    let value = serde_json::to_string(&flow).map_err(|e| ApiError::Internal(e.into()))?;
    state
        .redis
        .clone()
        .set_ex::<_, _, ()>(key(keys::OAUTH_STATE, &started.state), value, FLOW_TTL_SECONDS)
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(started.redirect_to)
}

/// Finishes a sign-in: exchange, verify, find or create the account, issue an auth token.
/// Returns the token (for the `auth_token` cookie) and the site path to land on.
pub async fn finish(state: &AppState, provider: Provider, code: Option<String>, flow_state: Option<String>) -> Result<(Uuid, String), ApiError> {
    let config = configured(state, provider).ok_or_else(|| provider.not_configured())?;
    let (Some(code), Some(flow_state)) = (code, flow_state) else { return Err(unauthorized()) };
    let flow_key = key(keys::OAUTH_STATE, &flow_state);
    // GETDEL: one use only, whatever happens next, even when two callbacks race.
    let flow: Option<String> = state.redis.clone().get_del(&flow_key).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let Some(flow) = flow.and_then(|f| serde_json::from_str::<OAuthFlowValue>(&f).ok()) else { return Err(unauthorized()) };
    if flow.provider != provider.as_str() {
        tracing::info!(started_with = %flow.provider, provider = provider.as_str(), "sign-in state of another provider refused");
        return Err(unauthorized());
    }
    let app = config.app(state, provider).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let tokens = browser::exchange(&app, config.http(), code, flow.pkce_verifier).await.map_err(|e| {
        tracing::info!(provider = provider.as_str(), error = format!("{e:#}"), "code exchange refused");
        unauthorized()
    })?;
    let identity = config.identify(tokens, &flow.nonce).await.map_err(|e| {
        tracing::info!(provider = provider.as_str(), error = %e, "sign-in refused");
        unauthorized()
    })?;
    let email = Email::parse(&identity.email).map_err(|_| unauthorized())?;
    let user = match users::by_email(&state.db, &email).await.or_fail(messages::AUTHENTICATE_FAILED)? {
        Some(user) if user.verified == Some(true) => user,
        Some(unverified) => claim_unverified(state, unverified).await?,
        None => create_verified_user(state, &email, identity.name.as_deref()).await?,
    };
    let token = state.tokens.issue_auth_token(user.user_id).await.map_err(ApiError::Unavailable)?;
    tracing::info!(user.id = %user.user_id, provider = provider.as_str(), "signed in with a provider");
    Ok((token, flow.return_to))
}

/// An account registered with this address but never verified is handed to the address's owner,
/// whom the provider just vouched for: whoever registered it without proving the address (perhaps
/// to wait for the owner to sign in and share the account) loses its password, tokens and sessions.
/// The owner can set a password through the reset flow.
async fn claim_unverified(state: &AppState, user: UserRow) -> Result<UserRow, ApiError> {
    state.tokens.revoke_user(user.user_id).await.map_err(ApiError::Unavailable)?;
    let random = format!("{}Aa1", Uuid::new_v4().simple());
    let hash = state.passwords.hash(&random).await.or_fail(messages::AUTHENTICATE_FAILED)?;
    users::set_password(&state.db, user.user_id, &hash).await.or_fail(messages::AUTHENTICATE_FAILED)?;
    users::set_verified(&state.db, user.user_id).await.or_fail(messages::AUTHENTICATE_FAILED)?;
    tracing::info!(user.id = %user.user_id, "an unverified account was claimed by its address's verified owner; its password and tokens are void");
    Ok(UserRow { verified: Some(true), ..user })
}

/// A first sign-in through a provider creates the account (verified: the provider vouched for
/// the address). It gets an unusable random password; the user can set one through the reset flow.
async fn create_verified_user(state: &AppState, email: &Email, name: Option<&str>) -> Result<UserRow, ApiError> {
    let fallback = email.as_str().split('@').next().unwrap_or("user");
    let mut display: String = name.unwrap_or(fallback).chars().take(50).collect();
    while display.chars().count() < 3 {
        display.push('_');
    }
    let random = format!("{}Aa1", Uuid::new_v4().simple());
    let hash = state.passwords.hash(&random).await.or_fail(messages::USER_CREATE_FAILED)?;
    let new_user = NewUser { email, name: &display, password_hash: &hash, config_id: 1, is_oauth_signup: true, verified: true, is_admin: false };
    users::insert(&state.db, &new_user).await.or_fail(messages::USER_CREATE_FAILED)?;
    users::by_email(&state.db, email).await.or_fail(messages::USER_CREATE_FAILED)?.ok_or_else(unauthorized)
}

#[cfg(test)]
mod tests {
    use super::{Provider, safe_return_path};

    #[test]
    fn only_same_site_paths_are_accepted_as_return_targets() {
        assert_eq!(safe_return_path(Some("/studies")), "/studies");
        for evil in ["https://evil.example", "//evil.example", "/\\evil.example", "evil"] {
            assert_eq!(safe_return_path(Some(evil)), "/", "{evil}");
        }
        assert_eq!(safe_return_path(None), "/");
    }

    #[test]
    fn providers_are_named_by_their_url_segment() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Some(provider));
        }
        assert_eq!(Provider::parse("Google"), None);
        assert_eq!(Provider::parse("facebook"), None);
    }
}
