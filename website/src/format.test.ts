import { describe, expect, it } from "vitest";
import { bucketLabel, change, count, dateTime, millis, percent, points, pValue, score } from "./format";

describe("format", () => {
  it("shows rates as percentages with one decimal and a dash for none", () => {
    expect(percent(0.41666)).toBe("41.7%");
    expect(percent(1)).toBe("100.0%");
    expect(percent(null)).toBe("–");
  });

  it("signs changes, including no change", () => {
    expect(change(12.54)).toBe("+12.5%");
    expect(change(-3)).toBe("−3.0%");
    expect(change(0)).toBe("±0.0%");
    expect(change(undefined)).toBe("–");
  });

  it("switches from milliseconds to seconds at ten seconds", () => {
    expect(millis(412.4)).toBe("412 ms");
    expect(millis(12_345)).toBe("12.3 s");
  });

  it("groups thousands and rounds counts", () => {
    expect(count(1234567)).toBe("1,234,567");
    expect(count(2.6)).toBe("3");
  });

  it("writes tiny p-values as a bound", () => {
    expect(pValue(0.0337)).toBe("0.034");
    expect(pValue(0.0000001)).toBe("< 0.001");
    expect(score(0.28)).toBe("0.280");
  });

  it("writes differences of rates in signed percentage points", () => {
    expect(points(0.0312)).toBe("+3.1 pp");
    expect(points(-0.004)).toBe("−0.4 pp");
    expect(points(0)).toBe("±0.0 pp");
  });

  it("labels buckets by time of day below a day, by date otherwise (UTC)", () => {
    expect(bucketLabel("2026-11-30T14:00:00Z", false)).toBe("30 Nov");
    expect(bucketLabel("2026-11-30T14:00:00Z", true)).toBe("30 Nov, 14:00");
  });

  it("shows moments to the minute in UTC, and the fallback for none", () => {
    expect(dateTime("2026-12-01T13:04:59Z")).toBe("1 Dec 2026, 13:04 UTC");
    expect(dateTime(null, "never")).toBe("never");
    expect(dateTime("not a time")).toBe("–");
  });
});
