// Confidence intervals as error bars: recharts draws an asymmetric error bar from the distances
// below and above the point, while the API reports the interval's bounds.

/** A rate with its 95% interval, as the API reports it. */
export interface RateWithInterval {
  rate: number;
  lower: number;
  upper: number;
}

/** `[below, above]`: how far the interval reaches under and over the rate, never negative. */
export function errorBar({ rate, lower, upper }: RateWithInterval): [number, number] {
  return [Math.max(0, rate - lower), Math.max(0, upper - rate)];
}

/** "41.7% (38.2–45.3%)": a rate with its interval, for tables and screen readers. */
export function describeInterval({ rate, lower, upper }: RateWithInterval): string {
  const pct = (x: number) => (x * 100).toFixed(1);
  return `${pct(rate)}% (${pct(lower)}–${pct(upper)}%)`;
}
