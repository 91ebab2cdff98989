//! Google ID tokens: signature checked against the issuer's published keys (JWKS), plus `iss`,
//! `aud` (our client id), `exp` and `email_verified`. Keys are cached and refreshed when they age
//! out or when a token names a key we have not seen (Google rotates its keys). The issuer URL comes
//! from settings, so tests run their own OpenID provider and nothing is hard-wired to Google.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use code4me_shared::settings::GoogleSettings;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::reqwest;
use serde::Deserialize;
use tokio::sync::RwLock;

/// The parts of the issuer's discovery document we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where an authorization code is exchanged for tokens.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
}

struct Cached {
    metadata: ProviderMetadata,
    keys: JwkSet,
    fetched: Instant,
}

/// Who a verified ID token says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleIdentity {
    /// The verified address, lower-cased.
    pub email: String,
    /// The display name, when the token carries one.
    pub name: Option<String>,
}

/// Why a token was refused (all map to the contract's 401 "Invalid or expired token!").
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Signature, issuer, audience, expiry or nonce did not check out.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The provider says the address is not verified.
    #[error("e-mail address not verified by the provider")]
    EmailNotVerified,
    /// The provider's keys could not be fetched.
    #[error("provider unreachable: {0:#}")]
    Provider(anyhow::Error),
}

#[derive(Debug, Deserialize)]
struct Claims {
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
    name: Option<String>,
    nonce: Option<String>,
}

/// Google has sent `email_verified` both as a boolean and as the string "true".
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// Verifies ID tokens for one client id.
#[derive(Clone)]
pub struct GoogleVerifier {
    client_id: String,
    issuer: String,
    http: reqwest::Client,
    cache: Arc<RwLock<Option<Cached>>>,
    ttl: Duration,
}

/// Refetching keys for an unknown `kid` happens at most this often (a forged `kid` must not turn
/// every request into a call to the provider).
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

impl GoogleVerifier {
    /// A verifier, or `None` when no client id is configured (Google sign-in disabled).
    pub fn from_settings(settings: &GoogleSettings, http: reqwest::Client) -> Option<Self> {
        let client_id = settings.client_id.clone()?;
        Some(Self { client_id, issuer: settings.issuer_url.clone(), http, cache: Arc::default(), ttl: settings.jwks_cache_ttl })
    }

    /// The configured client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The provider's endpoints (cached with the keys).
    pub async fn metadata(&self) -> Result<ProviderMetadata, TokenError> {
        self.ensure_fresh(false).await?;
        let cache = self.cache.read().await;
        cache.as_ref().map(|c| c.metadata.clone()).ok_or_else(|| TokenError::Provider(anyhow::anyhow!("no provider metadata")))
    }

    async fn ensure_fresh(&self, key_missing: bool) -> Result<(), TokenError> {
        {
            let cache = self.cache.read().await;
            if let Some(c) = cache.as_ref() {
                let age = c.fetched.elapsed();
                let stale = age > self.ttl;
                let may_refresh_for_kid = key_missing && age > MIN_REFRESH_INTERVAL;
                if !stale && !may_refresh_for_kid {
                    return Ok(());
                }
            }
        }
        let fresh = self.fetch().await.map_err(TokenError::Provider)?;
        *self.cache.write().await = Some(fresh);
        Ok(())
    }

    async fn fetch(&self) -> anyhow::Result<Cached> {
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        let metadata: ProviderMetadata = self.get_json(&discovery).await.context("OpenID discovery document")?;
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await.context("JWKS")?;
        tracing::info!(issuer = %self.issuer, keys = keys.keys.len(), "fetched OpenID signing keys");
        Ok(Cached { metadata, keys, fetched: Instant::now() })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let response = self.http.get(url).send().await.and_then(|r| r.error_for_status()).with_context(|| format!("GET {url}"))?;
        let body = response.bytes().await.context("reading the body")?;
        serde_json::from_slice(&body).context("parsing JSON")
    }

    /// The HTTP client (shared with the browser sign-in flow).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Verifies `token`; with `nonce`, the token must carry exactly that nonce (browser flow).
    pub async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<GoogleIdentity, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Invalid(format!("unexpected algorithm {:?}", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| TokenError::Invalid("no key id".into()))?;
        self.ensure_fresh(false).await?;
        let mut key = self.key(&kid).await;
        if key.is_none() {
            self.ensure_fresh(true).await?;
            key = self.key(&kid).await;
        }
        let key = key.ok_or_else(|| TokenError::Invalid(format!("unknown key id {kid}")))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.client_id]);
        // Google issues tokens with and without the scheme in `iss`.
        let bare_issuer = self.issuer.trim_start_matches("https://").to_owned();
        validation.set_issuer(&[self.issuer.clone(), bare_issuer]);
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| TokenError::Invalid(e.to_string()))?.claims;
        if let Some(expected) = nonce
            && claims.nonce.as_deref() != Some(expected)
        {
            return Err(TokenError::Invalid("nonce mismatch".into()));
        }
        if !claims.email_verified {
            return Err(TokenError::EmailNotVerified);
        }
        let email = claims.email.ok_or_else(|| TokenError::Invalid("no email claim".into()))?;
        Ok(GoogleIdentity { email: email.trim().to_lowercase(), name: claims.name })
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        let cache = self.cache.read().await;
        let jwk = cache.as_ref()?.keys.find(kid)?;
        DecodingKey::from_jwk(jwk).ok()
    }
}
