//! Tier quotas for requests made with API keys: requests per clock hour and per UTC day, generated
//! tokens per UTC day. Counted in Redis per user (all of a user's keys and every server instance
//! share one budget), checked and counted by one Lua script per request — which also resolves the
//! key from its cache entry, so a keyed request costs one round trip: no read-then-write race, so
//! 50 concurrent requests against 10 remaining let exactly 10 through.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use code4me_shared::redis_keys::{ApiKeyValue, QUOTA};
use code4me_shared::tiers::{Tier, TierLimits, TierTable};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use crate::contract::api_keys::{QuotaState, QuotaWindow};

const HOUR_SECONDS: u64 = 3_600;
const DAY_SECONDS: u64 = 86_400;
/// Counters outlive their window by this much, so a clock slightly behind still finds them.
const COUNTER_GRACE_SECONDS: u64 = 60;

/// The admission, as a Lua function both scripts share: checks the three budgets and, when none is
/// spent, counts the request in both request windows. Returns `{admitted, hour, day, tokens,
/// tripped}` where `tripped` is 0 (admitted), 1 (hourly requests), 2 (daily requests) or 3 (daily
/// tokens). A script runs atomically, so concurrent requests are counted one after another.
macro_rules! admission_lua {
    () => {
        r"
local function admit(hour_key, day_key, tokens_key, hour_limit, day_limit, token_limit, hour_ttl, day_ttl)
  local hour = tonumber(redis.call('GET', hour_key) or '0')
  local day = tonumber(redis.call('GET', day_key) or '0')
  local tokens = tonumber(redis.call('GET', tokens_key) or '0')
  if hour >= tonumber(hour_limit) then return {0, hour, day, tokens, 1} end
  if day >= tonumber(day_limit) then return {0, hour, day, tokens, 2} end
  if tokens >= tonumber(token_limit) then return {0, hour, day, tokens, 3} end
  hour = redis.call('INCR', hour_key)
  if hour == 1 then redis.call('EXPIRE', hour_key, hour_ttl) end
  day = redis.call('INCR', day_key)
  if day == 1 then redis.call('EXPIRE', day_key, day_ttl) end
  return {1, hour, day, tokens, 0}
end
"
    };
}

/// Admission of a known user: KEYS = the three counters, ARGV = the three limits and two TTLs.
const ADMIT: &str = concat!(admission_lua!(), "return admit(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])");

/// Key resolution and admission in one round trip (what every keyed request pays): KEYS[1] is the
/// key's cache entry; its user's counters are named from the entry (so this script, like the rest
/// of the deployment, assumes one Redis, not a cluster). Answers `{'miss'}` (not cached, or
/// unreadable), `{'invalid'}` (revoked, unknown, expired) or `{'ok', entry, admitted, hour, day,
/// tokens, tripped}`, all as strings. ARGV: the revoked and unknown markers, now (Unix seconds),
/// the three limits of free, pro and enterprise, the counter prefix, the hour and day windows, the
/// two TTLs.
const ADMIT_CACHED_KEY: &str = concat!(
    admission_lua!(),
    r"
local cached = redis.call('GET', KEYS[1])
if not cached then return {'miss'} end
if cached == ARGV[1] or cached == ARGV[2] then return {'invalid'} end
local ok, key = pcall(cjson.decode, cached)
if not ok or type(key) ~= 'table' or type(key.user_id) ~= 'string' then return {'miss'} end
if type(key.expires_at) == 'number' and key.expires_at <= tonumber(ARGV[3]) then return {'invalid'} end
local limits = {free = {ARGV[4], ARGV[5], ARGV[6]}, pro = {ARGV[7], ARGV[8], ARGV[9]}, enterprise = {ARGV[10], ARGV[11], ARGV[12]}}
local l = limits[key.tier]
if not l then return {'miss'} end
local p = ARGV[13] .. key.user_id
local r = admit(p .. ':h:' .. ARGV[14], p .. ':d:' .. ARGV[15], p .. ':t:' .. ARGV[15], l[1], l[2], l[3], ARGV[16], ARGV[17])
return {'ok', cached, tostring(r[1]), tostring(r[2]), tostring(r[3]), tostring(r[4]), tostring(r[5])}
"
);

/// The scripts, hashed once (`EVALSHA`, loading them on a `NOSCRIPT`).
static ADMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT));
static ADMIT_CACHED_KEY_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT_CACHED_KEY));

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

    /// The outcome of an admission script's `{admitted, hour, day, tokens, tripped}`.
    fn admission(&self, limits: TierLimits, (admitted, hour, day, tokens, tripped): (u8, u64, u64, u64, u8)) -> Admission {
        let refused = match (admitted, tripped) {
            (1, _) => None,
            (_, 1) => Some(Spent::HourlyRequests),
            (_, 2) => Some(Spent::DailyRequests),
            _ => Some(Spent::DailyTokens),
        };
        Admission { refused, state: self.windows(limits, (hour, day, tokens)) }
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
    let counted: (u8, u64, u64, u64, u8) = ADMIT_SCRIPT
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
    Ok(counters.admission(limits, counted))
}

/// What [`admit_cached_key`] found.
#[derive(Debug, Clone)]
pub enum CachedKey {
    /// The cache has no (readable) entry: PostgreSQL must be asked.
    Miss,
    /// Revoked, unknown or expired.
    Invalid,
    /// A working key, and its owner's admission (counted when admitted).
    Admitted(ApiKeyValue, Admission),
}

/// Resolves a key from its cache entry `cache_key` and admits its owner's request, in one round
/// trip; `revoked` and `unknown` are the entry values that mean "refuse".
pub async fn admit_cached_key(
    redis: &mut ConnectionManager,
    cache_key: &str,
    (revoked, unknown): (&str, &str),
    tiers: &TierTable,
) -> redis::RedisResult<CachedKey> {
    let now = now_seconds();
    let (hour, day) = (now / HOUR_SECONDS, now / DAY_SECONDS);
    let mut script = ADMIT_CACHED_KEY_SCRIPT.prepare_invoke();
    script.key(cache_key);
    script.arg(revoked).arg(unknown).arg(now);
    for tier in Tier::ALL {
        let limits = tiers.limits(tier);
        script.arg(limits.requests_per_hour).arg(limits.requests_per_day).arg(limits.tokens_per_day);
    }
    script.arg(QUOTA).arg(hour).arg(day);
    script.arg((hour + 1) * HOUR_SECONDS - now + COUNTER_GRACE_SECONDS).arg((day + 1) * DAY_SECONDS - now + COUNTER_GRACE_SECONDS);
    let answer: Vec<String> = script.invoke_async(redis).await?;
    Ok(match answer.first().map(String::as_str) {
        Some("invalid") => CachedKey::Invalid,
        Some("ok") => match parse_admitted(&answer, now, tiers) {
            Some((value, admission)) => CachedKey::Admitted(value, admission),
            None => CachedKey::Miss,
        },
        _ => CachedKey::Miss,
    })
}

/// The entry and the counts of an `ok` answer.
fn parse_admitted(answer: &[String], now: u64, tiers: &TierTable) -> Option<(ApiKeyValue, Admission)> {
    let value: ApiKeyValue = serde_json::from_str(answer.get(1)?).ok()?;
    let number = |i: usize| answer.get(i)?.parse::<u64>().ok();
    let counted = (u8::try_from(number(2)?).ok()?, number(3)?, number(4)?, number(5)?, u8::try_from(number(6)?).ok()?);
    let limits = tiers.limits(value.tier);
    let admission = Counters::at(value.user_id, now).admission(limits, counted);
    Some((value, admission))
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
