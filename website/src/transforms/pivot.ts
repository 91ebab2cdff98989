// Long-to-wide reshaping for charts: the API returns one row per (bucket, series) pair; a chart
// wants one row per bucket with a column per series, zeros where a series had nothing.

/** One chart row: the bucket key plus one numeric column per series. */
export type WideRow = { bucket: string } & Record<string, number | string>;

/**
 * Pivots `rows` into one row per bucket (in time order) and the series names (in order of first
 * appearance). Values of the same bucket and series are summed.
 */
export function pivot<T>(
  rows: readonly T[],
  bucketOf: (row: T) => string,
  seriesOf: (row: T) => string,
  valueOf: (row: T) => number,
): { rows: WideRow[]; series: string[] } {
  const series: string[] = [];
  const byBucket = new Map<string, WideRow>();
  for (const row of rows) {
    const bucket = bucketOf(row);
    const name = seriesOf(row);
    if (!series.includes(name)) series.push(name);
    const wide = byBucket.get(bucket) ?? { bucket };
    wide[name] = (typeof wide[name] === "number" ? (wide[name] as number) : 0) + valueOf(row);
    byBucket.set(bucket, wide);
  }
  const wideRows = [...byBucket.values()]
    .sort((a, b) => a.bucket.localeCompare(b.bucket))
    .map((row) => ({ ...emptyRow(row.bucket, series), ...row }));
  return { rows: wideRows, series };
}

/** A bucket's row with zero in every series. */
export function emptyRow(bucket: string, series: readonly string[]): WideRow {
  const row: WideRow = { bucket };
  for (const name of series) row[name] = 0;
  return row;
}

/** The span a series should cover: the request's window (ISO 8601 bounds). */
export interface Span {
  start: string;
  end: string;
}

/**
 * `rows` with a row made by `empty` for every missing bucket, `step` milliseconds apart: over
 * `span` when given (buckets aligned to the Unix epoch, as the API's hour and day buckets are),
 * otherwise between the first and the last row. The API leaves out buckets without activity; a
 * chart that skipped them would draw a quiet weekend as if it never happened. Rows come back in
 * time order.
 */
export function fillGaps<T>(
  rows: readonly T[],
  bucketOf: (row: T) => string,
  step: number,
  empty: (bucket: string) => T,
  span?: Span,
): T[] {
  const byTime = new Map(rows.map((row) => [Date.parse(bucketOf(row)), row]));
  const times = [...byTime.keys()].sort((a, b) => a - b);
  if (times.length === 0 && !span) return [];
  const floor = (iso: string) => Math.floor(Date.parse(iso) / step) * step;
  const first = Math.min(span ? floor(span.start) : Infinity, times[0] ?? Infinity);
  const last = Math.max(span ? floor(span.end) : -Infinity, times[times.length - 1] ?? -Infinity);
  const filled: T[] = [];
  for (let t = first; t <= last; t += step) {
    filled.push(byTime.get(t) ?? empty(new Date(t).toISOString().replace(".000Z", "Z")));
  }
  return filled;
}

/** Milliseconds of the API's fixed bucket sizes. */
export const STEP_MS = { "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000, week: 7 * 86_400_000 } as const;

/**
 * A chart's time series from the API's long rows: pivoted by series, quiet buckets (`step` apart,
 * over `span` when given) filled with zeros.
 */
export function timeSeries<T>(
  rows: readonly T[],
  bucketOf: (row: T) => string,
  seriesOf: (row: T) => string,
  valueOf: (row: T) => number,
  step: number,
  span?: Span,
): { rows: WideRow[]; series: string[] } {
  const wide = pivot(rows, bucketOf, seriesOf, valueOf);
  const filled = fillGaps(wide.rows, (r) => r.bucket, step, (bucket) => emptyRow(bucket, wide.series), span);
  return { rows: filled, series: wide.series };
}
