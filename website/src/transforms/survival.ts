// Code survival as the chart and table read it: one row per checkpoint, labelled in words, with
// the two survival shares and their intervals as error bars.
import { errorBar, type RateWithInterval } from "./intervals";

/** A checkpoint as the survival endpoint reports it (only the fields shown). */
export interface SurvivalPoint {
  checkpoint_seconds: number;
  generations: number;
  unchanged_rate?: number | null;
  unchanged_95ci?: { lower: number; upper: number } | null;
  mostly_unchanged_rate?: number | null;
  mostly_unchanged_95ci?: { lower: number; upper: number } | null;
}

/** "30 s", "2 min", "10 min". */
export function checkpointLabel(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

function interval(rate: number | null | undefined, ci: { lower: number; upper: number } | null | undefined): RateWithInterval | null {
  return rate === null || rate === undefined || !ci ? null : { rate, lower: ci.lower, upper: ci.upper };
}

/** One row per checkpoint, ascending, with intervals and error bars (none without data). */
export function survivalRows(points: readonly SurvivalPoint[]) {
  return [...points]
    .sort((a, b) => a.checkpoint_seconds - b.checkpoint_seconds)
    .map((p) => {
      const unchanged = interval(p.unchanged_rate, p.unchanged_95ci);
      const mostly = interval(p.mostly_unchanged_rate, p.mostly_unchanged_95ci);
      return {
        label: checkpointLabel(p.checkpoint_seconds),
        generations: p.generations,
        unchanged,
        mostly,
        unchangedRate: unchanged?.rate ?? null,
        mostlyRate: mostly?.rate ?? null,
        unchangedError: unchanged ? errorBar(unchanged) : [0, 0],
        mostlyError: mostly ? errorBar(mostly) : [0, 0],
      };
    });
}
