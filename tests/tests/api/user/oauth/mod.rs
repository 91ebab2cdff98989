//! `/api/user/oauth/...`: the website's sign-in with GitHub and Microsoft against local stand-ins
//! (Google's is in `user/google.rs`), and what every provider shares.

mod github;
mod microsoft;

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use serde_json::{Value, json};

/// Runs a provider's whole browser flow: our login → the provider (approves at once) → our
/// callback, whose response is returned.
pub async fn sign_in_through(app: &TestApp, provider: &str, return_to: &str) -> reqwest::Response {
    let start = app.get(&format!("/api/user/oauth/{provider}/login?return_to={return_to}")).await;
    assert_eq!(start.status(), 303, "{provider} login");
    let to_provider = start.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(to_provider.contains("code_challenge_method=S256"), "PKCE: {to_provider}");
    let approved = app.client.get(&to_provider).send().await.expect("provider");
    assert_eq!(approved.status(), 303, "the provider approves: {}", approved.text().await.unwrap_or_default());
    let back = approved.headers()["location"].to_str().expect("ascii").replace("http://c4m.test", &app.address);
    assert!(back.starts_with(&format!("{}/api/user/oauth/{provider}/callback?", app.address)), "{back}");
    app.client.get(&back).send().await.expect("callback")
}

/// The account the callback's `auth_token` cookie signs into.
pub async fn signed_in_user(app: &TestApp, callback: &reqwest::Response) -> Value {
    let cookie = callback.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with("auth_token=") && cookie.contains("HttpOnly"), "{cookie}");
    let token = cookie.split(';').next().expect("pair").to_owned();
    let me = app.client.get(app.url("/api/user/get")).header("cookie", &token).send().await.expect("get");
    assert_eq!(me.status(), 200);
    me.json::<Value>().await.expect("json")["user"].clone()
}

/// How many accounts exist.
pub async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM \"user\"").fetch_one(&app.db).await.expect("count")
}

/// The provider's `state` of a started flow (from the authorization URL).
pub async fn started_state(app: &TestApp, provider: &str) -> String {
    let start = app.get(&format!("/api/user/oauth/{provider}/login")).await;
    let location = start.headers()["location"].to_str().expect("ascii").to_owned();
    let url = reqwest::Url::parse(&location).expect("url");
    url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("state parameter")
}

#[tokio::test]
async fn the_providers_endpoint_offers_exactly_the_configured_providers() {
    let app = TestApp::spawn().await;
    let all: Value = app.get("/api/user/oauth/providers").await.json().await.expect("json");
    assert_eq!(all, json!({"google": true, "github": true, "microsoft": true}));

    let app = TestApp::spawn_with(Options::default().env("GITHUB_CLIENT_SECRET", "").env("MICROSOFT_CLIENT_ID", "")).await;
    let some: Value = app.get("/api/user/oauth/providers").await.json().await.expect("json");
    assert_eq!(some, json!({"google": true, "github": false, "microsoft": false}));
    for (provider, detail) in [("github", "GitHub sign-in is not configured"), ("microsoft", "Microsoft sign-in is not configured")] {
        for step in ["login", "callback?code=x&state=y"] {
            let reply = app.get(&format!("/api/user/oauth/{provider}/{step}")).await;
            assert_eq!(reply.status(), 404, "{provider} {step}");
            assert_eq!(reply.json::<Value>().await.expect("json"), json!({"detail": detail}));
        }
    }
}

#[tokio::test]
async fn an_unknown_provider_is_not_found() {
    let app = TestApp::spawn().await;
    for path in ["/api/user/oauth/facebook/login", "/api/user/oauth/GitHub/callback?code=x&state=y"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_flow_started_with_one_provider_cannot_finish_at_another() {
    let app = TestApp::spawn().await;
    let state = started_state(&app, "github").await;
    let elsewhere = app.get(&format!("/api/user/oauth/microsoft/callback?code=x&state={state}")).await;
    assert_eq!(elsewhere.status(), 401);
    assert_eq!(elsewhere.json::<Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}));
    assert_eq!(user_count(&app).await, 0);
}
