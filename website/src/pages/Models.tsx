// Models: the models side by side (acceptance, speed, confidence, reach), their use over time, and
// how their completions compare with what developers finally wrote (ground truth).
import { ChartData } from "../components/ChartData";
import { Choice } from "../components/Choice";
import { useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api/client";
import { CHART_HEIGHT, seriesColor } from "../components/charts";
import { ScopeBar } from "../components/ScopeBar";
import { useScope } from "../components/scope";
import { Section } from "../components/Section";
import { DataTable, type Column } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { bucketLabel, count, millis, percent } from "../format";
import { STEP_MS, timeSeries } from "../transforms/pivot";

const TREND_UNITS = [
  { key: "day", label: "Daily" },
  { key: "week", label: "Weekly" },
] as const;

export function Models() {
  const { query } = useScope();
  const [unit, setUnit] = useState<(typeof TREND_UNITS)[number]["key"]>("day");
  const comparison = useLoad(() => unwrap(api.GET("/api/analytics/models/comparison", { params: { query } })), [query]);
  const trends = useLoad(
    () => unwrap(api.GET("/api/analytics/models/model-usage-trends", { params: { query: { ...query, granularity: unit } } })),
    [query, unit],
  );
  const truth = useLoad(() => unwrap(api.GET("/api/analytics/models/ground-truth-analysis", { params: { query } })), [query]);

  return (
    <>
      <div className="page-head">
        <h1>Models</h1>
        <ScopeBar />
      </div>

      <Section
        title="Side by side"
        id="model-comparison"
        state={comparison.state}
        onRetry={comparison.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No generations in this period."
      >
        {(d) => {
          type Metric = { label: string; show: (m: (typeof d.data)[number]["metrics"]) => string };
          const metrics: Metric[] = [
            { label: "Generations", show: (m) => count(m.total_generations) },
            { label: "Acceptance rate", show: (m) => percent(m.acceptance_rate) },
            { label: "Mean generation time", show: (m) => millis(m.avg_generation_time) },
            { label: "p50 generation time", show: (m) => millis(m.p50_generation_time) },
            { label: "p95 generation time", show: (m) => millis(m.p95_generation_time) },
            { label: "Mean confidence", show: (m) => percent(m.avg_confidence) },
            { label: "Confidence std. dev.", show: (m) => percent(m.confidence_std) },
            { label: "Users", show: (m) => count(m.unique_users) },
            { label: "Active days", show: (m) => count(m.active_days) },
          ];
          return (
            <DataTable
              label="Model comparison"
              rows={metrics}
              rowKey={(metric) => metric.label}
              header={{ label: "Metric", cell: (metric) => metric.label }}
              columns={d.data.map(
                (model): Column<Metric> => ({
                  label: `${model.model_name}${model.is_instruction_tuned ? " (instruct)" : ""}`,
                  numeric: true,
                  cell: (metric) => metric.show(model.metrics),
                  testId: (metric) => `compare-${model.model_id}-${metric.label}`,
                }),
              )}
            />
          );
        }}
      </Section>

      <Section
        title="Use over time"
        id="model-trends"
        state={trends.state}
        onRetry={trends.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No generations in this period."
        actions={<Choice label="Buckets" value={unit} options={TREND_UNITS} onChange={setUnit} />}
      >
        {(d) => {
          const { rows, series } = timeSeries(
            d.data,
            (r) => r.time_bucket,
            (r) => r.model_name,
            (r) => r.usage_count,
            STEP_MS[unit === "day" ? "1d" : "week"],
            // Weeks start on Mondays, not on the epoch's Thursday: those fill between their first and last row only.
            unit === "day" ? { start: d.filters.start_time, end: d.filters.end_time } : undefined,
          );
          const labelled = rows.map((r) => ({ ...r, label: bucketLabel(r.bucket, false) }));
          return (
            <figure aria-label="Generations per model over time">
              <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                <LineChart data={labelled}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis allowDecimals={false} />
                  <Tooltip />
                  <Legend />
                  {series.map((name, i) => (
                    <Line isAnimationActive={false} key={name} type="linear" dataKey={name} stroke={seriesColor(i)} dot={false} />
                  ))}
                </LineChart>
              </ResponsiveContainer>
              <ChartData
                caption="Generations per period and model"
                rows={labelled}
                columns={series.map((name) => ({ key: name, label: name }))}
              />
            </figure>
          );
        }}
      </Section>

      <Section
        title="Against ground truth"
        id="ground-truth"
        state={truth.state}
        onRetry={truth.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No ground truth recorded in this period."
      >
        {(d) => (
          <DataTable
            label="Against ground truth"
            rows={d.data}
            rowKey={(m) => m.model_id}
            header={{ label: "Model", cell: (m) => m.model_name }}
            columns={[
              { label: "With ground truth", numeric: true, cell: (m) => count(m.total_with_ground_truth) },
              { label: "Exact match", numeric: true, cell: (m) => percent(m.exact_match_rate) },
              { label: "Accepted", numeric: true, cell: (m) => percent(m.acceptance_rate_with_truth) },
              { label: "Mean completion length", numeric: true, cell: (m) => count(m.avg_completion_length) },
              { label: "Mean ground-truth length", numeric: true, cell: (m) => count(m.avg_ground_truth_length) },
            ]}
          />
        )}
      </Section>
    </>
  );
}
