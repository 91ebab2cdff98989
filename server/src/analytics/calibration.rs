//! Calibration arithmetic over confidence bins: the expected calibration error and the Brier score
//! with Murphy's decomposition. The database sums each bin; the formulas live here, where they are
//! unit-tested against hand-computed values.

/// One confidence bin's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bin {
    /// Generations in the bin.
    pub count: i64,
    /// Sum of their confidence.
    pub confidence_sum: f64,
    /// How many were accepted.
    pub accepted: i64,
    /// Sum of (confidence − accepted)² over them.
    pub squared_error_sum: f64,
}

impl Bin {
    fn mean_confidence(&self) -> f64 {
        self.confidence_sum / self.count as f64
    }

    fn acceptance(&self) -> f64 {
        self.accepted as f64 / self.count as f64
    }
}

/// Σ_b (n_b / N) · |acceptance_b − mean confidence_b| over non-empty bins; `None` without samples.
pub fn expected_calibration_error(bins: &[Bin]) -> Option<f64> {
    let total: i64 = bins.iter().map(|b| b.count).sum();
    (total > 0)
        .then(|| bins.iter().filter(|b| b.count > 0).map(|b| b.count as f64 / total as f64 * (b.acceptance() - b.mean_confidence()).abs()).sum())
}

/// The Brier score and its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brier {
    /// Mean (confidence − accepted)².
    pub score: f64,
    /// Overall acceptance rate ō.
    pub base_rate: f64,
    /// ō(1 − ō): the score of always predicting the base rate.
    pub uncertainty: f64,
    /// Σ_b (n_b / N)(mean confidence_b − acceptance_b)²: lower is better calibrated.
    pub reliability: f64,
    /// Σ_b (n_b / N)(acceptance_b − ō)²: higher separates accepted from rejected better.
    pub resolution: f64,
    /// 1 − score / uncertainty; `None` when every generation was accepted, or none was.
    pub skill_score: Option<f64>,
}

/// Brier score of `bins` with Murphy's decomposition (score ≈ reliability − resolution +
/// uncertainty; exact when every generation in a bin has the bin's mean confidence). `None`
/// without samples.
pub fn brier(bins: &[Bin]) -> Option<Brier> {
    let total: i64 = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let score = bins.iter().map(|b| b.squared_error_sum).sum::<f64>() / n;
    let base_rate = bins.iter().map(|b| b.accepted).sum::<i64>() as f64 / n;
    let uncertainty = base_rate * (1.0 - base_rate);
    let filled = || bins.iter().filter(|b| b.count > 0);
    let reliability = filled().map(|b| b.count as f64 / n * (b.mean_confidence() - b.acceptance()).powi(2)).sum();
    let resolution = filled().map(|b| b.count as f64 / n * (b.acceptance() - base_rate).powi(2)).sum();
    let skill_score = (uncertainty > 0.0).then(|| 1.0 - score / uncertainty);
    Some(Brier { score, base_rate, uncertainty, reliability, resolution, skill_score })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bin of `confidences`, the first `accepted` of which were accepted.
    fn bin(confidences: &[f64], accepted: usize) -> Bin {
        let squared_error_sum = confidences.iter().enumerate().map(|(i, c)| (c - if i < accepted { 1.0 } else { 0.0 }).powi(2)).sum();
        Bin { count: confidences.len() as i64, confidence_sum: confidences.iter().sum(), accepted: accepted as i64, squared_error_sum }
    }

    #[test]
    fn ece_weights_each_bins_gap_by_its_share() {
        // Bin A: 4 at 0.2, 1 accepted (gap 0.05); bin B: 6 at 0.8, 3 accepted (gap 0.3).
        let bins = [bin(&[0.2; 4], 1), bin(&[0.8; 6], 3)];
        let ece = expected_calibration_error(&bins).unwrap();
        assert!((ece - (0.4 * 0.05 + 0.6 * 0.3)).abs() < 1e-12, "{ece}");
        assert_eq!(expected_calibration_error(&[Bin::default()]), None);
    }

    #[test]
    fn brier_and_its_decomposition_by_hand() {
        let bins = [bin(&[0.2; 4], 1), bin(&[0.8; 6], 3)];
        let b = brier(&bins).unwrap();
        // Squared errors: bin A 1×0.64 + 3×0.04 = 0.76; bin B 3×0.04 + 3×0.64 = 2.04; N = 10.
        assert!((b.score - 0.28).abs() < 1e-12, "{b:?}");
        assert!((b.base_rate - 0.4).abs() < 1e-12);
        assert!((b.uncertainty - 0.24).abs() < 1e-12);
        assert!((b.reliability - (0.4 * 0.05f64.powi(2) + 0.6 * 0.3f64.powi(2))).abs() < 1e-12);
        assert!((b.resolution - (0.4 * 0.15f64.powi(2) + 0.6 * 0.1f64.powi(2))).abs() < 1e-12);
        // Constant confidence within each bin: the decomposition is exact.
        assert!((b.score - (b.reliability - b.resolution + b.uncertainty)).abs() < 1e-12);
        assert!((b.skill_score.unwrap() - (1.0 - 0.28 / 0.24)).abs() < 1e-12);
        let all_accepted = brier(&[bin(&[0.9, 0.7], 2)]).unwrap();
        assert_eq!(all_accepted.skill_score, None);
    }
}
