//! OpenID Connect ID tokens (Google's, and Microsoft's): signature checked against the issuer's
//! published keys (JWKS), plus `iss`, `aud` (our client id), `exp` and a verified e-mail address.
//! Keys are cached and refreshed when they age out or when a token names a key we have not seen
//! (providers rotate their keys). Issuer URLs come from settings, so tests run their own OpenID
//! providers and nothing is hard-wired to Google or Microsoft.
//!
//! The providers differ in two rules, and only there ([`IssuerRule`], `trust_xms_edov`):
//! - Google's `iss` is its issuer URL with or without the scheme, and it vouches for an address
//!   with `email_verified`.
//! - Microsoft's multi-tenant endpoints (`common`, `organizations`, `consumers`) publish the issuer
//!   as a template, `https://login.microsoftonline.com/{tenantid}/v2.0`: a token's `iss` must be that
//!   template with its own `tid` claim filled in. Microsoft's `email` claim is whatever the tenant's
//!   admin typed unless the token says otherwise, so an address is accepted only with
//!   `email_verified: true` or `xms_edov: true` ("e-mail domain owner verified", an optional
//!   claim the app registration must request); without either the sign-in is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use code4me_shared::settings::{GoogleSettings, MicrosoftSettings};
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
    /// The issuer tokens carry (Microsoft's multi-tenant documents hold a `{tenantid}` template).
    #[serde(default)]
    pub issuer: Option<String>,
}

struct Cached {
    metadata: ProviderMetadata,
    keys: JwkSet,
    fetched: Instant,
}

/// Who a provider says the user is, once their address is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The verified address, lower-cased.
    pub email: String,
    /// The display name, when the token carries one.
    pub name: Option<String>,
}

/// Why a token or sign-in was refused (all map to the contract's 401 "Invalid or expired token!").
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
    #[serde(default, deserialize_with = "lenient_bool")]
    xms_edov: bool,
    name: Option<String>,
    nonce: Option<String>,
    iss: Option<String>,
    tid: Option<String>,
}

/// Which `iss` values a token may carry.
#[derive(Debug, Clone)]
enum IssuerRule {
    /// Exactly one of these (Google: its issuer URL with and without the scheme).
    OneOf(Vec<String>),
    /// The discovery document's `issuer` with `{tenantid}` replaced by the token's `tid`
    /// (Microsoft; a single-tenant document has no placeholder and must match as it is).
    TenantTemplate,
}

/// Providers have sent boolean claims as booleans and as the string "true".
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// Verifies one provider's ID tokens for one client id.
#[derive(Clone)]
pub struct OidcVerifier {
    client_id: String,
    /// Where `/.well-known/openid-configuration` is looked up.
    discovery_base: String,
    issuer_rule: IssuerRule,
    /// Whether `xms_edov: true` vouches for the address (Microsoft), besides `email_verified`.
    trust_xms_edov: bool,
    http: reqwest::Client,
    cache: Arc<RwLock<Option<Cached>>>,
    ttl: Duration,
}

/// Refetching keys for an unknown `kid` happens at most this often (a forged `kid` must not turn
/// every request into a call to the provider).
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

impl OidcVerifier {
    /// Google's verifier, or `None` when no client id is configured (Google sign-in disabled).
    pub fn google(settings: &GoogleSettings, http: reqwest::Client) -> Option<Self> {
        let client_id = settings.client_id.clone()?;
        let issuer = settings.issuer_url.clone();
        // Google issues tokens with and without the scheme in `iss`.
        let bare_issuer = issuer.trim_start_matches("https://").to_owned();
        Some(Self {
            client_id,
            discovery_base: issuer.clone(),
            issuer_rule: IssuerRule::OneOf(vec![issuer, bare_issuer]),
            trust_xms_edov: false,
            http,
            cache: Arc::default(),
            ttl: settings.jwks_cache_ttl,
        })
    }

