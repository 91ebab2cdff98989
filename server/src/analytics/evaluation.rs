//! A study's inference, arm by arm against the baseline, from each participant's counts: the
//! user-level difference ([`super::cluster`]), Holm-adjusted across the arms
//! ([`super::multiple_testing`]), its always-valid sequential view ([`super::sequential`]), CUPED
//! when pre-study rates exist, and the sample-ratio check over all arms ([`super::srm`]).

use super::cluster::{CupedDifference, Difference, UserCounts, cuped_difference, robust_difference};
use super::multiple_testing::holm;
use super::sequential::{AlwaysValid, DEFAULT_MIXING_SD, msprt};
use super::srm::{SampleRatio, equal_split};

/// One arm's participants.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmParticipants {
    /// The arm's config.
    pub config_id: i64,
    /// Every user assigned to it, those without generations included.
    pub users: Vec<UserCounts>,
}

/// An arm against the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmInference {
    /// The arm's config.
    pub config_id: i64,
    /// The user-level difference; `None` with fewer than two active users in either arm.
    pub robust: Option<Difference>,
    /// Its p-value after Holm's correction over the arms that have one.
    pub holm_p_value: Option<f64>,
    /// The always-valid view of the same estimate.
    pub sequential: Option<AlwaysValid>,
    /// The CUPED-adjusted difference, when enough participants have a pre-study rate.
    pub cuped: Option<CupedDifference>,
}

/// The study's inference.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyInference {
    /// One per arm other than the baseline, in the order given.
    pub arms: Vec<ArmInference>,
    /// Assigned users per arm against the equal split; `None` with fewer than two arms or no users.
    pub sample_ratio: Option<SampleRatio>,
}

/// Every arm of `arms` other than `baseline` against it; arms without participants still count in
/// the sample-ratio check (zero users where the split planned some).
pub fn infer(arms: &[ArmParticipants], baseline: i64) -> StudyInference {
    let base = arms.iter().find(|a| a.config_id == baseline);
    let mut inferences: Vec<ArmInference> = arms
        .iter()
        .filter(|a| a.config_id != baseline)
        .map(|arm| {
            let robust = base.and_then(|b| robust_difference(&arm.users, &b.users));
            ArmInference {
                config_id: arm.config_id,
                robust,
                holm_p_value: None,
                sequential: robust.and_then(|d| msprt(d.difference, d.standard_error.powi(2), DEFAULT_MIXING_SD, 0.05)),
                cuped: base.and_then(|b| cuped_difference(&arm.users, &b.users)),
            }
        })
        .collect();
    let tested: Vec<usize> = (0..inferences.len()).filter(|&i| inferences[i].robust.is_some()).collect();
    let raw: Vec<f64> = tested.iter().filter_map(|&i| inferences[i].robust.map(|d| d.p_value)).collect();
    for (&i, adjusted) in tested.iter().zip(holm(&raw)) {
        inferences[i].holm_p_value = Some(adjusted);
    }
    let assigned: Vec<i64> = arms.iter().map(|a| a.users.len() as i64).collect();
    StudyInference { arms: inferences, sample_ratio: equal_split(&assigned) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(config_id: i64, counts: &[(i64, i64)]) -> ArmParticipants {
        ArmParticipants { config_id, users: counts.iter().map(|&(a, n)| UserCounts::new(a, n)).collect() }
    }

    #[test]
    fn each_arm_is_compared_with_the_baseline_and_corrected_for_the_others() {
        let baseline = arm(1, &[(20, 100), (60, 100), (30, 100), (50, 100)]);
        let same = arm(2, &[(50, 100), (70, 100), (30, 100), (60, 100)]);
        let lonely = arm(3, &[(5, 10)]);
        let inference = infer(&[baseline, same.clone(), lonely], 1);
        assert_eq!(inference.arms.len(), 2);
        let two = inference.arms[0];
        assert_eq!(two.config_id, 2);
        let p = two.robust.expect("four users each").p_value;
        assert_eq!(two.holm_p_value, Some(p), "only one arm could be tested, so nothing to correct");
        assert!(two.sequential.expect("variance").p_value >= p, "the always-valid p-value is never below the fixed one");
        assert_eq!(inference.arms[1].robust, None, "one user is not enough");
        // 4, 4 and 1 users against an equal split: χ² = 2.0, 2 degrees of freedom.
        let srm = inference.sample_ratio.expect("three arms");
        assert!((srm.chi_square - 2.0).abs() < 1e-12 && srm.degrees_of_freedom == 2);

        let again = arm(4, &[(50, 100), (70, 100), (30, 100), (60, 100)]);
        let two_tested = infer(&[arm(1, &[(20, 100), (60, 100), (30, 100), (50, 100)]), same, again], 1);
        assert_eq!(two_tested.arms[0].holm_p_value, Some((2.0 * p).min(1.0)), "two equal p-values: both doubled");
    }
}
