// API keys & usage (every signed-in user): create a key (shown once, with a copy button), list and
// revoke the keys that still work, and read what the keys were used for: totals, requests per day
// by endpoint, and the tier's quotas with how much of each window is spent.
import { useState, type FormEvent } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap, type Schema } from "../api/client";
import { messageOf } from "../api/errors";
import { ChartData } from "../components/ChartData";
import { CHART_HEIGHT, seriesColor } from "../components/charts";
import { Choice } from "../components/Choice";
import { DataTable } from "../components/DataTable";
import { Kpi } from "../components/Kpi";
import { Section } from "../components/Section";
import { useLoad } from "../components/useLoad";
import { bucketLabel, count, dateTime, millis } from "../format";
import { describeReset, quotaBars, requestsPerDay, USAGE_PERIODS, type UsagePeriod } from "../transforms/usage";

type ApiKey = Schema<"ApiKeySummary">;
type NewKey = Schema<"ApiKeyCreated">;

export function ApiKeys() {
  const keys = useLoad(() => unwrap(api.GET("/api/keys")), []);
  const [period, setPeriod] = useState<UsagePeriod>("week");
  const usage = useLoad(() => unwrap(api.GET("/api/usage", { params: { query: { period } } })), [period]);
  const [created, setCreated] = useState<NewKey | null>(null);
  const [notice, setNotice] = useState<{ tone: "good" | "bad"; text: string } | null>(null);

  const revoke = async (key: ApiKey) => {
    const sure = window.confirm(
      `Revoke the key "${key.name}" (${key.prefix}…)? Every program using it is refused from the next request on.`,
    );
    if (!sure) return;
    setNotice(null);
    try {
      const result = await unwrap(api.DELETE("/api/keys/{key_id}", { params: { path: { key_id: key.id } } }));
      setNotice({ tone: "good", text: `${result.message}: ${key.name} (${key.prefix}…)` });
      if (created?.id === key.id) setCreated(null);
      keys.reload();
    } catch (error) {
      setNotice({ tone: "bad", text: messageOf(error) });
    }
  };

  return (
    <>
      <div className="page-head">
        <h1>API keys &amp; usage</h1>
      </div>
      <p className="hint">
        Programs call the API with <code>Authorization: Bearer &lt;key&gt;</code>: the usage report, the research API and the
        generation endpoints. Every request with a key counts against your tier's quota.
      </p>
      {notice && (
        <p role={notice.tone === "bad" ? "alert" : "status"} className={`notice notice-${notice.tone}`} data-testid="key-notice">
          {notice.text}
        </p>
      )}

      <section className="panel" aria-labelledby="new-key-heading" data-testid="new-key">
        <div className="panel-head">
          <h2 id="new-key-heading">New key</h2>
        </div>
        {created ? (
          <CreatedKey
            created={created}
            onDone={() => {
              setCreated(null);
            }}
          />
        ) : (
          <CreateKey
            onCreated={(key) => {
              setNotice(null);
              setCreated(key);
              keys.reload();
            }}
          />
        )}
      </section>

      <Section
        title="Your keys"
        id="keys"
        state={keys.state}
        onRetry={keys.reload}
        isEmpty={(d) => d.keys.length === 0}
        emptyText="No keys yet: create one above."
      >
        {(d) => (
          <DataTable
            label="Your API keys"
            rows={d.keys}
            rowKey={(k) => k.id}
            rowProps={(k) => ({ "data-testid": `key-${k.id}` })}
            header={{ label: "Name", cell: (k) => k.name }}
            columns={[
              { label: "Key", cell: (k) => <code>{k.prefix}…</code>, testId: (k) => `key-prefix-${k.id}` },
              { label: "Created", cell: (k) => dateTime(k.created_at) },
              { label: "Last used", cell: (k) => dateTime(k.last_used_at, "never") },
              { label: "Expires", cell: (k) => dateTime(k.expires_at, "never") },
              { label: "Project", cell: (k) => k.project_id ?? "any" },
              {
                label: <span className="sr-only">Actions</span>,
                className: "actions",
                cell: (k) => (
                  <button type="button" className="danger" onClick={() => void revoke(k)}>
                    Revoke<span className="sr-only"> {k.name}</span>
                  </button>
                ),
              },
            ]}
          />
        )}
      </Section>

      <Section title="Quota" id="quota" state={usage.state} onRetry={usage.reload}>
        {(d) => <Quota quota={d.quota} />}
      </Section>

      <Section
        title="Usage"
        id="key-usage"
        state={usage.state}
        onRetry={usage.reload}
        actions={<Choice label="Period" value={period} options={USAGE_PERIODS} onChange={setPeriod} />}
      >
        {(d) => <UsageReport report={d} />}
      </Section>
    </>
  );
}

