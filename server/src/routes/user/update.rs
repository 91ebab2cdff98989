//! `PUT /api/user/update`: change name, e-mail, password or preferences.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use code4me_shared::domain::{Email, Password, UserName};
use code4me_shared::validation::{Fields, Issue};
use serde_json::{Map, Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users::{self, UpdateError, UserChanges, default_preference};
use crate::http::auth::CurrentUser;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;

struct Update {
    name: Option<UserName>,
    email: Option<Email>,
    previous_password: Option<String>,
    password: Option<Password>,
    preference: Option<Map<String, Value>>,
}

fn parse(body: &Value) -> Result<Update, Vec<Issue>> {
    let mut f = Fields::body(body);
    let name = f.optional("name", UserName::parse);
    let email = f.optional("email", Email::parse);
    let previous_password = f.optional("previous_password", |s| Ok(s.to_owned()));
    let password = f.optional("password", Password::parse);
    let preference = f.object("preference");
    // Accepted for compatibility, validated, and deliberately not applied (see README: a user must
    // not verify their own address or pick their own study arm).
    let _config_id = f.integer_at_least("config_id", 1, None);
    let _verified = f.boolean("verified");
    match (name, email, previous_password, password, preference, f.finish()) {
        (Some(name), Some(email), Some(previous_password), Some(password), Some(preference), Ok(())) => {
            Ok(Update { name, email, previous_password, password, preference })
        }
        (.., Err(issues)) => Err(issues),
        _ => Err(Vec::new()),
    }
}

/// Upstream's stored form: the defaults overridden by the sent keys, with nested lists and
/// objects stored as JSON *strings* — the plugin decodes `enabled_modules` and `module_values`
/// from strings, so this double encoding is part of the contract.
fn stored_preference(sent: Map<String, Value>) -> String {
    let mut preference = default_preference();
    for (key, value) in sent {
        let value = match value {
            Value::Array(_) | Value::Object(_) => Value::String(value.to_string()),
            scalar => scalar,
        };
        preference.insert(key, value);
    }
    Value::Object(preference).to_string()
}

/// Applies the changes and returns the updated user (201, as upstream).
#[utoipa::path(
    put,
    path = "/api/user/update",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::UpdateUserBody),
    responses(
        (status = 201, description = "Updated", body = crate::openapi::UserUpdated),
        (status = 401, description = "Not authenticated, or previous_password wrong", body = crate::openapi::Message),
        (status = 404, description = "User gone", body = crate::openapi::Message),
        (status = 409, description = "New e-mail taken", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn update(State(state): State<AppState>, caller: CurrentUser, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<Value>), ApiError> {
    let update = parse(&body)?;
    let current = super::existing_user(&state, caller.user_id, messages::USER_UPDATE_FAILED).await?;
    let mut changes = UserChanges { name: update.name.map(|n| n.as_str().to_owned()), email: update.email, ..UserChanges::default() };
    if let Some(password) = update.password {
        if let Some(previous) = update.previous_password {
            let correct = state.passwords.verify(&previous, Some(&current.password)).await.or_fail(messages::USER_UPDATE_FAILED)?;
            if !correct {
                return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::PREVIOUS_PASSWORD_WRONG));
            }
        }
        changes.password_hash = Some(state.passwords.hash(password.expose()).await.or_fail(messages::USER_UPDATE_FAILED)?);
    }
    changes.preference = update.preference.map(stored_preference);
    let user = match users::update(&state.db, caller.user_id, changes).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND)),
        Err(UpdateError::EmailTaken) => return Err(ApiError::Message(StatusCode::CONFLICT, messages::USER_EXISTS)),
        Err(UpdateError::Database(e)) => return Err(e).or_fail(messages::USER_UPDATE_FAILED),
    };
    Ok((StatusCode::CREATED, Json(json!({"message": messages::USER_UPDATED, "user": user.to_response(None)}))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_preference_values_are_stored_as_json_strings_over_the_defaults() {
        let sent = json!({"store_context": true, "enabled_modules": ["A", "B"], "module_values": {"k": "v"}});
        let Value::Object(sent) = sent else { unreachable!() };
        let stored: Value = serde_json::from_str(&stored_preference(sent)).expect("json");
        assert_eq!(stored["store_context"], json!(true));
        assert_eq!(stored["store_contextual_telemetry"], json!(true), "defaults kept");
        assert_eq!(stored["enabled_modules"], json!("[\"A\",\"B\"]"));
        assert_eq!(stored["module_values"], json!("{\"k\":\"v\"}"));
    }
}
