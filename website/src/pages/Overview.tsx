// Overview: the period's headline numbers with their trend against the period before, the
// activity timeline, the top models and languages, and how users engage.
import { ChartData } from "../components/ChartData";
import { Choice } from "../components/Choice";
import { useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api/client";
import { CHART_HEIGHT, seriesColor } from "../components/charts";
import { Kpi } from "../components/Kpi";
import { Section } from "../components/Section";
import { DataTable } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { useAuth } from "../auth";
import { bucketLabel, count, millis, percent } from "../format";
import { fillGaps, STEP_MS } from "../transforms/pivot";

const DASHBOARD_WINDOWS = [
  { key: "1d", label: "Last day" },
  { key: "7d", label: "Last 7 days" },
  { key: "30d", label: "Last 30 days" },
] as const;

const TIMELINE_WINDOWS = [
  { key: "24h", label: "Last 24 hours", granularity: "1h" },
  { key: "7d", label: "Last 7 days", granularity: "1d" },
] as const;

export function Overview() {
  const { user } = useAuth();
  const [window, setWindow] = useState<(typeof DASHBOARD_WINDOWS)[number]["key"]>("7d");
  const [timelineWindow, setTimelineWindow] = useState<(typeof TIMELINE_WINDOWS)[number]["key"]>("7d");
  const dashboard = useLoad(
    () => unwrap(api.GET("/api/analytics/overview/dashboard", { params: { query: { time_window: window } } })),
    [window],
  );
  const granularity = TIMELINE_WINDOWS.find((w) => w.key === timelineWindow)?.granularity ?? "1d";
  const timeline = useLoad(
    () =>
      unwrap(
        api.GET("/api/analytics/overview/activity-timeline", { params: { query: { time_window: timelineWindow, granularity } } }),
      ),
    [timelineWindow, granularity],
  );
  // Engagement is measured over a week at least (a day says little about habits).
  const engagementWindow = window === "1d" ? "7d" : window;
  const engagement = useLoad(
    () => unwrap(api.GET("/api/analytics/overview/user-engagement", { params: { query: { time_window: engagementWindow } } })),
    [engagementWindow],
  );

  return (
    <>
      <div className="page-head">
        <h1>Overview</h1>
        <Choice label="Period" value={window} options={DASHBOARD_WINDOWS} onChange={setWindow} />
      </div>
      {!user?.is_admin && <p className="hint">These are your own numbers; admins see the whole platform.</p>}

      <Section title="Key figures" id="kpis" state={dashboard.state} onRetry={dashboard.reload}>
        {({ overview, trends }) => (
          <>
            <dl className="kpis">
              <Kpi
                label="Queries"
                testId="kpi-total-queries"
                value={count(overview.total_queries)}
                changePct={trends.queries_change_pct}
              />
              <Kpi
                label="Active users"
                testId="kpi-active-users"
                value={count(overview.active_users)}
                changePct={trends.users_change_pct}
              />
              <Kpi
                label="Acceptance rate"
                testId="kpi-acceptance-rate"
                value={percent(overview.overall_acceptance_rate)}
                changePct={trends.acceptance_change_pct}
              />
              <Kpi label="Mean generation time" testId="kpi-generation-time" value={millis(overview.avg_generation_time_ms)} />
              <Kpi label="Sessions" testId="kpi-sessions" value={count(overview.total_sessions)} />
              <Kpi label="Models used" testId="kpi-models" value={count(overview.models_used)} />
            </dl>
            <p className="hint">
              Changes are relative to the previous period of the same length: an acceptance rate going from 40% to 44% is +10%.
            </p>
          </>
        )}
      </Section>

      <Section
        title="Activity"
        id="activity"
        state={timeline.state}
        onRetry={timeline.reload}
        isEmpty={(t) => t.timeline.every((b) => b.query_count === 0)}
        emptyText="No queries in this period."
        actions={<Choice label="Window" value={timelineWindow} options={TIMELINE_WINDOWS} onChange={setTimelineWindow} />}
      >
        {(t) => {
          const filled = fillGaps(
            t.timeline,
            (b) => b.time_bucket,
            STEP_MS[granularity],
            (time_bucket) => ({
              time_bucket,
              query_count: 0,
              completion_count: 0,
              chat_count: 0,
              active_users: 0,
            }),
            t.period,
          );
          const rows = filled.map((b) => ({ ...b, label: bucketLabel(b.time_bucket, granularity !== "1d") }));
          return (
            <figure aria-label="Completions and chats per time bucket">
              <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                <LineChart data={rows}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis allowDecimals={false} />
                  <Tooltip />
                  <Legend />
                  <Line
                    isAnimationActive={false}
                    type="linear"
                    dataKey="completion_count"
                    name="Completions"
                    stroke={seriesColor(0)}
                    dot={false}
                  />
                  <Line
                    isAnimationActive={false}
                    type="linear"
                    dataKey="chat_count"
                    name="Chats"
                    stroke={seriesColor(1)}
                    dot={false}
                  />
                  <Line
                    isAnimationActive={false}
                    type="linear"
                    dataKey="active_users"
                    name="Active users"
                    stroke={seriesColor(2)}
                    dot={false}
                  />
                </LineChart>
              </ResponsiveContainer>
              <ChartData
                caption="Activity per period"
                rows={rows}
                columns={[
                  { key: "completion_count", label: "Completions" },
                  { key: "chat_count", label: "Chats" },
                  { key: "active_users", label: "Active users" },
                ]}
              />
            </figure>
          );
        }}
      </Section>

      <div className="columns">
        <Section
          title="Top models"
          id="top-models"
          state={dashboard.state}
          isEmpty={(d) => d.top_models.length === 0}
          emptyText="No completions in this period."
        >
          {(d) => (
            <DataTable
              label="Top models"
              rows={d.top_models}
              rowKey={(m) => m.model_id}
              header={{ label: "Model", cell: (m) => m.model_name }}
              columns={[
                { label: "Generations", numeric: true, cell: (m) => count(m.usage_count) },
                { label: "Accepted", numeric: true, cell: (m) => percent(m.acceptance_rate) },
              ]}
            />
          )}
        </Section>
        <Section
          title="Top languages"
          id="top-languages"
          state={dashboard.state}
          isEmpty={(d) => d.top_languages.length === 0}
          emptyText="No queries in this period."
        >
          {(d) => (
            <DataTable
              label="Top languages"
              rows={d.top_languages}
              rowKey={(l) => l.language}
              header={{ label: "Language", cell: (l) => l.language }}
              columns={[
                { label: "Queries", numeric: true, cell: (l) => count(l.query_count) },
                { label: "Accepted", numeric: true, cell: (l) => percent(l.acceptance_rate) },
              ]}
            />
          )}
        </Section>
      </div>

      <Section
        title={`Engagement, last ${engagementWindow === "7d" ? "7" : "30"} days`}
        id="engagement"
        state={engagement.state}
        onRetry={engagement.reload}
      >
        {({ engagement: e }) => <EngagementList engagement={e} />}
      </Section>
    </>
  );
}

/** The engagement summary's numbers as a definition list (its keys differ for admins and users). */
function EngagementList({ engagement }: { engagement: Record<string, unknown> }) {
  const entries = Object.entries(engagement).filter(([key, value]) => key !== "summary_type" && typeof value === "number");
  return (
    <dl className="facts">
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{key.replaceAll("_", " ")}</dt>
          <dd>{formatFact(key, value as number)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A fact formatted by what its key says it measures. */
function formatFact(key: string, value: number): string {
  if (key.includes("rate")) return percent(value);
  if (key.endsWith("_ms") || key.includes("time")) return millis(value);
  return Number.isInteger(value) ? count(value) : value.toFixed(1);
}
