// Calibration: does a model's confidence predict acceptance? The reliability diagram (with the
// diagonal of perfect calibration and the expected calibration error), the confidence histogram,
// and the Brier score with its reliability, resolution and uncertainty.
import { useState } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  ZAxis,
} from "recharts";
import { api, unwrap } from "../api/client";
import { CHART_HEIGHT, rateTick, seriesColor } from "../components/charts";
import { ScopeBar } from "../components/ScopeBar";
import { useScope } from "../components/scope";
import { Choice } from "../components/Choice";
import { Section } from "../components/Section";
import { DataTable } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { count, percent, points, score } from "../format";
import { reliabilityPoints } from "../transforms/calibration";

const BINS = 10;

export function Calibration() {
  const { query } = useScope();
  const [modelName, setModelName] = useState<string | null>(null);
  const reliability = useLoad(
    () => unwrap(api.GET("/api/analytics/calibration/reliability-diagram", { params: { query: { ...query, bins: BINS } } })),
    [query],
  );
  const histogram = useLoad(
    () => unwrap(api.GET("/api/analytics/calibration/confidence-distribution", { params: { query: { ...query, bins: BINS } } })),
    [query],
  );
  const brier = useLoad(() => unwrap(api.GET("/api/analytics/calibration/brier-score", { params: { query } })), [query]);
  const summary = useLoad(
    () => unwrap(api.GET("/api/analytics/calibration/calibration-summary", { params: { query } })),
    [query],
  );

  /** The chosen model's entry of a per-model list (the first model until one is chosen). */
  const pick = <T extends { model_name: string }>(list: readonly T[]): T | undefined =>
    modelName === null ? list[0] : list.find((m) => m.model_name === modelName);

  const models = reliability.state.status === "ready" ? reliability.state.data.data : [];
  const modelPicker =
    models.length > 1 ? (
      <Choice
        label="Model"
        value={pick(models)?.model_name ?? ""}
        options={models.map((m) => ({ key: m.model_name, label: m.model_name }))}
        onChange={setModelName}
      />
    ) : null;

  return (
    <>
      <div className="page-head">
        <h1>Calibration</h1>
        <ScopeBar />
      </div>

      <Section
        title="Reliability diagram"
        id="reliability"
        state={reliability.state}
        onRetry={reliability.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions with a confidence in this period."
        actions={modelPicker}
      >
        {(d) => {
          const model = pick(d.data);
          if (!model) return <NoDataFor name={modelName} />;
          const plotted = reliabilityPoints(model.bins);
          return (
            <>
              <p className="figure-lede">
                <strong>{model.model_name}</strong>: expected calibration error{" "}
                <strong data-testid="ece-value">{score(model.expected_calibration_error)}</strong> over{" "}
                {count(model.total_samples)} completions. Points on the diagonal are perfectly calibrated; points below it are
                overconfident.
              </p>
              <figure aria-label={`Reliability diagram of ${model.model_name}: acceptance against mean confidence per bin`}>
                <ResponsiveContainer width="100%" height={CHART_HEIGHT + 40}>
                  <ScatterChart margin={{ top: 10, right: 20, bottom: 20, left: 0 }}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis
                      type="number"
                      dataKey="confidence"
                      name="Mean confidence"
                      domain={[0, 1]}
                      tickFormatter={rateTick}
                      label={{ value: "Mean confidence", position: "insideBottom", offset: -10 }}
                    />
                    <YAxis type="number" dataKey="accuracy" name="Accepted" domain={[0, 1]} tickFormatter={rateTick} />
                    <ZAxis type="number" dataKey="samples" range={[40, 400]} name="Completions" />
                    <ReferenceLine
                      segment={[
                        { x: 0, y: 0 },
                        { x: 1, y: 1 },
                      ]}
                      stroke="#888"
                      strokeDasharray="6 4"
                      ifOverflow="extendDomain"
                      label={{ value: "perfect calibration", position: "insideTopLeft", fill: "#666" }}
                    />
                    <Tooltip
                      formatter={(value, name) => (name === "Completions" ? count(Number(value)) : percent(Number(value)))}
                    />
                    <Scatter isAnimationActive={false} data={plotted} fill={seriesColor(0)} name={model.model_name} />
                  </ScatterChart>
                </ResponsiveContainer>
              </figure>
              <DataTable
                label="Reliability bins"
                caption="Bins of the diagram"
                rows={model.bins.filter((b) => b.sample_size > 0)}
                rowKey={(b) => b.bin_number}
                header={{ label: "Confidence bin", cell: (b) => rangeLabel(b.bin_range) }}
                columns={[
                  { label: "Completions", numeric: true, cell: (b) => count(b.sample_size) },
                  { label: "Mean confidence", numeric: true, cell: (b) => percent(b.avg_predicted_confidence) },
                  { label: "Accepted", numeric: true, cell: (b) => percent(b.empirical_accuracy) },
                ]}
              />
            </>
          );
        }}
      </Section>

      <Section
        title="Confidence histogram"
        id="confidence-histogram"
        state={histogram.state}
        onRetry={histogram.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions with a confidence in this period."
      >
        {(d) => {
          const model = pick(d.data);
          if (!model) return <NoDataFor name={modelName} />;
          return (
            <>
              <p className="figure-lede">
                <strong>{model.model_name}</strong>: {count(model.total_predictions)} completions, mean confidence{" "}
                {percent(model.statistics.mean_confidence)}.
              </p>
              <figure aria-label={`How confident ${model.model_name} was`}>
                <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                  <BarChart data={model.histogram.map((b) => ({ ...b, label: rangeLabel(b.range) }))}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="label" />
                    <YAxis allowDecimals={false} />
                    <Tooltip />
                    <Bar isAnimationActive={false} dataKey="frequency" name="Completions" fill={seriesColor(4)} />
                  </BarChart>
                </ResponsiveContainer>
              </figure>
            </>
          );
        }}
      </Section>

      <Section
        title="Brier score"
        id="brier"
        state={brier.state}
        onRetry={brier.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions with a confidence in this period."
      >
        {(d) => (
          <DataTable
            label="Brier score"
            caption="Brier score = reliability − resolution + uncertainty (Murphy's decomposition over 10 bins; lower is better)"
            rows={d.data}
            rowKey={(row) => row.group_name}
            header={{ label: "Model", cell: (row) => row.group_name }}
            columns={[
              { label: "Completions", numeric: true, cell: (row) => count(row.sample_size) },
              {
                label: "Brier",
                numeric: true,
                cell: (row) => score(row.brier_score),
                testId: (row) => `brier-${row.group_name}`,
              },
              { label: "Reliability", numeric: true, cell: (row) => score(row.reliability_component) },
              { label: "Resolution", numeric: true, cell: (row) => score(row.resolution_component) },
              { label: "Uncertainty", numeric: true, cell: (row) => score(row.uncertainty) },
              { label: "Skill", numeric: true, cell: (row) => score(row.skill_score) },
            ]}
          />
        )}
      </Section>

      <Section
        title="Summary"
        id="calibration-summary"
        state={summary.state}
        onRetry={summary.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions with a confidence in this period."
      >
        {(d) => (
          <DataTable
            label="Calibration summary"
            rows={d.data}
            rowKey={(m) => m.model_name}
            header={{ label: "Model", cell: (m) => m.model_name }}
            columns={[
              { label: "Mean confidence", numeric: true, cell: (m) => percent(m.avg_confidence) },
              { label: "Accepted", numeric: true, cell: (m) => percent(m.acceptance_rate) },
              { label: "Confidence − accepted", numeric: true, cell: (m) => points(m.confidence_gap) },
              {
                label: "Verdict",
                cell: (m) => (m.is_overconfident ? "overconfident" : m.is_underconfident ? "underconfident" : "well calibrated"),
              },
            ]}
          />
        )}
      </Section>
    </>
  );
}

/** A confidence bin's bounds as a label ("40–50%"). */
function rangeLabel({ min, max }: { min: number; max: number }): string {
  return `${Math.round(min * 100)}–${Math.round(max * 100)}%`;
}

/** What a per-model panel says when the chosen model has nothing in it. */
function NoDataFor({ name }: { name: string | null }) {
  return <p className="empty">No completions of {name ?? "this model"} in this period.</p>;
}
