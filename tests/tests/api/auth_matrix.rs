//! Every endpoint that needs an auth token answers a missing, malformed, unknown or revoked token
//! with the same 401 and body, and leaks nothing.

use code4me_tests::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

const ENDPOINTS: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/user/get", None),
    ("PUT", "/api/user/update", Some(r#"{"name": "Mallory"}"#)),
    ("DELETE", "/api/user/delete?delete_data=true", None),
    ("GET", "/api/user/verify/check", None),
    ("POST", "/api/user/verify/resend", None),
    ("GET", "/api/session/acquire", None),
    ("PUT", "/api/session/deactivate/", None),
    ("POST", "/api/project/create", Some(r#"{"project_name": "x"}"#)),
    ("PUT", "/api/project/activate", Some(r#"{"project_id": "00000000-0000-4000-8000-000000000000"}"#)),
];

#[tokio::test]
async fn every_authenticated_endpoint_refuses_missing_forged_and_revoked_tokens_alike() {
    let app = TestApp::spawn().await;
    let mut victim = app.plugin();
    victim.signed_in_with_project("victim@example.com", "Password1").await;
    let mut leaver = app.plugin();
    leaver.signed_in_with_project("leaver@example.com", "Password1").await;
    let revoked = leaver.auth_token.clone().expect("token");
    assert_eq!(leaver.deactivate().await.status, 200);

    let expected = json!({"message": "Authentication token not found! You are not authenticated or your token has expired. Login before you can perform this action."});
    let cases = [
        ("no cookie", None),
        ("empty", Some("auth_token=".to_owned())),
        ("not a uuid", Some("auth_token=../../etc/passwd".to_owned())),
        ("unknown", Some("auth_token=3b241101-e2bb-4255-8caf-4136c566a962".to_owned())),
        ("revoked", Some(format!("auth_token={revoked}"))),
        ("someone's session token as auth", Some(format!("auth_token={}", victim.session_token.clone().expect("session")))),
    ];
    for (method, path, body) in ENDPOINTS {
        for (case, cookie) in &cases {
            let mut request = app.client.request(Method::from_bytes(method.as_bytes()).expect("method"), app.url(path));
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            if let Some(body) = body {
                request = request.header("content-type", "application/json").body(*body);
            }
            let response = request.send().await.expect("send");
            assert_eq!(response.status(), 401, "{method} {path} with {case}");
            assert!(response.headers().get("set-cookie").is_none(), "{method} {path} with {case} set a cookie");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body, expected, "{method} {path} with {case}");
        }
    }
    // Nothing above touched the victim's account.
    assert_eq!(victim.get_user().await.body["user"]["name"], "Test User");
}
