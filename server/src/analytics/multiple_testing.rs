//! Holm's step-down correction: a study with several arms compares each with the baseline, and
//! with m comparisons at 0.05 the chance that some arm looks better by luck alone grows towards
//! 1 − 0.95^m. Holm (1979) keeps that family-wise error at 0.05 and is uniformly more powerful than
//! Bonferroni. Reference values from statsmodels' `multipletests(method="holm")`.

/// Holm-adjusted p-values, in the order given: sorted ascending, the i-th smallest (from 0) is
/// multiplied by m − i, made non-decreasing along the order, and capped at 1. Compare each with
/// the unadjusted threshold (0.05).
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[index]).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_all_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} is not {expected:?}");
        }
    }

    #[test]
    fn holm_matches_statsmodels() {
        // 0.01 × 3 = 0.03; 0.03 × 2 = 0.06; 0.04 × 1 = 0.04, raised to 0.06 to stay monotone.
        assert_all_close(&holm(&[0.01, 0.04, 0.03]), &[0.03, 0.06, 0.06]);
        assert_all_close(&holm(&[0.2, 0.001, 0.013, 0.04]), &[0.2, 0.004, 0.039, 0.08]);
        assert_all_close(&holm(&[0.7, 0.9]), &[1.0, 1.0]);
        assert_all_close(&holm(&[0.02]), &[0.02]);
        assert!(holm(&[]).is_empty());
    }
}
