//! User tiers and the quotas each one gets (`TIER_<TIER>_<LIMIT>` overrides the defaults).
//!
//! The request defaults are the public-availability design's (free 50/h and 200/day, pro 500/h and
//! 2,000/day, enterprise 5,000/h and 20,000/day); token and prompt budgets scale with them.

use serde::{Deserialize, Serialize};

use crate::settings::{EnvSource, SettingsError};

/// A user's service level (`user.tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Everyone starts here.
    #[default]
    Free,
    /// Set by an admin.
    Pro,
    /// Set by an admin.
    Enterprise,
}

impl Tier {
    /// Every tier, cheapest first.
    pub const ALL: [Self; 3] = [Self::Free, Self::Pro, Self::Enterprise];

    /// The name stored in `user.tier` and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    /// The tier named `name` (exactly as [`Tier::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.as_str() == name)
    }

    fn default_limits(self) -> TierLimits {
        match self {
            Self::Free => TierLimits { requests_per_hour: 50, requests_per_day: 200, tokens_per_day: 100_000, max_prompt_chars: 16_000 },
            Self::Pro => TierLimits { requests_per_hour: 500, requests_per_day: 2_000, tokens_per_day: 1_000_000, max_prompt_chars: 64_000 },
            Self::Enterprise => {
                TierLimits { requests_per_hour: 5_000, requests_per_day: 20_000, tokens_per_day: 10_000_000, max_prompt_chars: 256_000 }
            }
        }
    }
}

/// What one tier may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TierLimits {
    /// Metered requests per clock hour (UTC).
    pub requests_per_hour: u64,
    /// Metered requests per UTC day.
    pub requests_per_day: u64,
    /// Generated tokens per UTC day.
    pub tokens_per_day: u64,
    /// Longest prompt a generation request may send, in characters.
    pub max_prompt_chars: u64,
}

/// The limits of every tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierTable {
    free: TierLimits,
    pro: TierLimits,
    enterprise: TierLimits,
}

impl Default for TierTable {
    fn default() -> Self {
        Self { free: Tier::Free.default_limits(), pro: Tier::Pro.default_limits(), enterprise: Tier::Enterprise.default_limits() }
    }
}

impl TierTable {
    /// Reads `TIER_{FREE,PRO,ENTERPRISE}_{REQUESTS_PER_HOUR,REQUESTS_PER_DAY,TOKENS_PER_DAY,MAX_PROMPT_CHARS}`.
    pub fn from_env(env: &EnvSource) -> Result<Self, SettingsError> {
        let read = |tier: Tier| -> Result<TierLimits, SettingsError> {
            let defaults = tier.default_limits();
            let var = |limit: &str| format!("TIER_{}_{limit}", tier.as_str().to_ascii_uppercase());
            Ok(TierLimits {
                requests_per_hour: env.parse_or(&var("REQUESTS_PER_HOUR"), defaults.requests_per_hour)?,
                requests_per_day: env.parse_or(&var("REQUESTS_PER_DAY"), defaults.requests_per_day)?,
                tokens_per_day: env.parse_or(&var("TOKENS_PER_DAY"), defaults.tokens_per_day)?,
                max_prompt_chars: env.parse_or(&var("MAX_PROMPT_CHARS"), defaults.max_prompt_chars)?,
            })
        };
        Ok(Self { free: read(Tier::Free)?, pro: read(Tier::Pro)?, enterprise: read(Tier::Enterprise)? })
    }

    /// The limits of `tier`.
    pub fn limits(&self, tier: Tier) -> TierLimits {
        match tier {
            Tier::Free => self.free,
            Tier::Pro => self.pro,
            Tier::Enterprise => self.enterprise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_design_documents() {
        let table = TierTable::from_env(&EnvSource::default()).expect("defaults parse");
        assert_eq!((table.limits(Tier::Free).requests_per_hour, table.limits(Tier::Free).requests_per_day), (50, 200));
        assert_eq!((table.limits(Tier::Pro).requests_per_hour, table.limits(Tier::Pro).requests_per_day), (500, 2_000));
        assert_eq!((table.limits(Tier::Enterprise).requests_per_hour, table.limits(Tier::Enterprise).requests_per_day), (5_000, 20_000));
    }

    #[test]
    fn each_limit_of_each_tier_can_be_overridden() {
        let env = EnvSource::from_pairs([("TIER_PRO_REQUESTS_PER_DAY", "7"), ("TIER_ENTERPRISE_MAX_PROMPT_CHARS", "99")]);
        let table = TierTable::from_env(&env).expect("parses");
        assert_eq!(table.limits(Tier::Pro).requests_per_day, 7);
        assert_eq!(table.limits(Tier::Enterprise).max_prompt_chars, 99);
        assert_eq!(table.limits(Tier::Free), TierTable::default().limits(Tier::Free));
        assert!(TierTable::from_env(&EnvSource::from_pairs([("TIER_FREE_TOKENS_PER_DAY", "-1")])).is_err());
    }

    #[test]
    fn tier_names_round_trip() {
        for tier in Tier::ALL {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(Tier::parse("Gold"), None);
    }
}
