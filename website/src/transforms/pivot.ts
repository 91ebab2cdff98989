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
  const wideRows = [...byBucket.values()].sort((a, b) => a.bucket.localeCompare(b.bucket));
  for (const row of wideRows) for (const name of series) if (row[name] === undefined) row[name] = 0;
  return { rows: wideRows, series };
}
