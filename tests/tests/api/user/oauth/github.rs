//! `/api/user/oauth/github/{login,callback}` against the local GitHub stand-in.

use code4me_tests::TestApp;
use code4me_tests::github::{GitHubEmail, GitHubUser};
use serde_json::{Value, json};

use super::{refuses_used_forged_and_missing_states, sign_in_through, signed_in_user, started_state, user_count};

fn octocat(name: Option<&str>, emails: Vec<GitHubEmail>) -> GitHubUser {
    GitHubUser { login: "octocat".into(), name: name.map(str::to_owned), emails }
}

#[tokio::test]
async fn a_first_github_sign_in_creates_a_verified_account_for_the_verified_primary_address() {
    let app = TestApp::spawn().await;
    app.github
        .sign_in_as(octocat(None, vec![GitHubEmail::new("old@example.com", false, true), GitHubEmail::new("Octo.Cat@Example.com", true, true)]));
    let callback = sign_in_through(&app, "github", "/studies").await;
    assert_eq!(callback.status(), 303);
    assert_eq!(callback.headers()["location"], "/studies");
    let user = signed_in_user(&app, &callback).await;
    assert_eq!(user["email"], "octo.cat@example.com", "the primary address, lower-cased");
    assert_eq!(user["name"], "octocat", "the login when GitHub has no name");
    assert_eq!(user["verified"], json!(true));
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn a_github_sign_in_with_an_existing_accounts_address_signs_into_that_account() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let created = plugin.sign_up("octocat@example.com", "Password Person", "Secret123").await;
    assert_eq!(created.status, 201, "{}", created.text);
    let existing: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM \"user\" WHERE email = 'octocat@example.com'").fetch_one(&app.db).await.expect("user");
    app.github.sign_in_as(octocat(Some("The Octocat"), vec![GitHubEmail::new("OctoCat@example.com", true, true)]));
    let callback = sign_in_through(&app, "github", "/").await;
    assert_eq!(callback.status(), 303);
    let user = signed_in_user(&app, &callback).await;
    assert_eq!(user["user_id"].as_str(), Some(existing.to_string().as_str()), "{user}");
    assert_eq!(user["name"], "Password Person", "the account is the existing one, unchanged");
    assert_eq!(user_count(&app).await, 1, "no second account for the same address");
    let again = sign_in_through(&app, "github", "/").await;
    assert_eq!(signed_in_user(&app, &again).await["user_id"], user["user_id"]);
}

#[tokio::test]
async fn an_unverified_account_with_the_address_is_claimed_by_its_owner_and_its_password_voided() {
    let app = TestApp::spawn().await;
    // Someone registers the owner's address with a password they know, never verifying it.
    let mut squatter = app.plugin();
    assert_eq!(squatter.sign_up("octocat@example.com", "Squatter", "Secret123").await.status, 201);
    assert_eq!(squatter.log_in("octocat@example.com", "Secret123").await.status, 200);
    assert_eq!(squatter.get_user().await.status, 200);

    app.github.sign_in_as(octocat(Some("The Octocat"), vec![GitHubEmail::new("octocat@example.com", true, true)]));
    let callback = sign_in_through(&app, "github", "/").await;
    assert_eq!(callback.status(), 303);
    assert_eq!(signed_in_user(&app, &callback).await["verified"], true);
    assert_eq!(squatter.get_user().await.status, 401, "the squatter's token is revoked");
    assert_eq!(squatter.log_in("octocat@example.com", "Secret123").await.status, 401, "the squatter's password is void");
}

#[tokio::test]
async fn a_verified_account_keeps_its_password_when_its_owner_signs_in_with_github() {
    let app = TestApp::spawn().await;
    let mut owner = app.plugin();
    assert_eq!(owner.sign_up("octocat@example.com", "Owner", "Secret123").await.status, 201);
    sqlx::query("UPDATE \"user\" SET verified = TRUE WHERE email = 'octocat@example.com'").execute(&app.db).await.expect("verify");
    app.github.sign_in_as(octocat(Some("The Octocat"), vec![GitHubEmail::new("octocat@example.com", true, true)]));
    assert_eq!(sign_in_through(&app, "github", "/").await.status(), 303);
    assert_eq!(owner.log_in("octocat@example.com", "Secret123").await.status, 200, "the owner's password still works");
}

#[tokio::test]
async fn github_sign_in_is_refused_without_a_verified_primary_address() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "unverified primary, verified secondary",
            vec![GitHubEmail::new("me@example.com", true, false), GitHubEmail::new("alt@example.com", false, true)],
        ),
        ("no addresses at all", vec![]),
    ];
    for (case, emails) in cases {
        app.github.sign_in_as(octocat(Some("Nope"), emails));
        let callback = sign_in_through(&app, "github", "/").await;
        assert_eq!(callback.status(), 401, "{case}");
        assert!(callback.headers().get("set-cookie").is_none(), "{case}");
        assert_eq!(callback.json::<Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}), "{case}");
    }
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn a_github_callback_with_a_missing_forged_or_used_state_is_refused() {
    let app = TestApp::spawn().await;
    refuses_used_forged_and_missing_states(&app, "github").await;
    // A real state with a code GitHub never issued: the exchange is refused.
    let state = started_state(&app, "github").await;
    let bad_code = app.get(&format!("/api/user/oauth/github/callback?code=never-issued&state={state}")).await;
    assert_eq!(bad_code.status(), 401);
    assert_eq!(user_count(&app).await, 1, "only the one good sign-in made an account");
}