    /// Microsoft's verifier, or `None` unless both client id and secret are configured (Microsoft
    /// sign-in is only the website's code flow, which needs both).
    pub fn microsoft(settings: &MicrosoftSettings, http: reqwest::Client) -> Option<Self> {
        let client_id = settings.client_id.clone()?;
        settings.client_secret.as_ref()?;
        Some(Self {
            client_id,
            discovery_base: settings.discovery_base(),
            issuer_rule: IssuerRule::TenantTemplate,
            trust_xms_edov: true,
            http,
            cache: Arc::default(),
            ttl: settings.jwks_cache_ttl,
        })
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
        let discovery = format!("{}/.well-known/openid-configuration", self.discovery_base);
        let metadata: ProviderMetadata = self.get_json(&discovery).await.context("OpenID discovery document")?;
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await.context("JWKS")?;
        tracing::info!(issuer = %self.discovery_base, keys = keys.keys.len(), "fetched OpenID signing keys");
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
    pub async fn verify(&self, token: &str, nonce: Option<&str>) -> Result<Identity, TokenError> {
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
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        match &self.issuer_rule {
            IssuerRule::OneOf(issuers) => validation.set_issuer(issuers),
            // Checked below, once the token's `tid` is known.
            IssuerRule::TenantTemplate => {}
        }
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| TokenError::Invalid(e.to_string()))?.claims;
        if let IssuerRule::TenantTemplate = self.issuer_rule {
            let template = self.metadata().await?.issuer.ok_or_else(|| TokenError::Invalid("discovery document names no issuer".into()))?;
            tenant_issuer_matches(&template, claims.iss.as_deref(), claims.tid.as_deref())?;
        }
        if let Some(expected) = nonce
            && claims.nonce.as_deref() != Some(expected)
        {
            return Err(TokenError::Invalid("nonce mismatch".into()));
        }
        if !(claims.email_verified || (self.trust_xms_edov && claims.xms_edov)) {
            return Err(TokenError::EmailNotVerified);
        }
        let email = claims.email.ok_or_else(|| TokenError::Invalid("no email claim".into()))?;
        Ok(Identity { email: email.trim().to_lowercase(), name: claims.name })
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        let cache = self.cache.read().await;
        let jwk = cache.as_ref()?.keys.find(kid)?;
        DecodingKey::from_jwk(jwk).ok()
    }
}

/// Microsoft's issuer rule: `iss` must be the discovery document's issuer with `{tenantid}`
/// replaced by the token's own `tid` (a template without the placeholder must match as it is).
fn tenant_issuer_matches(template: &str, iss: Option<&str>, tid: Option<&str>) -> Result<(), TokenError> {
    let expected = if template.contains("{tenantid}") {
        // A tenant id is a GUID; anything else (a path, the placeholder itself) is no tenant.
        let is_id = |t: &&str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let tid = tid.filter(is_id).ok_or_else(|| TokenError::Invalid("no valid tid claim".into()))?;
        template.replace("{tenantid}", tid)
    } else {
        template.to_owned()
    };
    if iss != Some(expected.as_str()) {
        return Err(TokenError::Invalid(format!("unexpected issuer {iss:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tenant_issuer_matches;

    const COMMON: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn a_multi_tenant_issuer_is_filled_in_with_the_tokens_own_tenant() {
        let iss = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        assert!(tenant_issuer_matches(COMMON, Some(&iss), Some(TENANT)).is_ok());
    }

    #[test]
    fn an_issuer_of_another_tenant_than_the_tid_claim_is_refused() {
        let iss = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        assert!(tenant_issuer_matches(COMMON, Some(&iss), Some("9188040d-6c67-4c5b-b112-36a304b66dad")).is_err());
        assert!(tenant_issuer_matches(COMMON, Some(&iss), None).is_err(), "no tid");
        assert!(tenant_issuer_matches(COMMON, Some(COMMON), Some("{tenantid}")).is_err(), "a tid is an id, not a placeholder");
        assert!(tenant_issuer_matches(COMMON, Some("https://evil.example/x/v2.0"), Some("x")).is_err());
    }

    #[test]
    fn a_single_tenant_issuer_must_match_as_published() {
        let fixed = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
        assert!(tenant_issuer_matches(&fixed, Some(&fixed), Some(TENANT)).is_ok());
        assert!(tenant_issuer_matches(&fixed, Some("https://login.microsoftonline.com/other/v2.0"), Some("other")).is_err());
    }
}
