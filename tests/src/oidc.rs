//! A local OpenID Connect provider standing in for Google (we cannot reach Google's endpoints from
//! tests): discovery document, JWKS with a key the test generated, an authorization endpoint that
//! approves at once, and a token endpoint that checks PKCE and returns a signed ID token.

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
    /// `email_verified` claim.
    pub verified: bool,
    /// `name` claim.
    pub name: String,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    user: Arc<Mutex<ProviderUser>>,
    codes: Arc<Mutex<HashMap<String, (String, String)>>>,
}

/// The running provider.
pub struct Provider {
    /// Its issuer URL (`http://127.0.0.1:<port>`).
    pub issuer: String,
    user: Arc<Mutex<ProviderUser>>,
}

impl Provider {
    /// Starts the provider on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let user = Arc::new(Mutex::new(ProviderUser { email: "someone@example.com".into(), verified: true, name: "Some One".into() }));
        let shared = Shared { issuer: issuer.clone(), user: user.clone(), codes: Arc::default() };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(|| async { Json(json!({"keys": [keys().jwk.clone()]})) }))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { issuer, user }
    }

    /// Sets who signs in next at the authorization endpoint.
    pub fn sign_in_as(&self, user: ProviderUser) {
        *self.user.lock().expect("lock") = user;
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
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    jsonwebtoken::encode(&header, &claims, &keys().encoding).expect("sign")
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
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
    let id_token = mint(&s.issuer, &user.email, user.verified, &user.name, CLIENT_ID, 600, Some(&nonce));
    (axum::http::StatusCode::OK, Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 600, "id_token": id_token})))
}
