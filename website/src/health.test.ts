import { describe, expect, it } from "vitest";
import { fetchHealth, summarizeHealth, type HealthReport } from "./health";

const ok: HealthReport = { status: "ok", checks: { database: "ok", redis: "ok" } };

describe("summarizeHealth", () => {
  it("reports all systems operational when every check passes", () => {
    expect(summarizeHealth(ok)).toEqual({ tone: "good", headline: "All systems operational", failing: [] });
  });

  it("names each failing dependency", () => {
    const report: HealthReport = { status: "degraded", checks: { database: "error", redis: "error" } };
    const summary = summarizeHealth(report);
    expect(summary.tone).toBe("bad");
    expect(summary.failing).toEqual(["PostgreSQL", "Redis"]);
    expect(summary.headline).toBe("Degraded: PostgreSQL, Redis unreachable");
  });

  it("treats a missing report as an unreachable server", () => {
    expect(summarizeHealth(null).tone).toBe("unknown");
  });
});

describe("fetchHealth", () => {
  const respond = (status: number, body: unknown): typeof fetch =>
    async () => new Response(JSON.stringify(body), { status });

  it("returns the report of a degraded server (503 still has a body)", async () => {
    const degraded = { status: "degraded", checks: { database: "ok", redis: "error" } };
    expect(await fetchHealth(respond(503, degraded))).toEqual(degraded);
  });

  it("returns null when the server errors or is unreachable", async () => {
    expect(await fetchHealth(respond(502, "bad gateway"))).toBeNull();
    expect(await fetchHealth(async () => { throw new TypeError("network down"); })).toBeNull();
  });
});
