//! A local OpenID Connect provider standing in for Google or Microsoft (we cannot reach their
//! endpoints from tests): discovery document, JWKS with a key the test generated, an authorization
//! endpoint that approves at once, and a token endpoint that checks PKCE and returns a signed ID
//! token.
//!
//! As Microsoft ([`Provider::start_microsoft`]) it serves the `common` tenant's v2.0 endpoints under
//! `/common/v2.0`, publishes the issuer as the template `<authority>/{tenantid}/v2.0`, signs tokens
//! for [`MICROSOFT_TENANT_ID`] with a `tid` claim, vouches for addresses with `xms_edov` (never
//! `email_verified`), and wants the client secret in the token request's body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client id tests configure the server with.
pub const CLIENT_ID: &str = "c4m-test-client.apps.example";
/// The Microsoft client (application) id tests configure the server with.
pub const MICROSOFT_CLIENT_ID: &str = "6f1c1c1e-0000-4000-8000-00000000c4e0";
/// The Microsoft client secret tests configure the server with.
pub const MICROSOFT_CLIENT_SECRET: &str = "microsoft-test-secret";
/// The tenant the Microsoft stand-in signs its users in to.
pub const MICROSOFT_TENANT_ID: &str = "2b9e3a5c-1111-4222-8333-444455556666";

struct Keys {
    encoding: EncodingKey,
    jwk: Value,
}

/// One RSA key per test process (generating 2048-bit keys is slow in debug builds).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand_core_06::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("generate an RSA key");
        let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("PEM");
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("encoding key");
        let jwk = json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test-key-1",
            "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        });
        Keys { encoding, jwk }
    })
}

/// Who the provider signs in at its authorization endpoint.
#[derive(Clone, Debug)]
pub struct ProviderUser {
    /// Address in the ID token.
    pub email: String,
    /// `email_verified` claim (Google), `xms_edov` claim (Microsoft).
    pub verified: bool,
    /// `name` claim.
    pub name: String,
}

/// Whose tokens the provider imitates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Google,
    Microsoft,
}

#[derive(Clone)]
struct Shared {
    flavor: Flavor,
    /// Where its endpoints are (Microsoft: `<authority>/common/v2.0`).
    base: String,
    /// Microsoft: the authority, the issuer's tenant is put after it.
    authority: String,
    user: Arc<Mutex<ProviderUser>>,
    /// Microsoft: a `tid` claim other than the issuer's tenant, for forged tokens.
    claimed_tenant: Arc<Mutex<Option<String>>>,
    codes: Arc<Mutex<HashMap<String, (String, String)>>>,
}

/// The running provider.
pub struct Provider {
    /// Its issuer URL (`http://127.0.0.1:<port>`); for Microsoft, the authority
    /// (`MICROSOFT_AUTHORITY`), its tenants' endpoints below it.
    pub issuer: String,
    user: Arc<Mutex<ProviderUser>>,
    claimed_tenant: Arc<Mutex<Option<String>>>,
}

impl Provider {
    /// Starts the Google stand-in on a free loopback port.
    pub async fn start() -> Self {
        Self::start_as(Flavor::Google).await
    }

    /// Starts the Microsoft stand-in (the `common` tenant) on a free loopback port.
    pub async fn start_microsoft() -> Self {
        Self::start_as(Flavor::Microsoft).await
    }

