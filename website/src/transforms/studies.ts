// A study's evaluation as the table reads it: one row per arm, baseline first, with the comparison
// against the baseline spelled out — the user-level (per-user, Holm-corrected) difference the verdict
// rests on, the always-valid p-value for a running study, CUPED, and the pooled per-generation
// p-value for reference.
import { change, count, percent, points, pValue } from "../format";

interface Interval {
  lower: number;
  upper: number;
}

/** An arm's result as the evaluation endpoint reports it (only the fields shown). */
export interface ArmResult {
  config_id: number;
  is_baseline: boolean;
  metrics: { total_users: number; total_generations: number; acceptance_rate?: number | null };
  vs_baseline?: {
    acceptance_rate_uplift_pct?: number | null;
    difference_95ci?: Interval | null;
    p_value?: number | null;
    is_significant: boolean;
    is_better_acceptance: boolean;
    robust?: { difference: number; difference_95ci: Interval; holm_p_value: number; is_significant: boolean } | null;
    sequential?: { p_value: number; confidence_sequence: Interval } | null;
    cuped?: { difference_95ci: Interval; p_value: number; variance_ratio: number } | null;
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
  /** The per-user 95 % interval of the difference. */
  interval: string;
  /** Per-user p-value after Holm's correction. */
  robustP: string;
  /** Always-valid (mSPRT) p-value. */
  sequentialP: string;
  /** CUPED-adjusted interval. */
  cuped: string;
  /** Pooled per-generation p-value (overstates significance). */
  p: string;
  verdict: string;
}

const range = (ci: Interval | null | undefined) => (ci ? `${points(ci.lower)} to ${points(ci.upper)}` : "–");

/** What the comparison says, in words: the per-user, Holm-corrected test decides. */
function verdict(result: ArmResult): string {
  if (result.is_baseline) return "baseline";
  const vs = result.vs_baseline;
  if (vs?.p_value === undefined || vs.p_value === null) return "not enough data";
  if (!vs.robust) return "too few users to tell";
  if (!vs.robust.is_significant) return "no significant difference";
  return vs.robust.difference > 0 ? "better than baseline" : "worse than baseline";
}

/** The rows, baseline first, then arms by config id. */
export function evaluationRows(results: readonly ArmResult[]): ArmRow[] {
  return [...results]
    .sort((a, b) => Number(b.is_baseline) - Number(a.is_baseline) || a.config_id - b.config_id)
    .map((r) => {
      const vs = r.is_baseline ? null : r.vs_baseline;
      return {
        configId: r.config_id,
        arm: r.is_baseline ? `config ${r.config_id} (baseline)` : `config ${r.config_id}`,
        users: count(r.metrics.total_users),
        generations: count(r.metrics.total_generations),
        acceptance: percent(r.metrics.acceptance_rate),
        uplift: r.is_baseline ? "–" : change(vs?.acceptance_rate_uplift_pct),
        interval: range(vs?.robust?.difference_95ci),
        robustP: vs?.robust ? pValue(vs.robust.holm_p_value) : "–",
        sequentialP: vs?.sequential ? pValue(vs.sequential.p_value) : "–",
        cuped: range(vs?.cuped?.difference_95ci),
        p: r.is_baseline ? "–" : pValue(vs?.p_value),
        verdict: verdict(r),
      };
    });
}
