// The period (and, for admins, the user) a page studies, kept in the URL's query string so a view
// can be bookmarked, shared and reloaded.
import { useMemo } from "react";
import { useSearchParams } from "react-router";

/** The periods offered, in hours. */
export const PERIODS = [
  { key: "24h", label: "Last 24 hours", hours: 24 },
  { key: "7d", label: "Last 7 days", hours: 24 * 7 },
  { key: "30d", label: "Last 30 days", hours: 24 * 30 },
  { key: "90d", label: "Last 90 days", hours: 24 * 90 },
] as const;

export type PeriodKey = (typeof PERIODS)[number]["key"];

/** The analytics endpoints' common query: window and (admins only) user. */
export interface ScopeQuery {
  start_time: string;
  end_time: string;
  user_id?: string;
}

/** The window of a period ending at `now`, as the endpoints take it. */
export function windowOf(period: PeriodKey, now: Date): { start_time: string; end_time: string } {
  const hours = PERIODS.find((p) => p.key === period)?.hours ?? 24 * 30;
  return { start_time: new Date(now.getTime() - hours * 3_600_000).toISOString(), end_time: now.toISOString() };
}

/** The page's scope from the URL (default: the last 30 days, all users the caller may see). */
export function useScope() {
  const [params, setParams] = useSearchParams();
  const raw = params.get("period");
  const period: PeriodKey = PERIODS.some((p) => p.key === raw) ? (raw as PeriodKey) : "30d";
  const userId = params.get("user_id")?.trim() || undefined;
  const query: ScopeQuery = useMemo(() => ({ ...windowOf(period, new Date()), user_id: userId }), [period, userId]);
  const update = (key: string, value: string | undefined) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  return {
    period,
    userId,
    query,
    setPeriod: (next: PeriodKey) => update("period", next),
    setUserId: (next: string | undefined) => update("user_id", next),
  };
}
