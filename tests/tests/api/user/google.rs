use code4me_tests::TestApp;
use code4me_tests::oidc::{CLIENT_ID, mint};
use serde_json::json;

fn google_sign_up(email: &str, token: &str) -> serde_json::Value {
    json!({"email": email, "name": "Gopher", "password": "Password1", "config_id": 1, "provider": "google", "token": token})
}

#[tokio::test]
async fn signing_up_and_in_with_a_valid_google_id_token() {
    let app = TestApp::spawn().await;
    let token = app.oidc.id_token("gopher@example.com", true, CLIENT_ID, 600, None);
    let created = app.client.post(app.url("/api/user/create")).json(&google_sign_up("gopher@example.com", &token)).send().await.expect("send");
    assert_eq!(created.status(), 201);
    let (verified, oauth): (bool, bool) =
        sqlx::query_as("SELECT verified, is_oauth_signup FROM \"user\" WHERE email = 'gopher@example.com'").fetch_one(&app.db).await.expect("row");
    assert!(verified && oauth, "Google vouched for the address");

    // The website's body: provider and token only. Also with the plugin's extra fields.
    for body in [json!({"provider": "google", "token": token}), json!({"email": "x@y.z", "password": "", "provider": "google", "token": token})] {
        let reply = app.client.post(app.url("/api/user/authenticate")).json(&body).send().await.expect("send");
        assert_eq!(reply.status(), 200, "{body}");
        let body: serde_json::Value = reply.json().await.expect("json");
        assert_eq!(body["message"], "User authenticated successfully via OAuth.");
        assert_eq!(body["user"]["email"], "gopher@example.com");
    }
}

#[tokio::test]
async fn forged_expired_or_foreign_tokens_are_refused_with_the_contract_401() {
    let app = TestApp::spawn().await;
    let valid = app.oidc.id_token("gopher@example.com", true, CLIENT_ID, 600, None);
    app.client.post(app.url("/api/user/create")).json(&google_sign_up("gopher@example.com", &valid)).send().await.expect("send");
    let tampered = {
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        let claims =
            json!({"iss": app.oidc.issuer, "aud": CLIENT_ID, "email": "admin@example.com", "email_verified": true, "exp": 4_000_000_000_u64});
        parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims.to_string());
        parts.join(".")
    };
    let cases = [
        ("another audience", app.oidc.id_token("gopher@example.com", true, "someone-elses-client", 600, None)),
        ("expired", app.oidc.id_token("gopher@example.com", true, CLIENT_ID, -600, None)),
        ("another issuer", mint("https://evil.example", "gopher@example.com", true, "G", CLIENT_ID, 600, None)),
        ("unverified e-mail", app.oidc.id_token("gopher@example.com", false, CLIENT_ID, 600, None)),
        ("tampered claims", tampered),
        ("not a JWT", "definitely.not.ajwt".to_owned()),
    ];
    for (case, token) in cases {
        let reply =
            app.client.post(app.url("/api/user/authenticate")).json(&json!({"provider": "google", "token": token})).send().await.expect("send");
        assert_eq!(reply.status(), 401, "{case}");
        assert_eq!(reply.json::<serde_json::Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}), "{case}");
    }
    let unknown_user = app.oidc.id_token("stranger@example.com", true, CLIENT_ID, 600, None);
    let reply =
        app.client.post(app.url("/api/user/authenticate")).json(&json!({"provider": "google", "token": unknown_user})).send().await.expect("send");
    assert_eq!(reply.status(), 401, "a valid token for an address without an account");
}

#[tokio::test]
async fn a_google_sign_up_for_another_address_than_the_tokens_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.oidc.id_token("real@example.com", true, CLIENT_ID, 600, None);
    let reply = app.client.post(app.url("/api/user/create")).json(&google_sign_up("victim@example.com", &token)).send().await.expect("send");
    assert_eq!(reply.status(), 401);
    assert_eq!(reply.json::<serde_json::Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}));
}

#[tokio::test]
async fn the_websites_google_sign_in_runs_the_pkce_code_flow_and_sets_the_auth_cookie() {
    use code4me_tests::oidc::ProviderUser;
    let app = TestApp::spawn().await;
    app.oidc.sign_in_as(ProviderUser { email: "Web.User@example.com".into(), verified: true, name: "Web User".into() });
    let providers: serde_json::Value = app.get("/api/user/oauth/providers").await.json().await.expect("json");
    assert_eq!(providers, json!({"google": true, "github": true, "microsoft": true}));

    let start = app.get("/api/user/oauth/google/login?return_to=/studies").await;
    assert_eq!(start.status(), 303);
    let to_provider = start.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(to_provider.starts_with(&format!("{}/authorize?", app.oidc.issuer)), "{to_provider}");
    assert!(to_provider.contains("code_challenge_method=S256") && to_provider.contains("nonce="));

    let approved = app.client.get(&to_provider).send().await.expect("provider");
    let back = approved.headers()["location"].to_str().expect("ascii").replace("http://c4m.test", &app.address);
    let callback = app.client.get(&back).send().await.expect("callback");
    assert_eq!(callback.status(), 303);
    assert_eq!(callback.headers()["location"], "/studies");
    let cookie = callback.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with("auth_token=") && cookie.contains("HttpOnly"), "{cookie}");
    let token = cookie.split(';').next().expect("pair").to_owned();
    let me: serde_json::Value =
        app.client.get(app.url("/api/user/get")).header("cookie", &token).send().await.expect("get").json().await.expect("json");
    assert_eq!(me["user"]["email"], "web.user@example.com");
    assert_eq!(me["user"]["name"], "Web User");
    assert_eq!(me["user"]["verified"], json!(true));

    let replayed = app.client.get(&back).send().await.expect("replay");
    assert_eq!(replayed.status(), 401, "a flow's state is used once");
    let forged = app.get("/api/user/oauth/google/callback?code=x&state=forged").await;
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn the_google_flow_refuses_open_redirects_and_unverified_addresses() {
    use code4me_tests::oidc::ProviderUser;
    let app = TestApp::spawn().await;
    app.oidc.sign_in_as(ProviderUser { email: "unverified@example.com".into(), verified: false, name: "Nope".into() });
    let start = app.get("/api/user/oauth/google/login?return_to=https://evil.example/").await;
    let to_provider = start.headers()["location"].to_str().expect("ascii").to_owned();
    let approved = app.client.get(&to_provider).send().await.expect("provider");
    let back = approved.headers()["location"].to_str().expect("ascii").replace("http://c4m.test", &app.address);
    let callback = app.client.get(&back).send().await.expect("callback");
    assert_eq!(callback.status(), 401, "the provider did not verify the address");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM \"user\"").fetch_one(&app.db).await.expect("count");
    assert_eq!(users, 0);
}
