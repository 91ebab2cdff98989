//! The sample-ratio-mismatch check: are the users assigned to each arm as many as the planned split
//! says? A study assigns every arm with equal probability, so a lopsided count means assignment or
//! logging is broken, and no comparison of the arms can be trusted (Fabijan et al. 2019,
//! "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments"). Pearson's chi-square
//! goodness of fit; reference values from scipy.stats.chisquare (tests/reference/study_statistics.py).

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Below this p-value the split is flagged: the usual SRM threshold, strict because the check runs
/// on every look at every study.
pub const SRM_ALARM_P: f64 = 0.001;

/// The outcome of the check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRatio {
    /// Pearson's χ² of the observed counts against the planned split.
    pub chi_square: f64,
    /// Degrees of freedom (arms − 1).
    pub degrees_of_freedom: usize,
    /// P(χ² ≥ observed) under the planned split.
    pub p_value: f64,
}

impl SampleRatio {
    /// Whether the split is off by more than chance explains ([`SRM_ALARM_P`]).
    pub fn mismatch(&self) -> bool {
        self.p_value < SRM_ALARM_P
    }
}

/// `observed` users per arm against an equal split; `None` with fewer than two arms or no users.
pub fn equal_split(observed: &[i64]) -> Option<SampleRatio> {
    let total: i64 = observed.iter().sum();
    if observed.len() < 2 || total <= 0 || observed.iter().any(|n| *n < 0) {
        return None;
    }
    let expected = total as f64 / observed.len() as f64;
    let chi_square = observed.iter().map(|&n| (n as f64 - expected).powi(2) / expected).sum::<f64>();
    let degrees_of_freedom = observed.len() - 1;
    let distribution = ChiSquared::new(degrees_of_freedom as f64).ok()?;
    Some(SampleRatio { chi_square, degrees_of_freedom, p_value: distribution.sf(chi_square) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) {
        assert!((actual - expected).abs() <= relative * expected.abs(), "{actual} is not {expected}");
    }

    #[test]
    fn a_lopsided_split_is_flagged_and_a_fair_one_is_not() {
        let fair = equal_split(&[510, 490]).expect("two arms");
        close(fair.chi_square, 0.4, 1e-12);
        close(fair.p_value, 0.527_089_256_865_538, 1e-9);
        assert!(!fair.mismatch());
        let broken = equal_split(&[600, 400]).expect("two arms");
        close(broken.chi_square, 40.0, 1e-12);
        close(broken.p_value, 2.539_628_589_470_863e-10, 1e-6);
        assert!(broken.mismatch());
        let three = equal_split(&[120, 100, 80]).expect("three arms");
        assert_eq!(three.degrees_of_freedom, 2);
        close(three.p_value, 0.018_315_638_888_734, 1e-9);
        assert!(!three.mismatch(), "p = 0.018 is not below 0.001");
        close(equal_split(&[340, 330, 330]).expect("three arms").p_value, 0.904_837_418_035_960, 1e-9);
        assert_eq!(equal_split(&[10]), None);
        assert_eq!(equal_split(&[0, 0]), None);
    }
}
