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
