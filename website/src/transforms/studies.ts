// A study's evaluation as the table reads it: one row per arm, baseline first, with the comparison
// against the baseline spelled out (uplift, interval of the difference, p-value, verdict).
import { change, count, percent, points, pValue } from "../format";

/** An arm's result as the evaluation endpoint reports it (only the fields shown). */
export interface ArmResult {
  config_id: number;
  is_baseline: boolean;
  metrics: { total_users: number; total_generations: number; acceptance_rate?: number | null };
  vs_baseline?: {
    acceptance_rate_uplift_pct?: number | null;
    difference_95ci?: { lower: number; upper: number } | null;
    p_value?: number | null;
    is_significant: boolean;
    is_better_acceptance: boolean;
  } | null;
}

/** One row of the evaluation table, every cell already formatted. */
export interface ArmRow {
  configId: number;
  arm: string;
  users: string;
  generations: string;
  acceptance: string;
  uplift: string;
  interval: string;
  p: string;
  verdict: string;
}

/** What the comparison says, in words. */
function verdict(result: ArmResult): string {
  if (result.is_baseline) return "baseline";
  const vs = result.vs_baseline;
  if (vs?.p_value === undefined || vs.p_value === null) return "not enough data";
  if (!vs.is_significant) return "no significant difference";
  return vs.is_better_acceptance ? "better than baseline" : "worse than baseline";
}

/** The rows, baseline first, then arms by config id. */
export function evaluationRows(results: readonly ArmResult[]): ArmRow[] {
  return [...results]
    .sort((a, b) => Number(b.is_baseline) - Number(a.is_baseline) || a.config_id - b.config_id)
    .map((r) => {
      const ci = r.vs_baseline?.difference_95ci;
      return {
        configId: r.config_id,
        arm: r.is_baseline ? `config ${r.config_id} (baseline)` : `config ${r.config_id}`,
        users: count(r.metrics.total_users),
        generations: count(r.metrics.total_generations),
        acceptance: percent(r.metrics.acceptance_rate),
        uplift: r.is_baseline ? "–" : change(r.vs_baseline?.acceptance_rate_uplift_pct),
        interval: ci ? `${points(ci.lower)} to ${points(ci.upper)}` : "–",
        p: r.is_baseline ? "–" : pValue(r.vs_baseline?.p_value),
        verdict: verdict(r),
      };
    });
}
