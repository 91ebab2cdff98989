//! `/api/user/oauth/microsoft/{login,callback}` against the local Microsoft (`common` tenant)
//! stand-in: its issuer is the `{tenantid}` template, its addresses vouched for by `xms_edov`.

use code4me_tests::TestApp;
use code4me_tests::oidc::ProviderUser;
use serde_json::{Value, json};

use super::{refuses_used_forged_and_missing_states, sign_in_through, signed_in_user, started_state, user_count};

fn account(email: &str, verified: bool) -> ProviderUser {
    ProviderUser { email: email.into(), verified, name: "Ms Account".into() }
}

#[tokio::test]
async fn a_first_microsoft_sign_in_creates_a_verified_account() {
    let app = TestApp::spawn().await;
    app.microsoft.sign_in_as(account("Ada.Work@Contoso.example", true));
    let start = app.get("/api/user/oauth/microsoft/login").await;
    let to_provider = start.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(to_provider.starts_with(&format!("{}/common/v2.0/authorize?", app.microsoft.issuer)), "the common tenant: {to_provider}");
    assert!(to_provider.contains("nonce=") && to_provider.contains("scope=openid+email+profile"), "{to_provider}");

    let callback = sign_in_through(&app, "microsoft", "/models").await;
    assert_eq!(callback.status(), 303);
    assert_eq!(callback.headers()["location"], "/models");
    let user = signed_in_user(&app, &callback).await;
    assert_eq!(user["email"], "ada.work@contoso.example");
    assert_eq!(user["name"], "Ms Account");
    assert_eq!(user["verified"], json!(true));
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn a_microsoft_sign_in_with_an_existing_accounts_address_signs_into_that_account() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    let created = plugin.sign_up("ada@contoso.example", "Ada Lovelace", "Secret123").await;
    assert_eq!(created.status, 201, "{}", created.text);
    app.microsoft.sign_in_as(account("ada@contoso.example", true));
    let callback = sign_in_through(&app, "microsoft", "/").await;
    assert_eq!(callback.status(), 303);
    let user = signed_in_user(&app, &callback).await;
    assert_eq!(user["user_id"], created.body["user_id"]);
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn a_microsoft_address_the_token_does_not_vouch_for_is_refused() {
    let app = TestApp::spawn().await;
    // Neither `xms_edov` nor `email_verified`: the address is whatever the tenant's admin typed.
    app.microsoft.sign_in_as(account("ceo@bank.example", false));
    let callback = sign_in_through(&app, "microsoft", "/").await;
    assert_eq!(callback.status(), 401);
    assert!(callback.headers().get("set-cookie").is_none());
    assert_eq!(callback.json::<Value>().await.expect("json"), json!({"message": "Invalid or expired token!"}));
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn a_microsoft_token_whose_tenant_is_not_its_issuers_is_refused() {
    let app = TestApp::spawn().await;
    app.microsoft.sign_in_as(account("ada@contoso.example", true));
    app.microsoft.claim_tenant("9188040d-6c67-4c5b-b112-36a304b66dad");
    let callback = sign_in_through(&app, "microsoft", "/").await;
    assert_eq!(callback.status(), 401);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn a_microsoft_callback_with_a_missing_forged_or_used_state_is_refused() {
    let app = TestApp::spawn().await;
    refuses_used_forged_and_missing_states(&app, "microsoft").await;
    let state = started_state(&app, "microsoft").await;
    let bad_code = app.get(&format!("/api/user/oauth/microsoft/callback?code=never-issued&state={state}")).await;
    assert_eq!(bad_code.status(), 401);
}
