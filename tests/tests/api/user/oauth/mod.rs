//! `/api/user/oauth/...`: the website's sign-in with GitHub and Microsoft against local stand-ins
//! (Google's is in `user/google.rs`), and what every provider shares.

mod github;
mod microsoft;

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use serde_json::{Value, json};

/// Starts a sign-in at our login endpoint; returns the provider's authorization URL.
pub async fn start(app: &TestApp, provider: &str, return_to: &str) -> String {
    let start = app.get(&format!("/api/user/oauth/{provider}/login?return_to={return_to}")).await;
    assert_eq!(start.status(), 303, "{provider} login");
    let to_provider = start.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(to_provider.contains("code_challenge_method=S256"), "PKCE: {to_provider}");
    to_provider
}

/// Visits the provider's authorization URL (it approves at once, with a fresh code each time);
/// returns our callback URL it sends the browser to, on the test server.
pub async fn approve(app: &TestApp, to_provider: &str) -> String {
    let approved = app.client.get(to_provider).send().await.expect("provider");
    assert_eq!(approved.status(), 303, "the provider approves: {}", approved.text().await.unwrap_or_default());
    let back = approved.headers()["location"].to_str().expect("ascii").replace("http://c4m.test", &app.address);
    assert!(back.contains("/callback?code="), "{back}");
    back
}

/// Runs a provider's whole browser flow: our login → the provider → our callback, whose response
/// is returned.
pub async fn sign_in_through(app: &TestApp, provider: &str, return_to: &str) -> reqwest::Response {
    let to_provider = start(app, provider, return_to).await;
    let back = approve(app, &to_provider).await;
    assert!(back.starts_with(&format!("{}/api/user/oauth/{provider}/callback?", app.address)), "{back}");
    app.client.get(&back).send().await.expect("callback")
}

/// Sets a URL's `state` query parameter.
pub fn with_state(url: &str, state: &str) -> String {
    let mut url = reqwest::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != "state").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("state", state);
    url.to_string()
}

/// What every provider's callback must refuse, each with a code the provider really issued (so
/// only the state can be what is refused): a state already used, a forged one, none at all.
pub async fn refuses_used_forged_and_missing_states(app: &TestApp, provider: &str) {
    let to_provider = start(app, provider, "/").await;
    let first = app.client.get(approve(app, &to_provider).await).send().await.expect("callback");
    assert_eq!(first.status(), 303, "the flow itself works");
    // The provider approves the same request again: a new code for the same, spent state.
    let replayed = app.client.get(approve(app, &to_provider).await).send().await.expect("replay");
    assert_eq!(replayed.status(), 401, "a flow's state is used once");
    let fresh = approve(app, &start(app, provider, "/").await).await;
    let forged = app.client.get(with_state(&fresh, "forged")).send().await.expect("forged");
    assert_eq!(forged.status(), 401, "a state this server never issued");
    let without = fresh.split("&state=").next().expect("url").to_owned();
    let missing = app.client.get(&without).send().await.expect("missing");
    assert_eq!(missing.status(), 401, "no state");
    assert_eq!(missing.json::<Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}));
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
    // A Microsoft flow's state with a code GitHub really issued (GitHub ignores PKCE, so only the
    // state's provider can refuse it).
    let microsoft_state = started_state(&app, "microsoft").await;
    let github_callback = approve(&app, &start(&app, "github", "/").await).await;
    let crossed = app.client.get(with_state(&github_callback, &microsoft_state)).send().await.expect("callback");
    assert_eq!(crossed.status(), 401);
    assert_eq!(crossed.json::<Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}));
    assert_eq!(user_count(&app).await, 0);
}
