//! Tier quotas for requests made with API keys: requests per clock hour and per UTC day, generated
//! tokens per UTC day. Counted in Redis per user (all of a user's keys and every server instance
//! share one budget), checked and counted by one Lua script per request: no read-then-write race,
//! so 50 concurrent requests against 10 remaining let exactly 10 through.

use std::time::{SystemTime, UNIX_EPOCH};

use code4me_shared::redis_keys::QUOTA;
use code4me_shared::tiers::{Tier, TierLimits};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use crate::contract::api_keys::{QuotaState, QuotaWindow};

const HOUR_SECONDS: u64 = 3_600;
const DAY_SECONDS: u64 = 86_400;
/// Counters outlive their window by this much, so a clock slightly behind still finds them.
const COUNTER_GRACE_SECONDS: u64 = 60;

/// Checks the three budgets and, when none is spent, counts the request in both request windows —
/// atomically. Returns `{admitted, hour, day, tokens, tripped}` where `tripped` is 0 (admitted),
/// 1 (hourly requests), 2 (daily requests) or 3 (daily tokens).
const ADMIT: &str = r"
local hour = tonumber(redis.call('GET', KEYS[1]) or '0')
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[3]) or '0')
if hour >= tonumber(ARGV[1]) then return {0, hour, day, tokens, 1} end
if day >= tonumber(ARGV[2]) then return {0, hour, day, tokens, 2} end
if tokens >= tonumber(ARGV[3]) then return {0, hour, day, tokens, 3} end
hour = redis.call('INCR', KEYS[1])
if hour == 1 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
day = redis.call('INCR', KEYS[2])
if day == 1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
return {1, hour, day, tokens, 0}
";

/// The quota that refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Requests this hour.
    HourlyRequests,
    /// Requests today.
    DailyRequests,
    /// Generated tokens today.
    DailyTokens,
}

/// The outcome of [`admit`].
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// `None`: admitted (and counted); otherwise the quota that is spent.
    pub refused: Option<Spent>,
    /// The windows after this request.
    pub state: Windows,
}

/// The three counters and their limits at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// Requests this hour.
    pub hour: QuotaWindow,
    /// Requests today.
    pub day: QuotaWindow,
    /// Generated tokens today.
    pub tokens: QuotaWindow,
}

impl Windows {
    /// The window the `X-RateLimit-*` headers describe: the spent one, else the request window
    /// with the fewest requests left.
    pub fn binding(&self, refused: Option<Spent>) -> QuotaWindow {
        match refused {
            Some(Spent::HourlyRequests) => self.hour,
            Some(Spent::DailyRequests) => self.day,
            Some(Spent::DailyTokens) => self.tokens,
            None if self.day.remaining < self.hour.remaining => self.day,
            None => self.hour,
        }
    }

    /// As the usage report shows it.
    pub fn report(&self, tier: Tier, limits: TierLimits) -> QuotaState {
        QuotaState {
            tier,
            requests_per_hour: self.hour,
            requests_per_day: self.day,
            tokens_per_day: self.tokens,
            max_prompt_chars: limits.max_prompt_chars,
        }
    }
}

fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The counter keys of `user_id` at `now`, and when their windows end.
struct Counters {
    hour_key: String,
    day_key: String,
    tokens_key: String,
    hour_reset: u64,
    day_reset: u64,
}

impl Counters {
    fn at(user_id: Uuid, now: u64) -> Self {
        let (hour, day) = (now / HOUR_SECONDS, now / DAY_SECONDS);
        Self {
            hour_key: format!("{QUOTA}{user_id}:h:{hour}"),
            day_key: format!("{QUOTA}{user_id}:d:{day}"),
            tokens_key: format!("{QUOTA}{user_id}:t:{day}"),
            hour_reset: (hour + 1) * HOUR_SECONDS,
            day_reset: (day + 1) * DAY_SECONDS,
        }
    }

    fn windows(&self, limits: TierLimits, (hour, day, tokens): (u64, u64, u64)) -> Windows {
        let window = |limit: u64, used: u64, reset: u64| QuotaWindow {
            limit,
            used,
            remaining: limit.saturating_sub(used),
            reset: i64::try_from(reset).unwrap_or(i64::MAX),
        };
        Windows {
            hour: window(limits.requests_per_hour, hour, self.hour_reset),
            day: window(limits.requests_per_day, day, self.day_reset),
            tokens: window(limits.tokens_per_day, tokens, self.day_reset),
        }
    }
}