/** The form creating a key: a name, and optionally a lifetime and a project to bind it to. */
function CreateKey({ onCreated }: { onCreated: (key: NewKey) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const days = String(form.get("expires_in_days") ?? "").trim();
    const projectId = String(form.get("project_id") ?? "").trim();
    setBusy(true);
    setError(null);
    try {
      const key = await unwrap(
        api.POST("/api/keys", {
          body: {
            name: String(form.get("name") ?? ""),
            expires_in_days: days ? Number(days) : null,
            project_id: projectId || null,
          },
        }),
      );
      onCreated(key);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={submit} aria-describedby={error ? "key-error" : undefined}>
      <label>
        Name
        <input name="name" required maxLength={100} placeholder="e.g. CI pipeline" />
      </label>
      <label>
        Expires after (days, optional)
        <input name="expires_in_days" type="number" min={1} max={3650} step={1} inputMode="numeric" />
      </label>
      <details>
        <summary>Advanced</summary>
        <label>
          Project id (optional: the key then works for that project only)
          <input name="project_id" pattern="[0-9a-fA-F-]{36}" title="A project's UUID" />
        </label>
      </details>
      {error && (
        <p id="key-error" role="alert" className="field-error">
          {error}
        </p>
      )}
      <div className="button-row">
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create key"}
        </button>
      </div>
    </form>
  );
}

/** A key just created: its text, shown this once, and a button copying it. */
function CreatedKey({ created, onDone }: { created: NewKey; onDone: () => void }) {
  const [copied, setCopied] = useState<"no" | "yes" | "failed">("no");

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("yes");
    } catch {
      // No clipboard (an insecure origin, or permission refused): the key stays selectable.
      setCopied("failed");
    }
  };

  return (
    <div className="created-key">
      <p className="notice notice-good" role="status">
        Key <strong>{created.name}</strong> created
        {created.expires_at ? `; it expires ${dateTime(created.expires_at)}` : "; it does not expire"}.
      </p>
      <p className="warnings" data-testid="key-once">
        Copy the key now: it is shown only this once. The server keeps only its hash and cannot show it again.
      </p>
      <div className="key-row">
        <code className="key-text" data-testid="created-key" aria-label="The new API key">
          {created.key}
        </code>
        <button type="button" onClick={() => void copy()} aria-describedby="copy-state">
          Copy
        </button>
        <span id="copy-state" role="status" data-testid="copy-state">
          {copied === "yes" ? "Copied" : copied === "failed" ? "Copying failed: select the key and copy it by hand." : ""}
        </span>
      </div>
      <div className="button-row">
        <button type="button" className="secondary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

/** The tier and one bar per quota window. */
function Quota({ quota }: { quota: Schema<"QuotaState"> }) {
  const now = new Date();
  return (
    <>
      <p>
        Tier <span className="badge" data-testid="quota-tier">{quota.tier}</span> · prompts up to{" "}
        {count(quota.max_prompt_chars)} characters
      </p>
      <ul className="quota-bars">
        {quotaBars(quota).map((bar) => (
          <li key={bar.key} data-testid={`quota-${bar.key}`}>
            <div className="quota-head">
              <span id={`quota-${bar.key}-label`}>{bar.label}</span>
              <span className="num" data-testid={`quota-${bar.key}-used`}>
                {count(bar.used)} / {count(bar.limit)}
              </span>
            </div>
            <div
              className="quota-track"
              role="meter"
              aria-labelledby={`quota-${bar.key}-label`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(bar.percent)}
              aria-valuetext={`${count(bar.used)} of ${count(bar.limit)} used`}
            >
              <div className={`quota-fill quota-${bar.tone}`} style={{ width: `${bar.percent}%` }} />
            </div>
            <p className="hint">
              {count(bar.remaining)} left · resets {describeReset(bar.resetsAt, now)}
            </p>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Totals, requests per day by endpoint, and the per-day rows behind them. */
function UsageReport({ report }: { report: Schema<"UsageReport"> }) {
  const { totals } = report;
  const { rows, endpoints } = requestsPerDay(report.series, report.from, report.period as UsagePeriod);
  const labelled = rows.map((r) => ({ ...r, label: bucketLabel(r.bucket, false) }));
  return (
    <>
      <dl className="kpis">
        <Kpi label="Requests" testId="usage-requests" value={count(totals.requests)} />
        <Kpi label="Errors" testId="usage-errors" value={count(totals.errors)} />
        <Kpi label="Prompt tokens" testId="usage-prompt-tokens" value={count(totals.prompt_tokens)} />
        <Kpi label="Generated tokens" testId="usage-generated-tokens" value={count(totals.generated_tokens)} />
      </dl>
      {report.series.length === 0 ? (
        <p className="empty" data-testid="key-usage-empty">
          No requests with your keys in this period.
        </p>
      ) : (
        <>
          <figure aria-label="Requests per day by endpoint" data-testid="usage-chart">
            <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
              <BarChart data={labelled}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="label" minTickGap={24} />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Legend />
                {endpoints.map((name, i) => (
                  <Bar isAnimationActive={false} key={name} dataKey={name} name={name} stackId="requests" fill={seriesColor(i)} />
                ))}
              </BarChart>
            </ResponsiveContainer>
            <ChartData
              caption="Requests per day and endpoint"
              rows={labelled}
              columns={endpoints.map((name) => ({ key: name, label: name }))}
            />
          </figure>
          <DataTable
            label="Usage per day, endpoint and model"
            caption="Per day, endpoint and model (UTC days)"
            rows={report.series}
            rowKey={(r) => `${r.day} ${r.endpoint} ${r.model ?? ""}`}
            header={{ label: "Day", cell: (r) => r.day }}
            columns={[
              { label: "Endpoint", cell: (r) => <code>{r.endpoint}</code> },
              { label: "Model", cell: (r) => r.model ?? "–" },
              { label: "Requests", numeric: true, cell: (r) => count(r.requests) },
              { label: "Errors", numeric: true, cell: (r) => count(r.errors) },
              { label: "Prompt tokens", numeric: true, cell: (r) => count(r.prompt_tokens) },
              { label: "Generated tokens", numeric: true, cell: (r) => count(r.generated_tokens) },
              { label: "Median latency", numeric: true, cell: (r) => millis(r.latency_p50_ms) },
            ]}
          />
        </>
      )}
    </>
  );
}
