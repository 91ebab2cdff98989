//! "Sign in with Google" for the website: the authorization-code flow with PKCE and a nonce.
//!
//! `GET /api/user/oauth/google/login` sends the browser to the provider with a PKCE challenge; the
//! provider sends it back to `GET /api/user/oauth/google/callback`, where the code is exchanged
//! (with the verifier and our client secret), the ID token is verified like the plugin's, the
//! account is found or created, and the `auth_token` cookie is set. State lives in Redis for ten
//! minutes and is used once.

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::google::GoogleVerifier;

/// The token response field OAuth 2 does not define and OpenID Connect adds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    /// The signed ID token.
    pub id_token: String,
}

impl ExtraTokenFields for IdTokenField {}

type OidcClient = oauth2::Client<
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

/// A started sign-in: where to send the browser, and what the callback will need.
pub struct Started {
    /// The provider's authorization URL with our parameters.
    pub redirect_to: String,
    /// Opaque state echoed back by the provider (the Redis key of the flow).
    pub state: String,
    /// PKCE verifier for the code exchange.
    pub pkce_verifier: String,
    /// Nonce the ID token must carry.
    pub nonce: String,
}

/// Builds the OAuth client from the provider's discovery document.
async fn client(verifier: &GoogleVerifier, client_secret: &secrecy::SecretString, callback_url: &str) -> anyhow::Result<OidcClient> {
    let metadata = verifier.metadata().await?;
    Ok(oauth2::Client::new(ClientId::new(verifier.client_id().to_owned()))
        .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
        .set_auth_uri(AuthUrl::new(metadata.authorization_endpoint)?)
        .set_token_uri(TokenUrl::new(metadata.token_endpoint)?)
        .set_redirect_uri(RedirectUrl::new(callback_url.to_owned())?))
}

/// Starts a sign-in.
pub async fn start(verifier: &GoogleVerifier, client_secret: &secrecy::SecretString, callback_url: &str) -> anyhow::Result<Started> {
    let client = client(verifier, client_secret, callback_url).await?;
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = CsrfToken::new_random().secret().clone();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_extra_param("nonce", nonce.clone())
        .set_pkce_challenge(challenge)
        .url();
    Ok(Started { redirect_to: url.to_string(), state: state.secret().clone(), pkce_verifier: pkce_verifier.secret().clone(), nonce })
}

/// Exchanges the code for tokens and returns the (unverified) ID token.
pub async fn exchange(
    verifier: &GoogleVerifier,
    client_secret: &secrecy::SecretString,
    callback_url: &str,
    code: String,
    pkce_verifier: String,
) -> anyhow::Result<String> {
    let client = client(verifier, client_secret, callback_url).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
        .request_async(verifier.http())
        .await
        .map_err(|e| anyhow::anyhow!("code exchange failed: {e}"))?;
    Ok(response.extra_fields().id_token.clone())
}
