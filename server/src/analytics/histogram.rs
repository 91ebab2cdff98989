//! Percentiles of a histogram of whole numbers, equal to PostgreSQL's `percentile_cont` over the
//! values it counts: the analytics rollups keep latencies as exact millisecond histograms, and the
//! endpoints report the same percentiles as a sort of the raw rows would.

/// `q`-quantile (`0..=1`) of the values `histogram` counts, as `(value, count)` in ascending value
/// order with positive counts: linear interpolation between the two order statistics around
/// `q · (n − 1)`. `None` for an empty histogram.
pub fn percentile_cont(histogram: &[(i64, i64)], q: f64) -> Option<f64> {
    let total: i64 = histogram.iter().map(|&(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (total - 1) as f64;
    let below = position.floor();
    let first = order_statistic(histogram, below as i64)?;
    let second = order_statistic(histogram, position.ceil() as i64)?;
    Some(first + (position - below) * (second - first))
}

/// The `k`-th smallest value (0-based) of the values `histogram` counts.
fn order_statistic(histogram: &[(i64, i64)], k: i64) -> Option<f64> {
    let mut seen = 0;
    for &(value, n) in histogram {
        seen += n;
        if k < seen {
            return Some(value as f64);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::percentile_cont;

    /// The values a histogram counts, written out.
    fn expand(histogram: &[(i64, i64)]) -> Vec<f64> {
        histogram.iter().flat_map(|&(v, n)| std::iter::repeat_n(v as f64, n as usize)).collect()
    }

    /// percentile_cont as PostgreSQL defines it, over the sorted values themselves.
    fn reference(sorted: &[f64], q: f64) -> f64 {
        let position = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
        sorted[lo] + (position - position.floor()) * (sorted[hi] - sorted[lo])
    }

    #[test]
    fn matches_the_definition_over_the_expanded_values() {
        let histogram = [(90, 3), (95, 1), (120, 7), (300, 2), (1_000, 1)];
        let sorted = expand(&histogram);
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(percentile_cont(&histogram, q), Some(reference(&sorted, q)), "q = {q}");
        }
    }

    #[test]
    fn interpolates_between_neighbours_like_postgresql() {
        // percentile_cont(0.5) over {10, 20} is 15; over {10, 20, 40} at 0.75 it is 30.
        assert_eq!(percentile_cont(&[(10, 1), (20, 1)], 0.5), Some(15.0));
        assert_eq!(percentile_cont(&[(10, 1), (20, 1), (40, 1)], 0.75), Some(30.0));
        assert_eq!(percentile_cont(&[(7, 1)], 0.9), Some(7.0));
    }

    #[test]
    fn an_empty_histogram_has_no_percentile() {
        assert_eq!(percentile_cont(&[], 0.5), None);
    }
}
