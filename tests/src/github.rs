//! A local stand-in for GitHub's OAuth app endpoints and user API (we cannot reach GitHub from
//! tests): an authorization page that approves at once, a token endpoint that wants the client's
//! credentials in the form body and answers JSON only when asked to (as GitHub does; otherwise
//! form-encoded), and `GET /user` and `GET /user/emails`, which want the access token it issued and
//! a `User-Agent` (GitHub refuses requests without one).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;

/// The client id tests configure the server with.
pub const CLIENT_ID: &str = "c4m-test-github-client";
/// The client secret tests configure the server with.
pub const CLIENT_SECRET: &str = "github-test-secret";

/// One entry of `GET /user/emails`.
#[derive(Clone, Debug)]
pub struct GitHubEmail {
    /// The address, as GitHub spells it.
    pub email: String,
    /// GitHub's primary address.
    pub primary: bool,
    /// Confirmed by GitHub.
    pub verified: bool,
}

impl GitHubEmail {
    /// An entry.
    pub fn new(email: &str, primary: bool, verified: bool) -> Self {
        Self { email: email.to_owned(), primary, verified }
    }
}

/// Who signs in at the authorization page.
#[derive(Clone, Debug)]
pub struct GitHubUser {
    /// `login`.
    pub login: String,
    /// `name` (GitHub users may leave it empty: `null`).
    pub name: Option<String>,
    /// `GET /user/emails`.
    pub emails: Vec<GitHubEmail>,
}

#[derive(Clone)]
struct Shared {
    user: Arc<Mutex<GitHubUser>>,
    /// Codes issued and not yet exchanged.
    codes: Arc<Mutex<HashSet<String>>>,
    /// Access tokens issued.
    tokens: Arc<Mutex<HashSet<String>>>,
}

/// The running stand-in.
pub struct GitHub {
    /// Its base URL (`http://127.0.0.1:<port>`): the API, and the OAuth pages under `/login/oauth/`.
    pub url: String,
    user: Arc<Mutex<GitHubUser>>,
}

impl GitHub {
    /// Starts it on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let user = Arc::new(Mutex::new(GitHubUser {
            login: "octocat".into(),
            name: Some("The Octocat".into()),
            emails: vec![GitHubEmail::new("octocat@example.com", true, true)],
        }));
        let shared = Shared { user: user.clone(), codes: Arc::default(), tokens: Arc::default() };
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user_profile))
            .route("/user/emails", get(user_emails))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, user }
    }

    /// Sets who signs in next.
    pub fn sign_in_as(&self, user: GitHubUser) {
        *self.user.lock().expect("lock") = user;
    }

    /// The settings that point the server here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_CLIENT_ID", CLIENT_ID.to_owned()),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("GITHUB_AUTHORIZE_URL", format!("{}/login/oauth/authorize", self.url)),
            ("GITHUB_TOKEN_URL", format!("{}/login/oauth/access_token", self.url)),
            ("GITHUB_API_URL", self.url.clone()),
        ]
    }
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::NOT_FOUND, "unknown OAuth app").into_response();
    }
    let scopes = q.get("scope").cloned().unwrap_or_default();
    assert!(scopes.split(' ').any(|s| s == "user:email"), "the e-mail scope is asked for: {scopes:?}");
    let code = uuid::Uuid::new_v4().simple().to_string();
    s.codes.lock().expect("lock").insert(code.clone());
    let state = q.get("state").cloned().unwrap_or_default();
    Redirect::to(&format!("{}?code={code}&state={state}", q["redirect_uri"])).into_response()
}

async fn access_token(State(s): State<Shared>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let client = (form.get("client_id").map(String::as_str), form.get("client_secret").map(String::as_str));
    // GitHub reports errors with 200 and an `error` field.
    let body = if client != (Some(CLIENT_ID), Some(CLIENT_SECRET)) {
        json!({"error": "incorrect_client_credentials"})
    } else if !form.get("code").is_some_and(|c| s.codes.lock().expect("lock").remove(c)) {
        json!({"error": "bad_verification_code"})
    } else {
        let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
        s.tokens.lock().expect("lock").insert(token.clone());
        json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})
    };
    let wants_json = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Json(body).into_response();
    }
    let pairs: Vec<String> = body.as_object().expect("object").iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    ([(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], pairs.join("&")).into_response()
}

/// The refusal GitHub would answer, unless the request carries an issued token and a `User-Agent`.
fn refusal(s: &Shared, headers: &HeaderMap) -> Option<Response> {
    if !headers.contains_key(header::USER_AGENT) {
        let message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
        return Some((StatusCode::FORBIDDEN, message).into_response());
    }
    let token = headers.get(header::AUTHORIZATION).and_then(|a| a.to_str().ok()).and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    if !s.tokens.lock().expect("lock").contains(token) {
        return Some((StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))).into_response());
    }
    None
}

async fn user_profile(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&s, &headers) {
        return refused;
    }
    let user = s.user.lock().expect("lock").clone();
    Json(json!({"login": user.login, "id": 583231, "name": user.name, "email": null})).into_response()
}

async fn user_emails(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&s, &headers) {
        return refused;
    }
    let user = s.user.lock().expect("lock").clone();
    let emails: Vec<_> =
        user.emails.iter().map(|e| json!({"email": e.email, "primary": e.primary, "verified": e.verified, "visibility": null})).collect();
    Json(emails).into_response()
}
