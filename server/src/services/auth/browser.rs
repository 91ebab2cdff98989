//! The website's sign-in with a provider: the OAuth 2 authorization-code flow with PKCE (and, for
//! OpenID providers, a nonce), the same for every provider.
//!
//! `GET /api/user/oauth/<provider>/login` sends the browser to the provider with a PKCE challenge;
//! the provider sends it back to `GET /api/user/oauth/<provider>/callback`, where the code is
//! exchanged (with the verifier and our client secret) for an access token and, from OpenID
//! providers, an ID token. What the tokens are then checked against is the provider's business
//! ([`crate::services::sign_in`]). GitHub ignores PKCE; sending it costs nothing.

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl, reqwest,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The token response field OAuth 2 does not define and OpenID Connect adds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    /// The signed ID token (absent from plain OAuth 2 providers such as GitHub).
    #[serde(default)]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type CodeFlowClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One provider's OAuth client as the code flow needs it.
pub struct OAuthApp<'a> {
    /// Our client id at the provider.
    pub client_id: &'a str,
    /// Our client secret at the provider.
    pub client_secret: &'a SecretString,
    /// The provider's authorization page.
    pub authorize_url: String,
    /// The provider's token endpoint.
    pub token_url: String,
    /// Our callback (registered with the provider).
    pub callback_url: String,
    /// Send the client secret in the form body (GitHub, Microsoft) rather than as HTTP Basic
    /// credentials (Google, the oauth2 crate's default).
    pub secret_in_body: bool,
}

/// A started sign-in: where to send the browser, and what the callback will need.
pub struct Started {
    /// The provider's authorization URL with our parameters.
    pub redirect_to: String,
    /// Opaque state echoed back by the provider (the Redis key of the flow).
    pub state: String,
    /// PKCE verifier for the code exchange.
    pub pkce_verifier: String,
    /// Nonce the ID token must carry (sent to every provider; only OpenID ones echo it).
    pub nonce: String,
}

/// What the code exchange returned.
pub struct Tokens {
    /// Bearer token for the provider's API (GitHub's user API).
    pub access_token: String,
    /// The (unverified) ID token, from OpenID providers.
    pub id_token: Option<String>,
}

fn client(app: &OAuthApp<'_>) -> anyhow::Result<CodeFlowClient> {
    let auth_type = if app.secret_in_body { AuthType::RequestBody } else { AuthType::BasicAuth };
    Ok(oauth2::Client::new(ClientId::new(app.client_id.to_owned()))
        .set_client_secret(ClientSecret::new(app.client_secret.expose_secret().to_owned()))
        .set_auth_type(auth_type)
        .set_auth_uri(AuthUrl::new(app.authorize_url.clone())?)
        .set_token_uri(TokenUrl::new(app.token_url.clone())?)
        .set_redirect_uri(RedirectUrl::new(app.callback_url.clone())?))
}

/// Starts a sign-in asking for `scopes`.
pub fn start(app: &OAuthApp<'_>, scopes: &[&str]) -> anyhow::Result<Started> {
    let client = client(app)?;
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random().secret().clone();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
        .add_extra_param("nonce", nonce.clone())
        .set_pkce_challenge(challenge)
        .url();
    Ok(Started { redirect_to: url.to_string(), state: state.secret().clone(), pkce_verifier: pkce_verifier.secret().clone(), nonce })
}

/// Exchanges the code for tokens.
pub async fn exchange(app: &OAuthApp<'_>, http: &reqwest::Client, code: String, pkce_verifier: String) -> anyhow::Result<Tokens> {
    let response = client(app)?
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
        .request_async(http)
        .await
        .map_err(|e| anyhow::anyhow!("code exchange failed: {e}"))?;
    Ok(Tokens { access_token: response.access_token().secret().clone(), id_token: response.extra_fields().id_token.clone() })
}
