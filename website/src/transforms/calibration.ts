// The reliability diagram's points: one per non-empty confidence bin, with the bin's mean
// confidence on x and how often its completions were accepted on y. A perfectly calibrated model
// lies on the diagonal; the gap, weighted by bin size, is the expected calibration error.

/** A bin as the reliability-diagram endpoint reports it. */
export interface ReliabilityBin {
  bin_number: number;
  sample_size: number;
  avg_predicted_confidence?: number | null;
  empirical_accuracy?: number | null;
}

/** One point of the diagram. */
export interface ReliabilityPoint {
  bin: number;
  confidence: number;
  accuracy: number;
  samples: number;
  /** accuracy − confidence: positive when the model was underconfident in this bin. */
  gap: number;
}

/** The points to plot, in bin order; bins without samples are left out (they have no mean). */
export function reliabilityPoints(bins: readonly ReliabilityBin[]): ReliabilityPoint[] {
  return bins
    .filter(
      (b) => b.sample_size > 0 && typeof b.avg_predicted_confidence === "number" && typeof b.empirical_accuracy === "number",
    )
    .map((b) => ({
      bin: b.bin_number,
      confidence: b.avg_predicted_confidence as number,
      accuracy: b.empirical_accuracy as number,
      samples: b.sample_size,
      gap: (b.empirical_accuracy as number) - (b.avg_predicted_confidence as number),
    }))
    .sort((a, b) => a.bin - b.bin);
}

/** The expected calibration error of the points: Σ (n_b / N) · |accuracy_b − confidence_b|. */
export function expectedCalibrationError(points: readonly ReliabilityPoint[]): number | null {
  const total = points.reduce((sum, p) => sum + p.samples, 0);
  if (total === 0) return null;
  return points.reduce((sum, p) => sum + (p.samples / total) * Math.abs(p.gap), 0);
}
