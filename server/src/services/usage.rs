//! The usage report of `GET /api/usage` and the quota state of `GET /api/usage/quota`; the records
//! they read arrive through [`crate::services::usage_sink`].

use axum::http::StatusCode;
use chrono::{DateTime, Duration as Days, Utc};
use code4me_shared::tiers::Tier;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::api_keys::{QuotaState, UsageDay, UsageReport, UsageTotals};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::services::callers::KeyOrUser;
use crate::services::quotas;
use crate::services::state::AppState;

/// A report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    fn parse(raw: Option<&str>) -> Option<Self> {
        match raw.unwrap_or("day") {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Midnight UTC of the period's first day (today, 7 or 30 days including today).
    fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let days = match self {
            Self::Day => 0,
            Self::Week => 6,
            Self::Month => 29,
        };
        let midnight = now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
        midnight - Days::days(days)
    }
}

/// The usage report of `GET /api/usage` for the caller, or for `user_id` when an admin asks.
pub async fn report(state: &AppState, caller: Uuid, caller_is_admin: bool, query: &Value) -> Result<UsageReport, ApiError> {
    let text = |name: &str| query.get(name).and_then(Value::as_str);
    let period = Period::parse(text("period")).ok_or_else(|| query_issue("period", "Input should be 'day', 'week' or 'month'", text("period")))?;
    let user_id = match text("user_id") {
        None => caller,
        Some(raw) => Uuid::parse_str(raw).map_err(|_| query_issue("user_id", "Input should be a valid UUID", Some(raw)))?,
    };
    if user_id != caller && !caller_is_admin {
        return Err(ApiError::Detail(StatusCode::FORBIDDEN, messages::ADMIN_REQUIRED.into()));
    }
    let tier = db::api_keys::tier_of(&state.db, user_id)
        .await
        .map_err(ApiError::database)?
        .ok_or_else(|| ApiError::Detail(StatusCode::NOT_FOUND, messages::USER_ROW_NOT_FOUND.into()))?;
    let tier = Tier::parse(&tier).unwrap_or_default();
    let limits = state.settings.tiers.limits(tier);
    let from = period.start(Utc::now());
    let rows = db::usage::per_day(&state.db, user_id, from).await.map_err(ApiError::database)?;
    let windows = quotas::current(&mut state.redis.clone(), user_id, limits).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let series: Vec<UsageDay> = rows
        .into_iter()
        .map(|row| UsageDay {
            day: row.day,
            endpoint: row.endpoint,
            model: row.model,
            requests: count(row.requests),
            errors: count(row.errors),
            prompt_tokens: count(row.prompt_tokens),
            generated_tokens: count(row.generated_tokens),
            latency_p50_ms: row.latency_p50_ms,
        })
        .collect();
    let totals = series.iter().fold(UsageTotals::default(), |t, d| UsageTotals {
        requests: t.requests + d.requests,
        errors: t.errors + d.errors,
        prompt_tokens: t.prompt_tokens + d.prompt_tokens,
        generated_tokens: t.generated_tokens + d.generated_tokens,
    });
    Ok(UsageReport { user_id, period: period.name().to_owned(), from, totals, series, quota: windows.report(tier, limits) })
}

/// The caller's quotas now (`GET /api/usage/quota`). A keyed request's admission already read the
/// counters (`admitted`): no further I/O.
pub async fn quota(state: &AppState, caller: KeyOrUser, admitted: Option<QuotaState>) -> Result<QuotaState, ApiError> {
    if let Some(admitted) = admitted {
        return Ok(admitted);
    }
    let tier = match caller.tier {
        Some(tier) => tier,
        None => {
            let stored = db::api_keys::tier_of(&state.db, caller.user_id).await.map_err(ApiError::database)?;
            stored.and_then(|t| Tier::parse(&t)).unwrap_or_default()
        }
    };
    let limits = state.settings.tiers.limits(tier);
    let windows = quotas::current(&mut state.redis.clone(), caller.user_id, limits).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(windows.report(tier, limits))
}

/// A 422 for a query parameter, in pydantic's shape.
fn query_issue(name: &str, msg: &str, input: Option<&str>) -> ApiError {
    let issue = code4me_shared::validation::Issue::new(
        "value_error",
        vec![Value::from("query"), Value::from(name)],
        msg,
        input.map_or(Value::Null, Value::from),
        None,
    );
    ApiError::Validation(vec![issue])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_midnight_utc_and_include_today() {
        let now: DateTime<Utc> = "2026-12-03T15:04:05Z".parse().expect("time");
        assert_eq!(Period::Day.start(now).to_rfc3339(), "2026-12-03T00:00:00+00:00");
        assert_eq!(Period::Week.start(now).to_rfc3339(), "2026-11-27T00:00:00+00:00");
        assert_eq!(Period::Month.start(now).to_rfc3339(), "2026-11-04T00:00:00+00:00");
        assert_eq!(Period::parse(None), Some(Period::Day));
        assert_eq!(Period::parse(Some("year")), None);
    }
}
