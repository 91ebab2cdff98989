// How numbers read on the dashboard: one place, so every page rounds and labels the same way and the
// browser test can compare what a page shows with what the API returned.

/** What a cell shows for a number the API did not have. */
const NONE = "–";

/** True for a number that is not there: `null`, `undefined` or NaN. */
function absent(x: number | null | undefined): x is null | undefined {
  return x === null || x === undefined || Number.isNaN(x);
}

/** A 0..1 rate as a percentage with one decimal ("41.7%"); "–" when there is no rate. */
export function percent(rate: number | null | undefined): string {
  if (absent(rate)) return NONE;
  return `${(rate * 100).toFixed(1)}%`;
}

/** A signed percentage change ("+12.5%", "−3.0%"); "–" when there is nothing to compare with. */
export function change(pct: number | null | undefined): string {
  if (absent(pct)) return NONE;
  const sign = pct > 0 ? "+" : pct < 0 ? "−" : "±";
  return `${sign}${Math.abs(pct).toFixed(1)}%`;
}

/** Milliseconds, whole below 10 s ("412 ms"), in seconds above ("12.3 s"). */
export function millis(ms: number | null | undefined): string {
  if (absent(ms)) return NONE;
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A count with thousands separators ("12,345"). */
export function count(n: number | null | undefined): string {
  if (absent(n)) return NONE;
  return Math.round(n).toLocaleString("en-US");
}

/** A score in 0..1 with three decimals ("0.183"). */
export function score(x: number | null | undefined, digits = 3): string {
  if (absent(x)) return NONE;
  return x.toFixed(digits);
}

/** A p-value: "< 0.001" below a thousandth, three decimals otherwise. */
export function pValue(p: number | null | undefined): string {
  if (absent(p)) return NONE;
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

/** A bucket's start as the axis shows it: time of day for sub-day buckets, the date otherwise. */
export function bucketLabel(iso: string, subDay: boolean): string {
  const date = new Date(iso);
  const options: Intl.DateTimeFormatOptions = subDay
    ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }
    : { month: "short", day: "numeric", timeZone: "UTC" };
  return date.toLocaleString("en-GB", options);
}

/** A difference of two rates in percentage points, signed ("+3.1 pp", "−0.4 pp"). */
export function points(x: number | null | undefined): string {
  if (absent(x)) return NONE;
  const value = Math.abs(x * 100).toFixed(1);
  return x > 0 ? `+${value} pp` : x < 0 ? `−${value} pp` : `±${value} pp`;
}

/** A moment to the minute in UTC ("1 Dec 2026, 13:04 UTC"); `fallback` when there is none. */
export function dateTime(iso: string | null | undefined, fallback = NONE): string {
  if (!iso) return fallback;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return fallback;
  const text = date.toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  return `${text} UTC`;
}
