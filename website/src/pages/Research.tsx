// Research: what completion studies report besides acceptance — how much of an accepted completion
// is still in the code 30 s, 2 min, 5 min and 10 min later, the effort figures (shown and accepted
// shares, characters accepted per active user-day, the share of new code from suggestions), and
// completion latency by stage (queue wait, prefill, decode, the server beyond them).
import { Bar, BarChart, CartesianGrid, ErrorBar, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, unwrap } from "../api/client";
import { CHART_HEIGHT, rateTick, seriesColor } from "../components/charts";
import { DataTable } from "../components/DataTable";
import { Kpi } from "../components/Kpi";
import { ScopeBar } from "../components/ScopeBar";
import { useScope } from "../components/scope";
import { Section } from "../components/Section";
import { useLoad } from "../components/useLoad";
import { count, millis, percent, score } from "../format";
import { describeInterval } from "../transforms/intervals";
import { survivalRows } from "../transforms/survival";

export function Research() {
  const { query } = useScope();
  const survival = useLoad(() => unwrap(api.GET("/api/analytics/research/code-survival", { params: { query } })), [query]);
  const effort = useLoad(() => unwrap(api.GET("/api/analytics/research/effort", { params: { query } })), [query]);
  const stages = useLoad(() => unwrap(api.GET("/api/analytics/research/latency-stages", { params: { query } })), [query]);

  return (
    <>
      <div className="page-head">
        <h1>Research</h1>
        <ScopeBar />
      </div>

      <Section title="Effort" id="effort" state={effort.state} onRetry={effort.reload}>
        {(e) => (
          <>
            <dl className="kpis">
              <Kpi label="Shown / requested" testId="effort-shown-rate" value={percent(e.shown_rate)} />
              <Kpi label="Accepted / shown" testId="effort-acceptance-per-shown" value={percent(e.acceptance_per_shown)} />
              <Kpi
                label="Characters accepted per active user-day"
                testId="effort-chars-per-day"
                value={e.accepted_chars_per_active_user_day === null || e.accepted_chars_per_active_user_day === undefined ? "–" : count(Math.round(e.accepted_chars_per_active_user_day))}
              />
              <Kpi label="Share of new code from suggestions" testId="effort-suggested-share" value={percent(e.suggested_share_of_new_code)} />
            </dl>
            <p className="figure-lede">
              {count(e.requested)} completions requested, {count(e.shown)} shown, {count(e.accepted)} accepted ({count(e.accepted_chars)}{" "}
              characters over {count(e.active_user_days)} active user-days). The share of new code is accepted characters over the
              net growth of the documents edited ({count(e.document_growth_chars)} characters): an estimate, since deleting code
              shrinks the growth.
            </p>
          </>
        )}
      </Section>

      <Section
        title="Code survival"
        id="code-survival"
        state={survival.state}
        onRetry={survival.reload}
        isEmpty={(d) => d.data.every((p) => p.generations === 0)}
        emptyText="No scored ground truths in this period: the plugin sends them after a completion is accepted."
      >
        {(d) => {
          const rows = survivalRows(d.data);
          return (
            <>
              <figure aria-label="Share of accepted completions still in the code after each time, with 95% intervals">
                <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                  <BarChart data={rows}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="label" />
                    <YAxis domain={[0, 1]} tickFormatter={rateTick} />
                    <Tooltip formatter={(value) => percent(Number(value))} />
                    <Legend />
                    <Bar isAnimationActive={false} dataKey="unchangedRate" name="Unchanged" fill={seriesColor(0)}>
                      <ErrorBar isAnimationActive={false} dataKey="unchangedError" width={6} stroke="#333" />
                    </Bar>
                    <Bar isAnimationActive={false} dataKey="mostlyRate" name={`Mostly unchanged (similarity ≥ ${d.mostly_unchanged_threshold})`} fill={seriesColor(1)}>
                      <ErrorBar isAnimationActive={false} dataKey="mostlyError" width={6} stroke="#333" />
                    </Bar>
                  </BarChart>
                </ResponsiveContainer>
              </figure>
              <DataTable
                label="Code survival"
                caption="Accepted completions still in the code, with Wilson 95% intervals"
                rows={rows}
                rowKey={(r) => r.label}
                header={{ label: "After", cell: (r) => r.label }}
                columns={[
                  { label: "Completions", numeric: true, cell: (r) => count(r.generations), testId: (r) => `survival-${r.label}-n` },
                  {
                    label: "Unchanged",
                    numeric: true,
                    cell: (r) => (r.unchanged ? describeInterval(r.unchanged) : "–"),
                    testId: (r) => `survival-${r.label}-unchanged`,
                  },
                  { label: "Mostly unchanged", numeric: true, cell: (r) => (r.mostly ? describeInterval(r.mostly) : "–") },
                ]}
              />
              <p className="figure-lede">
                Each accepted completion counts once per time, with its first ground truth at or after it: unchanged when the later
                text still contains it verbatim, mostly unchanged when some part of it is within {score(1 - d.mostly_unchanged_threshold, 1)}{" "}
                of its length in edits.
              </p>
            </>
          );
        }}
      </Section>

      <Section
        title="Latency by stage"
        id="latency-stages"
        state={stages.state}
        onRetry={stages.reload}
        isEmpty={(d) => d.data.length === 0}
        emptyText="No completions with stage timings in this period."
      >
        {(d) => {
          const rows = d.data.map((m) => ({
            model: m.model_name,
            generations: m.generations,
            queue: m.queue_wait.p50_ms ?? 0,
            prefill: m.prefill.p50_ms ?? 0,
            decode: m.decode.p50_ms ?? 0,
            server: Math.max(0, m.server_and_transport.p50_ms ?? 0),
            stages: m,
          }));
          return (
            <>
              <figure aria-label="Median completion latency per model, by stage">
                <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
                  <BarChart data={rows} layout="vertical">
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis type="number" unit=" ms" />
                    <YAxis type="category" dataKey="model" width={160} />
                    <Tooltip formatter={(value) => millis(Number(value))} />
                    <Legend />
                    <Bar isAnimationActive={false} dataKey="queue" name="Queue wait" stackId="stages" fill={seriesColor(0)} />
                    <Bar isAnimationActive={false} dataKey="prefill" name="Prefill" stackId="stages" fill={seriesColor(1)} />
                    <Bar isAnimationActive={false} dataKey="decode" name="Decode" stackId="stages" fill={seriesColor(2)} />
                    <Bar isAnimationActive={false} dataKey="server" name="Server and transport" stackId="stages" fill={seriesColor(3)} />
                  </BarChart>
                </ResponsiveContainer>
              </figure>
              <DataTable
                label="Latency by stage"
                caption="Medians and 90th percentiles per stage"
                rows={rows}
                rowKey={(r) => r.model}
                header={{ label: "Model", cell: (r) => r.model }}
                columns={[
                  { label: "Completions", numeric: true, cell: (r) => count(r.generations) },
                  { label: "Queue wait p50 / p90", numeric: true, cell: (r) => `${millis(r.stages.queue_wait.p50_ms)} / ${millis(r.stages.queue_wait.p90_ms)}` },
                  {
                    label: "Prefill p50 / p90",
                    numeric: true,
                    cell: (r) => `${millis(r.stages.prefill.p50_ms)} / ${millis(r.stages.prefill.p90_ms)}`,
                    testId: (r) => `stages-${r.model}-prefill`,
                  },
                  { label: "Decode p50 / p90", numeric: true, cell: (r) => `${millis(r.stages.decode.p50_ms)} / ${millis(r.stages.decode.p90_ms)}` },
                  {
                    label: "Server and transport p50 / p90",
                    numeric: true,
                    cell: (r) => `${millis(r.stages.server_and_transport.p50_ms)} / ${millis(r.stages.server_and_transport.p90_ms)}`,
                  },
                  { label: "Total p50 / p90", numeric: true, cell: (r) => `${millis(r.stages.total.p50_ms)} / ${millis(r.stages.total.p90_ms)}` },
                ]}
              />
              <p className="figure-lede">
                Queue wait runs from the server queueing the job to a worker taking it; prefill from the model starting to its
                first token; decode the rest of the model&apos;s time; server and transport what the server&apos;s total adds
                (its own work and the pub/sub hops — the client&apos;s network is not visible to the server).
              </p>
            </>
          );
        }}
      </Section>
    </>
  );
}
