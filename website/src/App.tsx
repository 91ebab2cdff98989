// First page of the dashboard: what this server is, whether it is healthy, where the API lives.
// The analytics pages (overview, usage, models, calibration, studies, config) build on this shell.
import { useEffect, useState } from "react";
import { fetchHealth, summarizeHealth, type HealthReport } from "./health";
import { Login } from "./Login";

const REFRESH_MS = 10_000;

export function App() {
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
  return (
    <main className="page">
      <header>
        <h1>Code4me-RS</h1>
        <p className="lede">
          Self-hostable code-completion research platform: local models for developers, every completion,
          acceptance and ground truth for researchers.
        </p>
      </header>
      <Login />
      <section aria-labelledby="status-heading" className="panel">
        <h2 id="status-heading">Server status</h2>
        {loaded ? (
          <p role="status" data-testid="health-summary" className={`status status-${summary.tone}`}>
            {summary.headline}
          </p>
        ) : (
          <p role="status" className="status">Checking…</p>
        )}
        {report && (
          <ul className="checks">
            <li>PostgreSQL: {report.checks.database}</li>
            <li>Redis: {report.checks.redis}</li>
          </ul>
        )}
      </section>
      <nav aria-label="Developer links" className="panel">
        <h2>For developers</h2>
        <ul>
          <li><a href="/docs/">API documentation</a></li>
          <li><a href="/openapi.json">OpenAPI document</a></li>
          <li><a href="/metrics">Prometheus metrics</a></li>
        </ul>
      </nav>
    </main>
  );
}
