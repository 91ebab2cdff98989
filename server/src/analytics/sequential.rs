//! Sequential testing: researchers look at a running study every day, and a fixed-sample p-value
//! read at every look rejects a true null far more often than 5 %. The mixture sequential
//! probability ratio test (mSPRT; Johari, Pekelis & Walsh 2017, "Always Valid Inference") with a
//! normal mixing distribution N(0, τ²) over the effect gives a p-value and a confidence sequence
//! that stay valid however often, and whenever, one looks (Howard et al. 2021 for the closed form).
//! Reference values computed by hand in tests/reference/study_statistics.py.

/// The mixing distribution's standard deviation over the difference in acceptance rates: effects
/// of a few percentage points are what a completion-model change achieves, so τ = 0.05 puts the
/// test's power where studies have their effects.
pub const DEFAULT_MIXING_SD: f64 = 0.05;

/// An always-valid view of an estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlwaysValid {
    /// min(1, 1/Λ) with Λ the mixture likelihood ratio at this look; valid at any stopping time
    /// (the running minimum over looks would be too; this look's value is never smaller).
    pub p_value: f64,
    /// The 1 − α confidence sequence at this look: covers the true difference at every look at
    /// once with probability 1 − α.
    pub interval: (f64, f64),
}

/// The always-valid p-value and 1 − `alpha` confidence sequence of an estimate `difference` with
/// variance `variance` (the cluster-robust one), mixing over N(0, `mixing_sd`²). `None` without a
/// positive finite variance.
pub fn msprt(difference: f64, variance: f64, mixing_sd: f64, alpha: f64) -> Option<AlwaysValid> {
    if variance.is_nan() || variance <= 0.0 || !variance.is_finite() || !difference.is_finite() {
        return None;
    }
    let tau2 = mixing_sd * mixing_sd;
    let log_lambda = 0.5 * (variance / (variance + tau2)).ln() + tau2 * difference * difference / (2.0 * variance * (variance + tau2));
    let p_value = (-log_lambda).exp().min(1.0);
    let half = (variance * (variance + tau2) / tau2 * (2.0 * (1.0 / alpha).ln() + ((variance + tau2) / variance).ln())).sqrt();
    Some(AlwaysValid { p_value, interval: (difference - half, difference + half) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mixture_test_matches_the_closed_form_and_is_wider_than_a_fixed_sample_interval() {
        // d = 0.05, V = 0.0004 (SE 0.02), τ² = 0.0025: Λ = sqrt(0.0004/0.0029)·exp(0.0025·0.0025/
        // (2·0.0004·0.0029)) = 5.4930, p = 0.182052; half-width 0.060821.
        let view = msprt(0.05, 0.0004, 0.05, 0.05).expect("variance");
        assert!((view.p_value - 0.182_051_660_586).abs() < 1e-10, "{view:?}");
        assert!((view.interval.0 - (0.05 - 0.060_821_248_190)).abs() < 1e-10, "{view:?}");
        assert!((view.interval.1 - (0.05 + 0.060_821_248_190)).abs() < 1e-10, "{view:?}");
        // The fixed-sample test would call this significant (z = 2.5, p = 0.0124) and its interval
        // (±0.0392) excludes 0; the sequence, valid at every look, does not.
        assert!(view.interval.0 < 0.0 && view.interval.1 - 0.05 > 1.96 * 0.02);
        assert_eq!(msprt(0.01, 0.0004, 0.05, 0.05).expect("variance").p_value, 1.0);
        assert_eq!(msprt(0.01, 0.0, 0.05, 0.05), None);
        // With a large effect the evidence becomes overwhelming.
        assert!(msprt(0.2, 0.0004, 0.05, 0.05).expect("variance").p_value < 1e-6);
    }
}
