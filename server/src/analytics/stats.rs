//! Interval estimates for proportions.

/// z for a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The Wilson score 95 % interval of `successes` out of `n`, within [0, 1] by construction.
/// Unlike the Wald interval p ± z·√(p(1−p)/n) upstream uses, it does not collapse to a point at
/// p = 0 or 1 nor spill outside [0, 1] for small samples. `None` when `n` is 0.
pub fn wilson(successes: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let (n, p) = (n as f64, successes as f64 / n as f64);
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values_and_stays_inside_zero_one() {
        // 8 of 10: Wilson 95 % = [0.4902, 0.9433] (Newcombe 1998, table I style check).
        let (lo, hi) = wilson(8, 10).unwrap();
        assert!((lo - 0.4902).abs() < 1e-4 && (hi - 0.9433).abs() < 1e-4, "{lo} {hi}");
        // 0 of 10: [0, 0.2775] — not the Wald interval's [0, 0].
        let (lo, hi) = wilson(0, 10).unwrap();
        assert!(lo.abs() < 1e-12 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(10, 10).unwrap();
        assert!((lo - 0.7225).abs() < 1e-4 && (hi - 1.0).abs() < 1e-12 && hi <= 1.0, "{lo} {hi}");
        assert_eq!(wilson(0, 0), None);
    }
}

/// Arm against baseline: the difference of two acceptance rates with its 95 % interval and the
/// two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// p_arm − p_baseline.
    pub difference: f64,
    /// 95 % interval of the difference (unpooled standard error).
    pub interval: (f64, f64),
    /// The z statistic with the pooled standard error.
    pub z: f64,
    /// Two-sided p-value of z.
    pub p_value: f64,
}

/// Compares `arm_successes / arm_n` with `base_successes / base_n`; `None` when either sample is
/// empty or both rates are 0 or 1 (no variance to test).
pub fn two_proportions(arm_successes: i64, arm_n: i64, base_successes: i64, base_n: i64) -> Option<Comparison> {
    if arm_n <= 0 || base_n <= 0 {
        return None;
    }
    let (n1, n2) = (arm_n as f64, base_n as f64);
    let (p1, p2) = (arm_successes as f64 / n1, base_successes as f64 / n2);
    let pooled = (arm_successes + base_successes) as f64 / (n1 + n2);
    let pooled_se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if pooled_se == 0.0 {
        return None;
    }
    let z = (p1 - p2) / pooled_se;
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let difference = p1 - p2;
    Some(Comparison { difference, interval: (difference - Z_95 * se, difference + Z_95 * se), z, p_value: 2.0 * (1.0 - normal_cdf(z.abs())) })
}

/// Φ(x), the standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod comparison_tests {
    use super::*;

    #[test]
    fn two_proportion_z_test_by_hand() {
        // 60/100 vs 45/100: pooled 0.525, SE = sqrt(0.525·0.475·0.02) = 0.070622, z = 2.1240,
        // p = 0.03367; unpooled SE = sqrt(0.24/100 + 0.2475/100) = 0.069821.
        let c = two_proportions(60, 100, 45, 100).unwrap();
        assert!((c.difference - 0.15).abs() < 1e-12);
        assert!((c.z - 2.1240).abs() < 1e-3, "{c:?}");
        assert!((c.p_value - 0.0337).abs() < 2e-4, "{c:?}");
        assert!((c.interval.0 - (0.15 - 1.959_964 * 0.069_821)).abs() < 1e-4, "{c:?}");
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert_eq!(two_proportions(0, 10, 0, 10), None, "no variance");
        assert_eq!(two_proportions(1, 0, 1, 10), None);
    }
}
