// The metered-usage report of `GET /api/usage` shaped for the "API keys & usage" page: requests per
// day stacked by endpoint (every day of the period present, quiet ones as zeros) and each quota
// window as a bar (how full, how urgent, when it resets).
import { STEP_MS, timeSeries, type WideRow } from "./pivot";

/** The report periods `GET /api/usage` accepts, with the days each covers (today included). */
export const USAGE_PERIODS = [
  { key: "day", label: "Today", days: 1 },
  { key: "week", label: "Last 7 days", days: 7 },
  { key: "month", label: "Last 30 days", days: 30 },
] as const;

/** One of the report periods. */
export type UsagePeriod = (typeof USAGE_PERIODS)[number]["key"];

/** One row of the report's series (one day, endpoint and model), as far as the chart reads it. */
export interface UsageDayRow {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  endpoint: string;
  requests: number;
}

/** Midnight UTC of a `YYYY-MM-DD` day in the ISO form the pivot's buckets use. */
function dayBucket(day: string): string {
  return `${day}T00:00:00Z`;
}

/**
 * Requests per day with one column per endpoint (models of the same endpoint summed), one row for
 * every day from `from` (the report's period start) through the period's last day, so a quiet day
 * is drawn as a zero instead of being skipped. Endpoints come in order of first appearance.
 */
export function requestsPerDay(
  series: readonly UsageDayRow[],
  from: string,
  period: UsagePeriod,
): { rows: WideRow[]; endpoints: string[] } {
  const days = USAGE_PERIODS.find((p) => p.key === period)?.days ?? 1;
  const start = Date.parse(from);
  const span = { start: new Date(start).toISOString(), end: new Date(start + (days - 1) * STEP_MS["1d"]).toISOString() };
  const { rows, series: endpoints } = timeSeries(
    series,
    (r) => dayBucket(r.day),
    (r) => r.endpoint,
    (r) => r.requests,
    STEP_MS["1d"],
    span,
  );
  return { rows, endpoints };
}

/** One quota window as the API reports it. */
export interface QuotaWindow {
  limit: number;
  used: number;
  remaining: number;
  /** Unix time (seconds) the window resets. */
  reset: number;
}

/** The quota windows the page draws, in order, with their labels. */
export const QUOTA_WINDOWS = [
  { key: "requests_per_hour", label: "Requests this hour" },
  { key: "requests_per_day", label: "Requests today" },
  { key: "tokens_per_day", label: "Generated tokens today" },
] as const;

/** A quota window's key in the report. */
export type QuotaKey = (typeof QUOTA_WINDOWS)[number]["key"];

/** How full a quota bar is, for its colour: room left, nearly spent (80% or more), spent. */
export type QuotaTone = "ok" | "warn" | "full";

/** A quota window ready to draw. */
export interface QuotaBar {
  key: QuotaKey;
  label: string;
  used: number;
  limit: number;
  remaining: number;
  /** How much of the limit is spent, 0..100 (capped: a burst may overshoot before it is refused). */
  percent: number;
  tone: QuotaTone;
  /** When the window resets, as an ISO 8601 time. */
  resetsAt: string;
}

/** Share of a window spent at which its bar turns to a warning. */
const WARN_AT = 80;

/** One bar per quota window (hourly requests, daily requests, daily tokens). */
export function quotaBars(quota: Record<QuotaKey, QuotaWindow>): QuotaBar[] {
  return QUOTA_WINDOWS.map(({ key, label }) => {
    const { used, limit, remaining, reset } = quota[key];
    // A zero limit means nothing may be spent: the window is full from the start.
    const percent = limit > 0 ? Math.min(100, (used / limit) * 100) : 100;
    const tone: QuotaTone = remaining <= 0 || percent >= 100 ? "full" : percent >= WARN_AT ? "warn" : "ok";
    return { key, label, used, limit, remaining, percent, tone, resetsAt: new Date(reset * 1000).toISOString() };
  });
}

/**
 * When a window resets, as the page says it: "in 42 min" within the hour, "at 00:00 UTC" later
 * (windows are UTC clock hours and days).
 */
export function describeReset(resetsAt: string, now: Date): string {
  const ms = Date.parse(resetsAt) - now.getTime();
  if (ms <= 0) return "now";
  if (ms < STEP_MS["1h"]) return `in ${Math.max(1, Math.ceil(ms / 60_000))} min`;
  const time = new Date(resetsAt).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  return `at ${time} UTC`;
}
