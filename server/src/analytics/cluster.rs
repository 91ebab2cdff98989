//! User-level (cluster-robust) inference for acceptance, a ratio metric. Users are what a study
//! randomises, but acceptance is counted per generation: one prolific user's generations are not
//! independent draws, so the pooled two-proportion test ([`super::stats::two_proportions`])
//! overstates significance. Here each arm's rate Σaccepted/Σgenerations gets its variance from the
//! delta method over users (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric
//! Analytics", eq. 4), and CUPED (Deng, Xu, Kohavi & Walker 2013) optionally removes the part of
//! that variance each user's pre-study acceptance explains.
//!
//! Reference values in the tests come from `tests/reference/study_statistics.py` (numpy, and for the
//! delta method also statsmodels' cluster-robust OLS, which agrees to 1e-15).

use super::stats::{Z_95, normal_cdf};

/// One randomised user's counts in an arm during the study.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserCounts {
    /// Completion generations accepted.
    pub accepted: f64,
    /// Completion generations shown to them.
    pub generations: f64,
    /// Their acceptance rate before the study (the CUPED covariate); `None` without pre-study
    /// generations.
    pub pre_rate: Option<f64>,
}

impl UserCounts {
    /// Counts without a pre-study rate.
    pub fn new(accepted: i64, generations: i64) -> Self {
        Self { accepted: accepted as f64, generations: generations as f64, pre_rate: None }
    }
}

/// An arm's rate with its user-level variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioEstimate {
    /// Σaccepted / Σgenerations.
    pub rate: f64,
    /// Var(rate) by the delta method over users.
    pub variance: f64,
    /// Users with at least one generation (the clusters).
    pub users: usize,
}

/// The arm's users with generations: each user's linearised contribution
/// L_i = (A_i − R·N_i) / mean(N), whose sample variance over users, divided by their number, is the
/// delta method's Var(R).
struct Linearised {
    rate: f64,
    values: Vec<f64>,
}

fn linearise(users: &[UserCounts]) -> Option<Linearised> {
    let active: Vec<&UserCounts> = users.iter().filter(|u| u.generations > 0.0).collect();
    if active.len() < 2 {
        return None;
    }
    let total_accepted: f64 = active.iter().map(|u| u.accepted).sum();
    let total_generations: f64 = active.iter().map(|u| u.generations).sum();
    let rate = total_accepted / total_generations;
    let mean_generations = total_generations / active.len() as f64;
    let values = active.iter().map(|u| (u.accepted - rate * u.generations) / mean_generations).collect();
    Some(Linearised { rate, values })
}

/// Sample variance (n − 1).
fn sample_variance(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

/// The arm's acceptance rate and its delta-method variance; `None` with fewer than two users who
/// had generations (no between-user variance to estimate).
pub fn ratio_estimate(users: &[UserCounts]) -> Option<RatioEstimate> {
    let l = linearise(users)?;
    Some(RatioEstimate { rate: l.rate, variance: sample_variance(&l.values) / l.values.len() as f64, users: l.values.len() })
}

/// A difference of two arms' rates with a normal 95 % interval and a two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// Arm's rate − baseline's.
    pub difference: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// The 95 % interval.
    pub interval: (f64, f64),
    /// Two-sided p-value of difference / standard error.
    pub p_value: f64,
}

impl Difference {
    /// `None` when the standard error is 0 (both arms without between-user variation).
    fn new(difference: f64, variance: f64) -> Option<Self> {
        let standard_error = variance.sqrt();
        if standard_error.is_nan() || standard_error <= 0.0 || !difference.is_finite() {
            return None;
        }
        let z = difference / standard_error;
        Some(Self {
            difference,
            standard_error,
            interval: (difference - Z_95 * standard_error, difference + Z_95 * standard_error),
            p_value: 2.0 * (1.0 - normal_cdf(z.abs())),
        })
    }
}

/// Arm against baseline with user-level variance (the delta method on each arm's ratio).
pub fn robust_difference(arm: &[UserCounts], baseline: &[UserCounts]) -> Option<Difference> {
    let (a, b) = (ratio_estimate(arm)?, ratio_estimate(baseline)?);
    Difference::new(a.rate - b.rate, a.variance + b.variance)
}

