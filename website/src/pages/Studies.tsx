// Studies (admins): A/B studies over config rows — create one, activate it (users are put on their
// arms and keep them), end it, and read its evaluation: per arm against the baseline, the
// acceptance uplift, the per-user 95% interval and Holm-corrected p-value the verdict rests on, the
// always-valid p-value for a running study, CUPED, the pooled p-value, and the sample-ratio check.
import { useEffect, useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { messageOf } from "../api/errors";
import { Section } from "../components/Section";
import { DataTable } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { count, pValue, score } from "../format";
import { evaluationRows } from "../transforms/studies";

export function Studies() {
  const studies = useLoad(
    () => unwrap(api.GET("/api/analytics/studies/list", { params: { query: { include_inactive: true } } })),
    [],
  );
  const configs = useLoad(() => unwrap(api.GET("/api/config")), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ tone: "good" | "bad"; text: string } | null>(null);

  const act = async (action: "activate" | "deactivate", studyId: string) => {
    setNotice(null);
    try {
      const path =
        action === "activate" ? "/api/analytics/studies/{study_id}/activate" : "/api/analytics/studies/{study_id}/deactivate";
      const result = await unwrap(api.POST(path, { params: { path: { study_id: studyId } } }));
      setNotice({ tone: "good", text: result.message });
      studies.reload();
    } catch (error) {
      setNotice({ tone: "bad", text: messageOf(error) });
    }
  };

  return (
    <>
      <div className="page-head">
        <h1>Studies</h1>
      </div>
      {notice && (
        <p
          role={notice.tone === "bad" ? "alert" : "status"}
          className={`notice notice-${notice.tone}`}
          data-testid="study-notice"
        >
          {notice.text}
        </p>
      )}

      <Section
        title="All studies"
        id="studies"
        state={studies.state}
        onRetry={studies.reload}
        isEmpty={(d) => d.studies.length === 0}
        emptyText="No studies yet: create one below."
      >
        {(d) => (
          <DataTable
            label="All studies"
            rows={d.studies}
            rowKey={(s) => s.study_id}
            rowProps={(s) => ({ "aria-current": selected === s.study_id ? "true" : undefined })}
            header={{ label: "Name", cell: (s) => s.name }}
            columns={[
              {
                label: "Status",
                cell: (s) =>
                  s.is_active ? <span className="badge badge-good">active</span> : <span className="badge">inactive</span>,
              },
              {
                label: "Arms (configs)",
                cell: (s) => s.config_ids.map((id) => (id === s.default_config_id ? `${id} (baseline)` : String(id))).join(", "),
              },
              { label: "Users", numeric: true, cell: (s) => count(s.assigned_users_count) },
              {
                label: "Runs",
                cell: (s) =>
                  `${new Date(s.starts_at).toLocaleDateString("en-GB")} – ${s.ends_at ? new Date(s.ends_at).toLocaleDateString("en-GB") : "open"}`,
              },
              {
                label: "Actions",
                className: "actions",
                cell: (s) => (
                  <>
                    <button type="button" className="secondary" onClick={() => setSelected(s.study_id)}>
                      Evaluate<span className="sr-only"> {s.name}</span>
                    </button>
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => void act(s.is_active ? "deactivate" : "activate", s.study_id)}
                    >
                      {s.is_active ? "Deactivate" : "Activate"}
                      <span className="sr-only"> {s.name}</span>
                    </button>
                  </>
                ),
              },
            ]}
          />
        )}
      </Section>

      {selected && <Evaluation studyId={selected} />}

      <Section title="New study" id="new-study" state={configs.state} onRetry={configs.reload}>
        {(d) => (
          <CreateStudy
            configIds={d.configs.map((c) => c.config_id)}
            onCreated={(id, message) => {
              setNotice({ tone: "good", text: message });
              setSelected(id);
              studies.reload();
            }}
          />
        )}
      </Section>
    </>
  );
}

