import { describe, expect, it } from "vitest";
import { describeReset, quotaBars, requestsPerDay, type QuotaWindow } from "./usage";

describe("requestsPerDay", () => {
  it("stacks endpoints per day, sums an endpoint's models and fills every quiet day of the week", () => {
    const series = [
      { day: "2026-11-25", endpoint: "/api/usage", requests: 2 },
      { day: "2026-11-27", endpoint: "/v1/completions", requests: 3 },
      { day: "2026-11-27", endpoint: "/v1/completions", requests: 4 }, // another model
      { day: "2026-11-27", endpoint: "/api/usage", requests: 1 },
    ];
    const { rows, endpoints } = requestsPerDay(series, "2026-11-24T00:00:00Z", "week");
    expect(endpoints).toEqual(["/api/usage", "/v1/completions"]);
    expect(rows.map((r) => r.bucket)).toEqual([
      "2026-11-24T00:00:00Z",
      "2026-11-25T00:00:00Z",
      "2026-11-26T00:00:00Z",
      "2026-11-27T00:00:00Z",
      "2026-11-28T00:00:00Z",
      "2026-11-29T00:00:00Z",
      "2026-11-30T00:00:00Z",
    ]);
    expect(rows[0]).toEqual({ bucket: "2026-11-24T00:00:00Z", "/api/usage": 0, "/v1/completions": 0 });
    expect(rows[1]).toEqual({ bucket: "2026-11-25T00:00:00Z", "/api/usage": 2, "/v1/completions": 0 });
    expect(rows[3]).toEqual({ bucket: "2026-11-27T00:00:00Z", "/api/usage": 1, "/v1/completions": 7 });
  });

  it("gives one day for today and thirty for the month, also without any use", () => {
    expect(requestsPerDay([], "2026-11-30T00:00:00Z", "day").rows).toEqual([{ bucket: "2026-11-30T00:00:00Z" }]);
    const month = requestsPerDay([], "2026-11-01T00:00:00Z", "month");
    expect(month.rows).toHaveLength(30);
    expect(month.rows[29].bucket).toBe("2026-11-30T00:00:00Z");
    expect(month.endpoints).toEqual([]);
  });

  it("keeps the total: every request of the series is in exactly one cell", () => {
    const series = [
      { day: "2026-11-30", endpoint: "/api/usage", requests: 5 },
      { day: "2026-11-30", endpoint: "/api/analytics/overview/dashboard", requests: 3 },
    ];
    const { rows, endpoints } = requestsPerDay(series, "2026-11-30T00:00:00Z", "day");
    const total = rows.reduce((sum, row) => sum + endpoints.reduce((s, e) => s + Number(row[e]), 0), 0);
    expect(total).toBe(8);
  });
});

describe("quotaBars", () => {
  const window = (used: number, limit: number, reset = 1_764_547_200): QuotaWindow => ({
    used,
    limit,
    remaining: Math.max(0, limit - used),
    reset,
  });

  it("gives the hourly, daily and token windows in order with their share spent", () => {
    const bars = quotaBars({
      requests_per_hour: window(15, 60),
      requests_per_day: window(850, 1000),
      tokens_per_day: window(0, 50_000),
    });
    expect(bars.map((b) => [b.key, b.percent, b.tone])).toEqual([
      ["requests_per_hour", 25, "ok"],
      ["requests_per_day", 85, "warn"],
      ["tokens_per_day", 0, "ok"],
    ]);
    expect(bars[0]).toMatchObject({ label: "Requests this hour", used: 15, limit: 60, remaining: 45 });
    expect(bars[0].resetsAt).toBe("2025-12-01T00:00:00.000Z");
  });

  it("caps an overshoot at a full bar and treats a zero limit as spent", () => {
    const bars = quotaBars({
      requests_per_hour: window(65, 60),
      requests_per_day: window(0, 0),
      tokens_per_day: window(60, 60),
    });
    expect(bars.map((b) => [b.percent, b.tone])).toEqual([
      [100, "full"],
      [100, "full"],
      [100, "full"],
    ]);
  });
});

describe("describeReset", () => {
  const now = new Date("2026-11-30T13:18:00Z");

  it("counts minutes within the hour and names the UTC time beyond it", () => {
    expect(describeReset("2026-11-30T14:00:00Z", now)).toBe("in 42 min");
    expect(describeReset("2026-11-30T13:18:20Z", now)).toBe("in 1 min");
    expect(describeReset("2026-12-01T00:00:00Z", now)).toBe("at 00:00 UTC");
    expect(describeReset("2026-11-30T13:00:00Z", now)).toBe("now");
  });
});
