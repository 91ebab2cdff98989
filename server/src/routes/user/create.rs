//! `POST /api/user/create`: sign up with e-mail and password, or with a Google ID token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use code4me_shared::domain::{Email, Password, UserName};
use code4me_shared::validation::{Fields, Issue};
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, NewUser};
use crate::http::extract::JsonBody;
use crate::services::accounts;
use crate::services::state::AppState;

/// A parsed sign-up request. The plugin always sends `provider` and `token` (`"no_provider"`, `""`);
/// only `provider == "google"` with a non-empty token is a Google sign-up.
struct SignUp {
    email: Email,
    name: UserName,
    password: Password,
    config_id: i64,
    google_token: Option<String>,
}

fn parse(body: &Value) -> Result<SignUp, Vec<Issue>> {
    let mut f = Fields::body(body);
    let email = f.required("email", Email::parse);
    let name = f.required("name", UserName::parse);
    let password = f.required("password", Password::parse);
    let config_id = f.required_integer("config_id", 0);
    let provider = f.optional("provider", |s| Ok(s.to_owned()));
    let token = f.optional("token", |s| Ok(s.to_owned()));
    match (email, name, password, config_id, provider, token, f.finish()) {
        (Some(email), Some(name), Some(password), Some(config_id), Some(provider), Some(token), Ok(())) => {
            let google_token = (provider.as_deref() == Some("google")).then_some(token).flatten().filter(|t| !t.is_empty());
            Ok(SignUp { email, name, password, config_id, google_token })
        }
        (.., Err(issues)) => Err(issues),
        _ => Err(Vec::new()),
    }
}

/// Creates the account; answers 201 with the new `user_id` and mails a verification link.
#[utoipa::path(
    post,
    path = "/api/user/create",
    tag = "user",
    request_body(content = crate::openapi::CreateUserBody, description = "The plugin sends all six fields; provider \"google\" with a token signs up with Google"),
    responses(
        (status = 201, description = "User created", body = crate::openapi::UserCreated),
        (status = 401, description = "Google token invalid or for another address", body = crate::openapi::Message),
        (status = 404, description = "config_id does not exist", body = crate::openapi::Message),
        (status = 409, description = "Address taken", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn create(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = parse(&body).map_err(ApiError::Validation)?;
    let verified_by_google = match &request.google_token {
        None => false,
        Some(token) => {
            let identity = super::verify_google(&state, token).await?;
            if identity.email != request.email.as_str() {
                return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_OAUTH_TOKEN));
            }
            true
        }
    };
    if users::config_data(&state.db, request.config_id).await.or_fail(messages::USER_CREATE_FAILED)?.is_none() {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND));
    }
    let password_hash = state.passwords.hash(request.password.expose()).await.or_fail(messages::USER_CREATE_FAILED)?;
    let new_user = NewUser {
        email: &request.email,
        name: request.name.as_str(),
        password_hash: &password_hash,
        config_id: request.config_id,
        is_oauth_signup: request.google_token.is_some(),
        verified: verified_by_google,
        is_admin: false,
    };
    let user_id = users::insert(&state.db, &new_user)
        .await
        .or_fail(messages::USER_CREATE_FAILED)?
        .ok_or(ApiError::Message(StatusCode::CONFLICT, messages::USER_EXISTS))?;
    tracing::info!(user.id = %user_id, google = verified_by_google, "user created");
    if !verified_by_google {
        accounts::spawn_verification(state.clone(), user_id, request.email.to_string(), request.name.as_str().to_owned());
    }
    Ok((StatusCode::CREATED, Json(json!({"message": messages::USER_CREATED, "user_id": user_id}))))
}
