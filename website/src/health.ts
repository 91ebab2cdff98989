// Types and interpretation of the server's /api/health report.

export type CheckStatus = "ok" | "error";

/** Body of GET /api/health. */
export interface HealthReport {
  status: "ok" | "degraded";
  checks: { database: CheckStatus; redis: CheckStatus };
}

/** What the status panel shows for one state of the health endpoint. */
export interface HealthSummary {
  tone: "good" | "bad" | "unknown";
  headline: string;
  failing: string[];
}

const DEPENDENCY_NAMES: Record<keyof HealthReport["checks"], string> = {
  database: "PostgreSQL",
  redis: "Redis",
};

/** Turns a report (or a failure to get one) into what the user reads. */
export function summarizeHealth(report: HealthReport | null): HealthSummary {
  if (report === null) {
    return { tone: "unknown", headline: "Server unreachable", failing: [] };
  }
  const failing = (Object.keys(report.checks) as Array<keyof HealthReport["checks"]>)
    .filter((name) => report.checks[name] !== "ok")
    .map((name) => DEPENDENCY_NAMES[name]);
  if (report.status === "ok" && failing.length === 0) {
    return { tone: "good", headline: "All systems operational", failing };
  }
  return { tone: "bad", headline: `Degraded: ${failing.join(", ") || "unknown cause"} unreachable`, failing };
}

/** Fetches the report; a 503 still carries a report, anything else unparseable means unreachable. */
export async function fetchHealth(fetcher: typeof fetch = fetch): Promise<HealthReport | null> {
  try {
    const response = await fetcher("/api/health", { headers: { accept: "application/json" } });
    if (response.status !== 200 && response.status !== 503) return null;
    return (await response.json()) as HealthReport;
  } catch {
    return null;
  }
}