/// A CUPED-adjusted comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedDifference {
    /// The adjusted difference and its interval.
    pub difference: Difference,
    /// θ = cov(L, X) / var(X), pooled within arms.
    pub theta: f64,
    /// Users (of both arms, with generations) who had a pre-study rate.
    pub users_with_covariate: usize,
    /// Var(adjusted) / Var(unadjusted) of the difference: below 1 when the covariate helped.
    pub variance_ratio: f64,
}

/// Arm against baseline after CUPED on the linearised ratio: θ from the within-arm covariance of
/// each user's contribution L_i with their pre-study rate X_i (users without one take the pooled
/// mean of X, so they add nothing to it), each arm's rate shifted by −θ(mean X_arm − mean X_pooled)
/// and its variance Var(L − θX)/n. `None` with fewer than two users with a covariate or no variance
/// in it.
pub fn cuped_difference(arm: &[UserCounts], baseline: &[UserCounts]) -> Option<CupedDifference> {
    let active = |users: &[UserCounts]| users.iter().copied().filter(|u| u.generations > 0.0).collect::<Vec<_>>();
    let (arm, baseline) = (active(arm), active(baseline));
    let (la, lb) = (linearise(&arm)?, linearise(&baseline)?);
    let known: Vec<f64> = arm.iter().chain(&baseline).filter_map(|u| u.pre_rate).collect();
    if known.len() < 2 {
        return None;
    }
    let fill = known.iter().sum::<f64>() / known.len() as f64;
    let covariate = |users: &[UserCounts]| users.iter().map(|u| u.pre_rate.unwrap_or(fill)).collect::<Vec<f64>>();
    let (xa, xb) = (covariate(&arm), covariate(&baseline));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mean_a, mean_b) = (mean(&xa), mean(&xb));
    let centred = xa.iter().map(|x| x - mean_a).chain(xb.iter().map(|x| x - mean_b));
    let contributions = la.values.iter().chain(&lb.values);
    let (covariance, variance) = centred.zip(contributions).fold((0.0, 0.0), |(c, v), (x, l)| (c + x * l, v + x * x));
    if variance.is_nan() || variance <= 0.0 {
        return None;
    }
    let theta = covariance / variance;
    let pooled = (xa.iter().sum::<f64>() + xb.iter().sum::<f64>()) / (xa.len() + xb.len()) as f64;
    let adjusted_variance = |l: &Linearised, x: &[f64]| {
        let residuals: Vec<f64> = l.values.iter().zip(x).map(|(l, x)| l - theta * x).collect();
        sample_variance(&residuals) / residuals.len() as f64
    };
    let estimate = (la.rate - theta * (mean_a - pooled)) - (lb.rate - theta * (mean_b - pooled));
    let variance_adjusted = adjusted_variance(&la, &xa) + adjusted_variance(&lb, &xb);
    let variance_plain = sample_variance(&la.values) / la.values.len() as f64 + sample_variance(&lb.values) / lb.values.len() as f64;
    Some(CupedDifference {
        difference: Difference::new(estimate, variance_adjusted)?,
        theta,
        users_with_covariate: known.len(),
        variance_ratio: variance_adjusted / variance_plain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::stats::two_proportions;

    fn users(counts: &[(i64, i64)]) -> Vec<UserCounts> {
        counts.iter().map(|&(a, n)| UserCounts::new(a, n)).collect()
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() < tolerance, "{actual} is not {expected} ± {tolerance}");
    }

    #[test]
    fn few_users_with_many_generations_are_significant_pooled_but_not_per_user() {
        // Four users per arm, 100 generations each: pooled per generation the difference looks
        // certain (z = 3.5455, p = 0.000392), but the users' own rates vary so much that per user
        // it is not (SE = 0.125, p = 0.3173).
        let baseline = users(&[(20, 100), (60, 100), (30, 100), (50, 100)]);
        let arm = users(&[(50, 100), (70, 100), (30, 100), (60, 100)]);
        let naive = two_proportions(210, 400, 160, 400).expect("variance");
        close(naive.z, 3.545_519_7, 1e-6);
        close(naive.p_value, 0.000_391_84, 1e-7);
        assert!(naive.p_value < 0.05);
        let robust = robust_difference(&arm, &baseline).expect("two users per arm");
        close(robust.difference, 0.125, 1e-12);
        close(robust.standard_error, 0.125, 1e-12);
        close(robust.interval.0, -0.119_995_498, 1e-8);
        close(robust.p_value, 0.317_310_508, 1e-8);
        assert!(robust.p_value > 0.05);
    }

    #[test]
    fn the_delta_method_matches_cluster_robust_regression_with_unequal_users() {
        // statsmodels OLS on the 0/1 generations clustered by user (CR0 × k/(k−1)) gives the same.
        let baseline = users(&[(3, 10), (40, 80), (12, 30), (25, 40), (0, 5)]);
        let arm = users(&[(8, 12), (30, 50), (45, 60), (5, 20), (14, 18), (2, 3)]);
        let b = ratio_estimate(&baseline).expect("users");
        close(b.rate, 0.484_848_484_848, 1e-12);
        close(b.variance, 0.002_234_634_516_127, 1e-15);
        assert_eq!(b.users, 5);
        close(ratio_estimate(&arm).expect("users").variance, 0.005_213_312_206_028, 1e-15);
        let d = robust_difference(&arm, &baseline).expect("users");
        close(d.difference, 0.153_188_324_967, 1e-12);
        close(d.standard_error, 0.086_301_487_369, 1e-12);
        close(d.p_value, 0.075_891_793_895, 1e-9);
    }

    #[test]
    fn users_without_generations_do_not_count_and_one_user_is_not_enough() {
        let mut baseline = users(&[(20, 100), (60, 100), (30, 100), (50, 100)]);
        let arm = users(&[(50, 100), (70, 100), (30, 100), (60, 100)]);
        let before = robust_difference(&arm, &baseline);
        baseline.push(UserCounts::new(0, 0));
        assert_eq!(robust_difference(&arm, &baseline), before);
        assert_eq!(ratio_estimate(&users(&[(5, 10), (0, 0)])), None);
        assert_eq!(robust_difference(&users(&[(5, 10), (5, 10)]), &users(&[(5, 10), (5, 10)])), None, "no variance at all");
    }

    #[test]
    fn cuped_uses_the_pre_study_rate_to_narrow_the_interval() {
        // tests/reference/study_statistics.py, CUPED_ARM / CUPED_BASE: θ = 1.244118,
        // difference 0.092661 with SE 0.022890 (p = 5.16e-5), against SE 0.108177 unadjusted.
        let with_pre = |rows: &[(i64, i64, Option<f64>)]| -> Vec<UserCounts> {
            rows.iter().map(|&(a, n, pre)| UserCounts { pre_rate: pre, ..UserCounts::new(a, n) }).collect()
        };
        let baseline = with_pre(&[(20, 100, Some(0.25)), (60, 100, Some(0.55)), (30, 100, Some(0.35)), (50, 100, None), (44, 90, Some(0.5))]);
        let arm = with_pre(&[(50, 100, Some(0.4)), (70, 100, Some(0.6)), (30, 100, Some(0.2)), (60, 100, Some(0.5)), (9, 20, None)]);
        let plain = robust_difference(&arm, &baseline).expect("users");
        close(plain.difference, 0.105_102_040_816, 1e-12);
        close(plain.standard_error, 0.108_176_634_831, 1e-12);
        let cuped = cuped_difference(&arm, &baseline).expect("covariate");
        close(cuped.theta, 1.244_117_777_985, 1e-10);
        close(cuped.difference.difference, 0.092_660_863_036, 1e-10);
        close(cuped.difference.standard_error, 0.022_890_094_698, 1e-10);
        close(cuped.difference.p_value, 5.164_018_66e-5, 1e-10);
        assert_eq!(cuped.users_with_covariate, 8);
        assert!(cuped.variance_ratio < 0.1, "{}", cuped.variance_ratio);
        let no_covariate = users(&[(20, 100), (60, 100)]);
        assert_eq!(cuped_difference(&no_covariate, &no_covariate), None);
    }
}
