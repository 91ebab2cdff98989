// Usage: queries over time, acceptance by model, config, language or trigger with 95% intervals,
// and generation-time percentiles per model.
import { ChartData } from "../components/ChartData";
import { Choice } from "../components/Choice";
import { useState } from "react";
import { Bar, BarChart, CartesianGrid, ErrorBar, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api/client";
import { CHART_HEIGHT, rateTick, seriesColor } from "../components/charts";
import { ScopeBar } from "../components/ScopeBar";
import { useScope } from "../components/scope";
import { Section } from "../components/Section";
import { DataTable, type Column } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { bucketLabel, count, millis, percent } from "../format";
import { describeInterval, errorBar } from "../transforms/intervals";
import { STEP_MS, timeSeries } from "../transforms/pivot";

const GROUPS = [
  { key: "model", label: "Model" },
  { key: "config", label: "Config" },
  { key: "language", label: "Language" },
  { key: "trigger", label: "Trigger" },
] as const;

const PERCENTILES = ["p50", "p90", "p95", "p99"] as const;

const GRANULARITIES = [
  { key: "1h", label: "Hourly" },
  { key: "1d", label: "Daily" },
] as const;

export function Usage() {
  const { query } = useScope();
  const [groupBy, setGroupBy] = useState<(typeof GROUPS)[number]["key"]>("model");
  const [granularity, setGranularity] = useState<(typeof GRANULARITIES)[number]["key"]>("1d");
  const overTime = useLoad(
    () => unwrap(api.GET("/api/analytics/usage/queries-over-time", { params: { query: { ...query, granularity } } })),
    [query, granularity],
  );
  const acceptance = useLoad(
    () => unwrap(api.GET("/api/analytics/usage/acceptance-rates", { params: { query: { ...query, group_by: groupBy } } })),
    [query, groupBy],
  );
  const latency = useLoad(() => unwrap(api.GET("/api/analytics/usage/latency-distribution", { params: { query } })), [query]);

  return (
    <>
      <div className="page-head">
        <h1>Usage</h1>
        <ScopeBar />
      </div>

      <Section
        title="Queries over time"
        id="queries-over-time"
        state={overTime.state}
        onRetry={overTime.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No queries in this period."
        actions={<Choice label="Buckets" value={granularity} options={GRANULARITIES} onChange={setGranularity} />}
      >
        {(d) => {
          const { rows, series } = timeSeries(
            d.data,
            (r) => r.time_bucket,
            (r) => r.query_type,
            (r) => r.count,
            STEP_MS[granularity],
            { start: d.filters.start_time, end: d.filters.end_time },
          );
          const labelled = rows.map((r) => ({ ...r, label: bucketLabel(r.bucket, granularity !== "1d") }));
          return (
            <figure aria-label="Queries per time bucket by query type">
              <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                <BarChart data={labelled}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" minTickGap={24} />
                  <YAxis allowDecimals={false} />
                  <Tooltip />
                  <Legend />
                  {series.map((name, i) => (
                    <Bar
                      isAnimationActive={false}
                      key={name}
                      dataKey={name}
                      name={name}
                      stackId="queries"
                      fill={seriesColor(i)}
                    />
                  ))}
                </BarChart>
              </ResponsiveContainer>
              <ChartData
                caption="Queries per period and type"
                rows={labelled}
                columns={series.map((name) => ({ key: name, label: name }))}
              />
            </figure>
          );
        }}
      </Section>

      <Section
        title="Acceptance rate"
        id="acceptance-rates"
        state={acceptance.state}
        onRetry={acceptance.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions in this period."
        actions={<Choice label="By" value={groupBy} options={GROUPS} onChange={setGroupBy} />}
      >
        {(d) => {
          const rows = d.data.map((g) => {
            const interval = { rate: g.acceptance_rate, lower: g.confidence_interval.lower, upper: g.confidence_interval.upper };
            return { ...g, interval, error: errorBar(interval) };
          });
          return (
            <>
              <figure aria-label="Acceptance rate per group with 95% intervals">
                <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                  <BarChart data={rows}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="group_name" />
                    <YAxis domain={[0, 1]} tickFormatter={rateTick} />
                    <Tooltip formatter={(value) => percent(Number(value))} />
                    <Bar isAnimationActive={false} dataKey="acceptance_rate" name="Acceptance rate" fill={seriesColor(0)}>
                      <ErrorBar isAnimationActive={false} dataKey="error" width={6} stroke="#333" />
                    </Bar>
                  </BarChart>
                </ResponsiveContainer>
              </figure>
              <DataTable
                label="Acceptance rates"
                caption="Acceptance with its Wilson 95% interval"
                rows={rows}
                rowKey={(g) => g.group_name}
                header={{ label: GROUPS.find((g) => g.key === groupBy)?.label, cell: (g) => g.group_name }}
                columns={[
                  { label: "Generations", numeric: true, cell: (g) => count(g.sample_size) },
                  {
                    label: "Acceptance (95% interval)",
                    numeric: true,
                    cell: (g) => describeInterval(g.interval),
                    testId: (g) => `acceptance-${g.group_name}`,
                  },
                ]}
              />
            </>
          );
        }}
      </Section>

      <Section
        title="Generation time"
        id="latency"
        state={latency.state}
        onRetry={latency.reload}
        isEmpty={(d) => d.percentiles.length === 0}
        emptyText="No generations in this period."
      >
        {(d) => (
          <>
            <figure aria-label="Generation-time percentiles per model">
              <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                <BarChart data={d.percentiles}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="model_name" />
                  <YAxis unit=" ms" />
                  <Tooltip formatter={(value) => millis(Number(value))} />
                  <Legend />
                  {PERCENTILES.map((p, i) => (
                    <Bar isAnimationActive={false} key={p} dataKey={p} name={p} fill={seriesColor(i)} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </figure>
            <DataTable
              label="Generation-time percentiles"
              rows={d.percentiles}
              rowKey={(p) => p.model_name}
              header={{ label: "Model", cell: (p) => p.model_name }}
              columns={PERCENTILES.map(
                (p): Column<(typeof d.percentiles)[number]> => ({ label: p, numeric: true, cell: (row) => millis(row[p]) }),
              )}
            />
          </>
        )}
      </Section>
    </>
  );
}
