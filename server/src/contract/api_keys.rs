//! Bodies of the API-key, tier and usage endpoints (`/api/keys`, `/api/admin/users/{id}/tier`,
//! `/api/usage`).

use chrono::{DateTime, NaiveDate, Utc};
use code4me_shared::domain::parse_uuid;
use code4me_shared::tiers::Tier;
use code4me_shared::validation::{Fields, Issue, Rejection};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::contract::parse::field_issue;

/// Longest key name.
const MAX_NAME_CHARS: usize = 100;
/// Longest lifetime a key can be given (ten years).
const MAX_EXPIRES_IN_DAYS: i64 = 3_650;

/// `POST /api/keys`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKeyRequest {
    /// A label for the owner (1–100 characters, no control characters).
    pub name: String,
    /// Bind the key to one of the caller's projects.
    pub project_id: Option<Uuid>,
    /// Days until the key stops working (1–3650); absent: never.
    pub expires_in_days: Option<u32>,
}

impl NewApiKeyRequest {
    /// Parses a body.
    pub fn parse(body: &Value) -> Result<Self, Vec<Issue>> {
        let mut f = Fields::body(body);
        let name = f.required("name", parse_name);
        let project_id = f.optional("project_id", parse_uuid);
        let days = f.integer_at_least("expires_in_days", 1, None);
        let mut issues = match f.finish() {
            Ok(()) => Vec::new(),
            Err(issues) => issues,
        };
        let expires_in_days = match days.flatten() {
            Some(days) if days > MAX_EXPIRES_IN_DAYS => {
                issues.push(field_issue(
                    &["expires_in_days"],
                    "less_than_equal",
                    format!("Input should be less than or equal to {MAX_EXPIRES_IN_DAYS}"),
                    Value::from(days),
                ));
                None
            }
            other => other.and_then(|d| u32::try_from(d).ok()),
        };
        match (name, project_id, issues.is_empty()) {
            (Some(name), Some(project_id), true) => Ok(Self { name, project_id, expires_in_days }),
            _ => Err(issues),
        }
    }
}

fn parse_name(raw: &str) -> Result<String, Rejection> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Rejection::too_short(1));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Rejection::too_long(MAX_NAME_CHARS));
    }
    if name.chars().any(char::is_control) {
        return Err(Rejection::value_error("Value error, the name may not contain control characters", "control character"));
    }
    Ok(name.to_owned())
}

/// `PUT /api/admin/users/{user_id}/tier`, parsed.
pub fn parse_tier(body: &Value) -> Result<Tier, Vec<Issue>> {
    let mut f = Fields::body(body);
    let tier = f.required("tier", |raw| {
        Tier::parse(raw).ok_or_else(|| Rejection::value_error("Input should be 'free', 'pro' or 'enterprise'", "unknown tier"))
    });
    f.finish()?;
    tier.ok_or_else(Vec::new)
}

/// 201 body of `POST /api/keys`: the only time the key itself is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key's id (for revoking it).
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// The key: `Authorization: Bearer <key>`. Not retrievable later.
    pub key: String,
    /// Its first characters, as lists show them.
    pub prefix: String,
    /// The project it is bound to.
    pub project_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `null`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// One key in `GET /api/keys`, as `db::api_keys` reads it (never the key or its hash).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiKeySummary {
    /// The key's id.
    #[sqlx(rename = "key_id")]
    pub id: Uuid,
    /// Its label.
    pub name: String,
    /// Its first characters.
    pub prefix: String,
    /// The project it is bound to.
    pub project_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last request made with it (recorded with its usage, so seconds behind).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Body of `GET /api/keys`: the caller's keys that still work, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// The keys.
    pub keys: Vec<ApiKeySummary>,
}

/// Body of `PUT /api/admin/users/{user_id}/tier`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TierChanged {
    /// The user.
    pub user_id: Uuid,
    /// Their tier now.
    #[schema(value_type = String, example = "pro")]
    pub tier: Tier,
}

/// One quota window's state.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct QuotaWindow {
    /// The tier's limit.
    pub limit: u64,
    /// Spent in the current window.
    pub used: u64,
    /// Left in the current window.
    pub remaining: u64,
    /// Unix time (seconds) the window resets.
    pub reset: i64,
}

/// The caller's quotas now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaState {
    /// The user's tier.
    #[schema(value_type = String, example = "free")]
    pub tier: Tier,
    /// Requests this clock hour (UTC).
    pub requests_per_hour: QuotaWindow,
    /// Requests this UTC day.
    pub requests_per_day: QuotaWindow,
    /// Generated tokens this UTC day.
    pub tokens_per_day: QuotaWindow,
    /// Longest prompt a generation request may send, in characters.
    pub max_prompt_chars: u64,
}

/// Totals over the period.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct UsageTotals {
    /// Metered requests.
    pub requests: u64,
    /// Of which answered with a 4xx or 5xx.
    pub errors: u64,
    /// Prompt tokens read.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
}

/// One day's use of one endpoint with one model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageDay {
    /// The UTC day.
    pub day: NaiveDate,
    /// The route.
    pub endpoint: String,
    /// The model, for generation endpoints.
    pub model: Option<String>,
    /// Metered requests.
    pub requests: u64,
    /// Of which answered with a 4xx or 5xx.
    pub errors: u64,
    /// Prompt tokens read.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Median latency in ms.
    pub latency_p50_ms: f64,
}

/// Body of `GET /api/usage`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageReport {
    /// The user reported on.
    pub user_id: Uuid,
    /// `day`, `week` or `month`.
    pub period: String,
    /// Start of the period (midnight UTC).
    pub from: DateTime<Utc>,
    /// Totals over the period.
    pub totals: UsageTotals,
    /// Per day, endpoint and model, oldest first.
    pub series: Vec<UsageDay>,
    /// The quotas now.
    pub quota: QuotaState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_request_is_read_with_its_bounds() {
        let parsed = NewApiKeyRequest::parse(&json!({"name": " ci ", "expires_in_days": 30})).expect("valid");
        assert_eq!(parsed, NewApiKeyRequest { name: "ci".into(), project_id: None, expires_in_days: Some(30) });
        for bad in [
            json!({}),
            json!({"name": ""}),
            json!({"name": "x".repeat(101)}),
            json!({"name": "a\u{7}b"}),
            json!({"name": "ok", "expires_in_days": 0}),
            json!({"name": "ok", "expires_in_days": -5}),
            json!({"name": "ok", "expires_in_days": 3651}),
            json!({"name": "ok", "expires_in_days": 1e300}),
            json!({"name": "ok", "project_id": "not-a-uuid"}),
            json!([1, 2]),
        ] {
            assert!(NewApiKeyRequest::parse(&bad).is_err_and(|issues| !issues.is_empty()), "{bad}");
        }
    }

    #[test]
    fn tiers_are_read_by_name_only() {
        assert_eq!(parse_tier(&json!({"tier": "pro"})), Ok(Tier::Pro));
        assert!(parse_tier(&json!({"tier": "gold"})).is_err());
        assert!(parse_tier(&json!({"tier": 1})).is_err());
        assert!(parse_tier(&json!({})).is_err());
    }
}