/** The evaluation of one study. */
function Evaluation({ studyId }: { studyId: string }) {
  const evaluation = useLoad(
    () => unwrap(api.GET("/api/analytics/studies/{study_id}/evaluation", { params: { path: { study_id: studyId } } })),
    [studyId],
  );
  // The evaluation opens below the table: take keyboard and screen-reader focus there.
  const ready = evaluation.state.status === "ready";
  useEffect(() => {
    if (ready) document.getElementById("evaluation-heading")?.focus();
  }, [ready, studyId]);
  return (
    <Section title="Evaluation" id="evaluation" state={evaluation.state} onRetry={evaluation.reload}>
      {(d) => (
        <>
          <p className="figure-lede">
            <strong>{d.study.name}</strong>: each arm against the baseline (config {d.study.default_config_id}), over the queries
            each arm served during the study.
          </p>
          {d.warnings.length > 0 && (
            <ul className="warnings" role="status" data-testid="evaluation-warnings">
              {d.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
          {d.sample_ratio && (
            <p
              className={d.sample_ratio.mismatch ? "status-bad" : "figure-lede"}
              role={d.sample_ratio.mismatch ? "alert" : undefined}
              data-testid="sample-ratio"
            >
              Sample ratio:{" "}
              {d.sample_ratio.assigned_users.map((a) => `config ${a.config_id}: ${count(a.users)} users`).join(", ")} — χ² ={" "}
              {score(d.sample_ratio.chi_square, 2)}, p = {pValue(d.sample_ratio.p_value)}:{" "}
              {d.sample_ratio.mismatch
                ? "the assignment is not the planned equal split; do not trust these comparisons until it is explained."
                : "consistent with the planned equal split."}
            </p>
          )}
          <DataTable
            label="Evaluation"
            rows={evaluationRows(d.results)}
            rowKey={(r) => r.configId}
            rowProps={(r) => ({ "data-testid": `arm-${r.configId}` })}
            header={{ label: "Arm", cell: (r) => r.arm }}
            columns={[
              { label: "Users", numeric: true, cell: (r) => r.users },
              { label: "Generations", numeric: true, cell: (r) => r.generations },
              { label: "Accepted", numeric: true, cell: (r) => r.acceptance },
              { label: "Relative uplift", numeric: true, cell: (r) => r.uplift },
              { label: "Difference, 95% interval (per user)", numeric: true, cell: (r) => r.interval },
              { label: "p (per user, Holm)", numeric: true, cell: (r) => r.robustP, testId: (r) => `arm-${r.configId}-robust-p` },
              { label: "Always-valid p", numeric: true, cell: (r) => r.sequentialP },
              { label: "CUPED 95% interval", numeric: true, cell: (r) => r.cuped },
              { label: "p (pooled, naive)", numeric: true, cell: (r) => r.p, testId: (r) => `arm-${r.configId}-p` },
              { label: "Verdict", cell: (r) => r.verdict },
            ]}
          />
          <details className="methods" data-testid="evaluation-methods">
            <summary>How to read these figures</summary>
            <ul>
              <li>
                <strong>Per user</strong>: users are randomised, so users are the unit of analysis. Each arm&apos;s acceptance
                rate gets its variance from the delta method over users (Deng et al. 2018), and the verdict uses it.
              </li>
              <li>
                <strong>Holm</strong>: with several arms, each p-value is corrected so that the chance of any false
                &quot;better&quot; stays at {d.methods.alpha} (Holm 1979).
              </li>
              <li>
                <strong>Always-valid p</strong>: safe to read at every look at a running study — a mixture sequential
                test (mSPRT, τ = {d.methods.sequential_mixing_sd}; Johari et al. 2017). Stop a study when it is below{" "}
                {d.methods.alpha}.
              </li>
              <li>
                <strong>CUPED</strong>: the same comparison after removing what each user&apos;s acceptance in the{" "}
                {d.methods.cuped_pre_period_days} days before the study explains (Deng et al. 2013); narrower when
                users are consistent.
              </li>
              <li>
                <strong>Pooled</strong>: the two-proportion z-test over generations, as if they were independent. It
                overstates significance when a few users produce most generations; shown for comparison only.
              </li>
              <li>
                <strong>Sample ratio</strong>: a χ² test of assigned users against the equal split; below p ={" "}
                {d.methods.sample_ratio_alarm_p} assignment or logging is broken (Fabijan et al. 2019).
              </li>
            </ul>
          </details>
        </>
      )}
    </Section>
  );
}

/** The form creating a study over existing config rows. */
function CreateStudy({ configIds, onCreated }: { configIds: number[]; onCreated: (studyId: string, message: string) => void }) {
  const [arms, setArms] = useState<number[]>([]);
  const [baseline, setBaseline] = useState<number | null>(configIds[0] ?? null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget; // React clears currentTarget once the handler awaits
    const form = new FormData(formElement);
    const startsAt = String(form.get("starts_at") ?? "");
    const endsAt = String(form.get("ends_at") ?? "");
    if (baseline === null) return setError("Choose the baseline config.");
    if (arms.length === 0) return setError("Choose at least one config to test against the baseline.");
    setBusy(true);
    setError(null);
    try {
      const created = await unwrap(
        api.POST("/api/analytics/studies/create", {
          body: {
            name: String(form.get("name") ?? ""),
            description: String(form.get("description") ?? "") || null,
            starts_at: new Date(startsAt).toISOString(),
            ends_at: endsAt ? new Date(endsAt).toISOString() : null,
            config_ids: [...new Set([baseline, ...arms])],
            default_config_id: baseline,
          },
        }),
      );
      formElement.reset();
      setArms([]);
      onCreated(created.study_id, created.message);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: number) =>
    setArms((current) => (current.includes(id) ? current.filter((a) => a !== id) : [...current, id]));

  return (
    <form className="form" onSubmit={submit} aria-describedby={error ? "study-error" : undefined}>
      <label>
        Name
        <input name="name" required maxLength={200} />
      </label>
      <label>
        Description
        <textarea name="description" rows={2} />
      </label>
      <div className="form-row">
        <label>
          Starts
          <input name="starts_at" type="datetime-local" required defaultValue={localNow()} />
        </label>
        <label>
          Ends (optional)
          <input name="ends_at" type="datetime-local" />
        </label>
      </div>
      <label>
        Baseline config
        <select
          value={baseline ?? ""}
          onChange={(e) => {
            const next = Number(e.target.value);
            setBaseline(next);
            setArms((current) => current.filter((id) => id !== next));
          }}
        >
          {configIds.map((id) => (
            <option key={id} value={id}>
              config {id}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>Arms to test against the baseline</legend>
        {configIds
          .filter((id) => id !== baseline)
          .map((id) => (
            <label key={id} className="check">
              <input type="checkbox" checked={arms.includes(id)} onChange={() => toggle(id)} /> config {id}
            </label>
          ))}
      </fieldset>
      {error && (
        <p role="alert" id="study-error" className="status-bad">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create study"}
      </button>
    </form>
  );
}

/** Now, as a `datetime-local` input's value (local time, minutes). */
function localNow(): string {
  const now = new Date();
  now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
  return now.toISOString().slice(0, 16);
}