    async fn start_as(flavor: Flavor) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let user = Arc::new(Mutex::new(ProviderUser { email: "someone@example.com".into(), verified: true, name: "Some One".into() }));
        let prefix = if flavor == Flavor::Microsoft { "/common/v2.0" } else { "" };
        let claimed_tenant = Arc::new(Mutex::new(None));
        let shared = Shared {
            flavor,
            base: format!("{issuer}{prefix}"),
            authority: issuer.clone(),
            user: user.clone(),
            claimed_tenant: claimed_tenant.clone(),
            codes: Arc::default(),
        };
        let endpoints = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(|| async { Json(json!({"keys": [keys().jwk.clone()]})) }))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared);
        let app = if prefix.is_empty() { endpoints } else { Router::new().nest(prefix, endpoints) };
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { issuer, user, claimed_tenant }
    }

    /// Sets who signs in next at the authorization endpoint.
    pub fn sign_in_as(&self, user: ProviderUser) {
        *self.user.lock().expect("lock") = user;
    }

    /// Microsoft: tokens claim this `tid` while their issuer stays [`MICROSOFT_TENANT_ID`]'s (a
    /// token one tenant's issuer would never sign).
    pub fn claim_tenant(&self, tid: &str) {
        *self.claimed_tenant.lock().expect("lock") = Some(tid.to_owned());
    }

    /// A signed ID token with these claims (for the plugin's token-based sign-in).
    pub fn id_token(&self, email: &str, verified: bool, audience: &str, expires_in_secs: i64, nonce: Option<&str>) -> String {
        mint(&self.issuer, email, verified, "Some One", audience, expires_in_secs, nonce)
    }
}

/// Signs an ID token with the test key; `issuer` may be anything (tests forge wrong issuers).
pub fn mint(issuer: &str, email: &str, verified: bool, name: &str, audience: &str, expires_in_secs: i64, nonce: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": issuer, "aud": audience, "sub": format!("sub-{email}"), "email": email, "email_verified": verified,
        "name": name, "iat": now, "exp": now + expires_in_secs,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    sign(&claims)
}

fn sign(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    jsonwebtoken::encode(&header, claims, &keys().encoding).expect("sign")
}

/// A Microsoft ID token as the `common` endpoints issue it: the tenant's issuer and `tid`, the
/// address vouched for by `xms_edov` alone.
fn mint_microsoft(s: &Shared, user: &ProviderUser, nonce: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let tid = s.claimed_tenant.lock().expect("lock").clone().unwrap_or_else(|| MICROSOFT_TENANT_ID.to_owned());
    sign(&json!({
        "iss": format!("{}/{MICROSOFT_TENANT_ID}/v2.0", s.authority), "tid": tid, "aud": MICROSOFT_CLIENT_ID,
        "sub": format!("sub-{}", user.email), "oid": uuid::Uuid::new_v4(), "email": user.email, "xms_edov": user.verified,
        "name": user.name, "preferred_username": user.email, "nonce": nonce, "iat": now, "exp": now + 600,
    }))
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let issuer = match s.flavor {
        Flavor::Google => s.base.clone(),
        // As Microsoft's multi-tenant documents publish it.
        Flavor::Microsoft => format!("{}/{{tenantid}}/v2.0", s.authority),
    };
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/authorize", s.base),
        "token_endpoint": format!("{}/token", s.base),
        "jwks_uri": format!("{}/jwks", s.base),
    }))
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"), "PKCE is required");
    let code = uuid::Uuid::new_v4().to_string();
    let challenge = q.get("code_challenge").cloned().unwrap_or_default();
    let nonce = q.get("nonce").cloned().unwrap_or_default();
    s.codes.lock().expect("lock").insert(code.clone(), (challenge, nonce));
    let redirect = format!("{}?code={code}&state={}", q["redirect_uri"], q.get("state").cloned().unwrap_or_default());
    Redirect::to(&redirect)
}

async fn token(State(s): State<Shared>, Form(form): Form<HashMap<String, String>>) -> impl IntoResponse {
    let Some((challenge, nonce)) = form.get("code").and_then(|c| s.codes.lock().expect("lock").remove(c)) else {
        return (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"})));
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": "PKCE"})));
    }
    let user = s.user.lock().expect("lock").clone();
    let id_token = match s.flavor {
        Flavor::Google => mint(&s.base, &user.email, user.verified, &user.name, CLIENT_ID, 600, Some(&nonce)),
        Flavor::Microsoft => {
            // Microsoft takes the client's credentials in the body (client_secret_post).
            let client = (form.get("client_id").map(String::as_str), form.get("client_secret").map(String::as_str));
            if client != (Some(MICROSOFT_CLIENT_ID), Some(MICROSOFT_CLIENT_SECRET)) {
                return (axum::http::StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})));
            }
            mint_microsoft(&s, &user, &nonce)
        }
    };
    (axum::http::StatusCode::OK, Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 600, "id_token": id_token})))
}