/// Seconds from now until `window` resets (at least 1: `Retry-After: 0` invites a busy loop).
pub fn seconds_until(window: QuotaWindow) -> u64 {
    u64::try_from(window.reset).unwrap_or(0).saturating_sub(now_seconds()).max(1)
}

/// Checks `user_id`'s budgets under `limits` and counts the request when none is spent.
pub async fn admit(redis: &mut ConnectionManager, user_id: Uuid, limits: TierLimits) -> redis::RedisResult<Admission> {
    let now = now_seconds();
    let counters = Counters::at(user_id, now);
    let (admitted, hour, day, tokens, tripped): (u8, u64, u64, u64, u8) = Script::new(ADMIT)
        .key(&counters.hour_key)
        .key(&counters.day_key)
        .key(&counters.tokens_key)
        .arg(limits.requests_per_hour)
        .arg(limits.requests_per_day)
        .arg(limits.tokens_per_day)
        .arg(counters.hour_reset - now + COUNTER_GRACE_SECONDS)
        .arg(counters.day_reset - now + COUNTER_GRACE_SECONDS)
        .invoke_async(redis)
        .await?;
    let refused = match (admitted, tripped) {
        (1, _) => None,
        (_, 1) => Some(Spent::HourlyRequests),
        (_, 2) => Some(Spent::DailyRequests),
        _ => Some(Spent::DailyTokens),
    };
    Ok(Admission { refused, state: counters.windows(limits, (hour, day, tokens)) })
}

/// Adds generated tokens to `user_id`'s daily budget (after the generation: a request is never cut
/// short by its own tokens; the next one is refused once the day's budget is spent).
pub async fn charge_tokens(redis: &mut ConnectionManager, user_id: Uuid, tokens: u64) -> redis::RedisResult<()> {
    if tokens == 0 {
        return Ok(());
    }
    let now = now_seconds();
    let counters = Counters::at(user_id, now);
    redis::pipe()
        .incr(&counters.tokens_key, tokens)
        .ignore()
        .cmd("EXPIRE")
        .arg(&counters.tokens_key)
        .arg(counters.day_reset - now + COUNTER_GRACE_SECONDS)
        .arg("NX")
        .ignore()
        .query_async(redis)
        .await
}

/// `user_id`'s budgets now, without counting anything.
pub async fn current(redis: &mut ConnectionManager, user_id: Uuid, limits: TierLimits) -> redis::RedisResult<Windows> {
    let counters = Counters::at(user_id, now_seconds());
    let used: Vec<Option<u64>> = redis.mget(&[&counters.hour_key, &counters.day_key, &counters.tokens_key]).await?;
    let at = |i: usize| used.get(i).copied().flatten().unwrap_or(0);
    Ok(counters.windows(limits, (at(0), at(1), at(2))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(limit: u64, used: u64) -> QuotaWindow {
        QuotaWindow { limit, used, remaining: limit.saturating_sub(used), reset: 0 }
    }

    #[test]
    fn counters_roll_over_on_clock_hours_and_utc_days() {
        let user = Uuid::nil();
        let (a, b) = (Counters::at(user, 7_199), Counters::at(user, 7_200));
        assert_ne!(a.hour_key, b.hour_key);
        assert_eq!(a.day_key, b.day_key);
        assert_eq!((a.hour_reset, b.hour_reset), (7_200, 10_800));
        assert_eq!(Counters::at(user, 86_399).day_reset, 86_400);
    }

    #[test]
    fn headers_describe_the_spent_window_or_the_tightest() {
        let windows = Windows { hour: window(50, 10), day: window(200, 195), tokens: window(1_000, 0) };
        assert_eq!(windows.binding(None).limit, 200, "5 left today is tighter than 40 this hour");
        assert_eq!(windows.binding(Some(Spent::HourlyRequests)).limit, 50);
        assert_eq!(windows.binding(Some(Spent::DailyTokens)).limit, 1_000);
    }
}
