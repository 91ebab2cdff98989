// Whether the server's PostgreSQL and Redis are reachable, refreshed every ten seconds.
import { useEffect, useState } from "react";
import { fetchHealth, summarizeHealth, type HealthReport } from "../health";

const REFRESH_MS = 10_000;

export function ServerStatus({ compact = false }: { compact?: boolean }) {
  const [report, setReport] = useState<HealthReport | null>(null);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    let cancelled = false;
    const refresh = async () => {
      const next = await fetchHealth();
      if (!cancelled) {
        setReport(next);
        setLoaded(true);
      }
    };
    void refresh();
    const timer = window.setInterval(refresh, REFRESH_MS);
    return () => {
      cancelled = true;
      window.clearInterval(timer);
    };
  }, []);

  const summary = summarizeHealth(report);
  const line = loaded ? (
    <p role="status" data-testid="health-summary" className={`status status-${summary.tone}`}>
      {summary.headline}
    </p>
  ) : (
    <p role="status" className="status">
      Checking…
    </p>
  );
  if (compact) return line;
  return (
    <section aria-labelledby="status-heading" className="panel">
      <h2 id="status-heading">Server status</h2>
      {line}
      {report && (
        <ul className="checks">
          <li>PostgreSQL: {report.checks.database}</li>
          <li>Redis: {report.checks.redis}</li>
        </ul>
      )}
    </section>
  );
}
