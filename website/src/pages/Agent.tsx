// The repository agent (every signed-in user): start a run (a repository, what to change, optionally
// a base branch), list your runs, and follow one live: its stages with the time each took, the
// progress, the model's thinking, the diff, and the pushed branch with its pull request, or why it
// failed. A run is stopped by the server once nobody follows it, so the page keeps the stream of
// every run it shows open until the run ends.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { cancelRun, getRun, listRuns, startRun, type StartedRun } from "../api/agent";
import { api } from "../api/client";
import { ApiError, messageOf } from "../api/errors";
import { foldEvents, excerpt, httpUrl, isFinal, isFinished, liveStatus, STAGE_LABELS, STATUS_LABELS, statusLine, statusTone } from "../agent/runState";
import type { AgentRun, RunStatus, RunView, StageStatus } from "../agent/runState";
import { useRunStreams, type StreamState } from "../agent/useRunStreams";
import { DataTable } from "../components/DataTable";
import { Notice, type NoticeText } from "../components/Notice";
import { Section } from "../components/Section";
import { useLoad } from "../components/useLoad";
import { dateTime, millis } from "../format";

/** How long after a run's final event its row is read again (the worker closes it just after). */
const ROW_SETTLES_MS = 1500;

export function Agent() {
  const runs = useLoad(() => listRuns(api), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [stopping, setStopping] = useState<ReadonlySet<string>>(new Set());
  const timers = useRef<number[]>([]);
  const reloadRuns = runs.reload;

  const onFinal = useCallback(() => {
    reloadRuns();
    timers.current.push(window.setTimeout(reloadRuns, ROW_SETTLES_MS));
  }, [reloadRuns]);
  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach((t) => window.clearTimeout(t));
  }, []);
  const live = useRunStreams(onFinal);

  // On the first load, show the newest run still going: a reloaded page follows it again in time.
  const autoSelected = useRef(false);
  useEffect(() => {
    if (autoSelected.current || runs.state.status !== "ready") return;
    autoSelected.current = true;
    const going = runs.state.data.find((r) => !isFinished(r.status));
    if (going) setSelected((s) => s ?? going.run_id);
  }, [runs.state]);

  const detail = useLoad(() => (selected ? getRun(api, selected) : Promise.resolve(null)), [selected]);
  useEffect(() => {
    if (detail.state.status !== "ready" || !detail.state.data) return;
    const { run, events } = detail.state.data;
    live.add(run.run_id, events);
    if (!isFinished(run.status) && !events.some(isFinal)) live.watch(run.run_id, run.run_id);
  }, [detail.state]); // `live`'s functions are stable.

  const views = useMemo(() => {
    const folded: Record<string, RunView> = {};
    for (const [runId, events] of Object.entries(live.events)) folded[runId] = foldEvents(events);
    return folded;
  }, [live.events]);
  const statusOf = (run: AgentRun): RunStatus => liveStatus(run.status, views[run.run_id] ?? null, stopping.has(run.run_id));

  const listed = runs.state.status === "ready" ? runs.state.data : [];
  const selectedRow = selected ? pickRow(listed.find((r) => r.run_id === selected), detail.state.status === "ready" ? detail.state.data?.run : undefined) : undefined;

  const started = (run: StartedRun) => {
    // The run's own stream opens before the start request's lets go, so the run is never unwatched.
    live.watch(run.runId, run.runId, { handOver: run.stream });
    setSelected(run.runId);
    runs.reload();
  };

  return (
    <>
      <div className="page-head">
        <h1>Agent</h1>
      </div>
      <p className="hint">
        The agent clones a repository, asks the model for edits, applies them on a new branch, pushes it and opens a pull request
        where the host allows. A run is stopped when nothing follows it for a few seconds: keep this page open until your run
        has ended.
      </p>

      <section className="panel" aria-labelledby="new-run-heading" data-testid="new-run">
        <div className="panel-head">
          <h2 id="new-run-heading">New run</h2>
        </div>
        <NewRun onStarted={started} />
      </section>

      <Section
        title="Your runs"
        id="runs"
        state={runs.state}
        onRetry={runs.reload}
        isEmpty={(d) => d.length === 0}
        emptyText="No runs yet: start one above."
        actions={
          <button type="button" className="secondary" onClick={runs.reload}>
            Refresh
          </button>
        }
      >
        {(d) => (
          <DataTable
            label="Your agent runs"
            rows={d}
            rowKey={(r) => r.run_id}
            rowProps={(r) => ({ "aria-current": selected === r.run_id ? "true" : undefined, "data-testid": `run-${r.run_id}` })}
            header={{ label: "Repository", cell: (r) => <span className="repo">{r.repo_url}</span> }}
            columns={[
              { label: "Status", cell: (r) => <StatusBadge status={statusOf(r)} />, testId: (r) => `run-status-${r.run_id}` },
              { label: "Prompt", cell: (r) => <span title={r.prompt}>{excerpt(r.prompt, 60)}</span> },
              { label: "Created", cell: (r) => dateTime(r.created_at) },
              { label: "Pull request", cell: (r) => <Result run={r} view={views[r.run_id]} /> },
              {
                label: <span className="sr-only">Actions</span>,
                className: "actions",
                cell: (r) => (
                  <button
                    type="button"
                    className="secondary"
                    aria-pressed={selected === r.run_id}
                    onClick={() => setSelected(r.run_id)}
                  >
                    Show<span className="sr-only"> the run on {r.repo_url} from {dateTime(r.created_at)}</span>
                  </button>
                ),
              },
            ]}
          />
        )}
      </Section>

      {selected && (
        <section className="panel" aria-labelledby="run-heading" data-testid="run-detail" aria-busy={!selectedRow}>
          <div className="panel-head">
            <h2 id="run-heading" tabIndex={-1}>
              Run <code>{selected.slice(0, 8)}</code>
            </h2>
          </div>
          {selectedRow ? (
            <RunDetail
              key={selected}
              run={selectedRow}
              view={views[selected] ?? foldEvents([])}
              status={statusOf(selectedRow)}
              stream={live.streams[selected]}
              onFollow={() => live.watch(selected, selected)}
              onStopping={() => setStopping((s) => new Set(s).add(selected))}
              onEnded={runs.reload}
            />
          ) : detail.state.status === "error" ? (
            <div role="alert" className="error-box">
              <p>{detail.state.message}</p>
              <button type="button" className="secondary" onClick={detail.reload}>
                Try again
              </button>
            </div>
          ) : (
            <p className="placeholder" role="status">
              Loading…
            </p>
          )}
        </section>
      )}
    </>
  );
}

/** The form starting a run. */
function NewRun({ onStarted }: { onStarted: (run: StartedRun) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? "").trim();
    setBusy(true);
    setError(null);
    try {
      const run = await startRun(api, {
        repo_url: text("repo_url"),
        prompt: String(form.get("prompt") ?? ""),
        base_branch: text("base_branch") || null,
        provider: text("provider") || null,
      });
      onStarted(run);
      formElement.reset();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={submit} aria-describedby={error ? "run-error" : undefined}>
      <label>
        Repository URL
        <input name="repo_url" required maxLength={2048} inputMode="url" spellCheck={false} placeholder="https://github.com/owner/repository" />
      </label>
      <label>
        What to change
        <textarea name="prompt" required maxLength={8000} rows={4} placeholder="e.g. Fix the typo in the README's installation section" />
      </label>
      <label>
        Base branch (optional)
        <input name="base_branch" maxLength={255} spellCheck={false} placeholder="the repository's default branch" />
      </label>
      <details>
        <summary>Advanced</summary>
        <label>
          Provider (optional: only this one is asked, instead of the chain)
          <input name="provider" maxLength={100} spellCheck={false} placeholder="e.g. local" />
        </label>
      </details>
      {error && (
        <p id="run-error" role="alert" className="field-error">
          {error}
        </p>
      )}
      <div className="button-row">
        <button type="submit" disabled={busy}>
          {busy ? "Starting…" : "Start run"}
        </button>
      </div>
    </form>
  );
}

function StatusBadge({ status }: { status: RunStatus }) {
  const tone = statusTone(status);
  return <span className={tone === "neutral" ? `badge badge-${status}` : `badge badge-${tone}`}>{STATUS_LABELS[status]}</span>;
}

/** A run's result in the table: its pull request, else its branch, else a dash. */
function Result({ run, view }: { run: AgentRun; view: RunView | undefined }) {
  const success = view?.outcome?.kind === "success" ? view.outcome : null;
  const pr = httpUrl(run.pr_url ?? success?.prUrl);
  if (pr) {
    return (
      <a href={pr} target="_blank" rel="noreferrer">
        {pullRequestLabel(pr)}
        <span className="sr-only"> (opens in a new tab)</span>
      </a>
    );
  }
  const branch = run.branch ?? success?.branch;
  return branch ? <code>{branch}</code> : <>–</>;
}

/** The run's row, the fresher of the list's and the detail's: an ended one wins. */
function pickRow(listed: AgentRun | undefined, fetched: AgentRun | undefined): AgentRun | undefined {
  if (listed && fetched) return isFinished(fetched.status) && !isFinished(listed.status) ? fetched : listed;
  return listed ?? fetched;
}

/** "owner/repo#7" for a GitHub-style pull request URL, the URL otherwise. */
function pullRequestLabel(url: string): string {
  const match = /^https?:\/\/[^/]+\/([^/]+\/[^/]+)\/pulls?\/(\d+)/.exec(url);
  return match ? `${match[1]}#${match[2]}` : url;
}

interface RunDetailProps {
  run: AgentRun;
  view: RunView;
  status: RunStatus;
  stream: StreamState | undefined;
  onFollow: () => void;
  onStopping: () => void;
  onEnded: () => void;
}

/** One run: where it stands, its stages, thinking, diff and outcome, and a way to stop it. */
function RunDetail({ run, view, status, stream, onFollow, onStopping, onEnded }: RunDetailProps) {
  const [notice, setNotice] = useState<NoticeText | null>(null);
  const [busy, setBusy] = useState(false);
  const going = !isFinished(status);
  const runId = run.run_id;

  const cancel = async () => {
    if (!window.confirm("Stop this run? Its worker stops the running command and the run ends without a change.")) return;
    setBusy(true);
    setNotice(null);
    try {
      await cancelRun(api, runId);
      onStopping();
      setNotice({ tone: "good", text: "Stopping the run…" });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) onEnded();
      setNotice({ tone: "bad", text: messageOf(e) });
    } finally {
      setBusy(false);
    }
  };

  const progressTone = view.outcome?.kind === "error" || status === "failed" || status === "cancelled" ? "quota-full" : status === "succeeded" ? "progress-good" : "quota-ok";
  return (
    <div className="run-detail">
      <p className={`status run-status status-${statusTone(status)}`} role="status" aria-live="polite" aria-atomic="true" data-testid="run-status-line">
        {statusLine(status, view)}
        {going && stream === "reconnecting" && <span className="hint"> · connection lost, reconnecting…</span>}
      </p>
      {going && (stream === "failed" || stream === "closed") && (
        <p className="warnings">
          {stream === "failed" ? "The live stream of this run failed." : "This page stopped following this run to follow others."} A run
          nobody follows is stopped after a few seconds.{" "}
          <button type="button" className="secondary small" onClick={onFollow}>
            Follow it again
          </button>
        </p>
      )}

      <dl className="facts run-facts">
        <div>
          <dt>Repository</dt>
          <dd className="repo">{run.repo_url}</dd>
        </div>
        <div>
          <dt>Base branch</dt>
          <dd>{run.base_branch ?? "default"}</dd>
        </div>
        <div>
          <dt>Provider</dt>
          <dd>{run.provider ?? "the chain"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{dateTime(run.created_at)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{dateTime(run.started_at, "not yet")}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{dateTime(run.finished_at, going ? "not yet" : "–")}</dd>
        </div>
      </dl>
      <p className="run-prompt">
        <span className="hint">Prompt: </span>
        {run.prompt}
      </p>

      <div className="progress">
        <div className="quota-head">
          <span id="run-progress-label">Progress</span>
          <span className="num">{view.progress}%</span>
        </div>
        <div
          className="quota-track"
          role="progressbar"
          aria-labelledby="run-progress-label"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={view.progress}
          aria-valuetext={`${view.progress}%${view.stage ? `, ${STAGE_LABELS[view.stage].toLowerCase()}` : ""}`}
          data-testid="run-progress"
        >
          <div className={`quota-fill ${progressTone}`} style={{ width: `${view.progress}%` }} />
        </div>
      </div>

      <h3 id="stages-heading">Stages</h3>
      <ol className="stages" aria-labelledby="stages-heading" data-testid="run-stages">
        {view.stages.map((s) => (
          <li
            key={s.stage}
            className={`stage stage-${s.status}`}
            aria-current={s.status === "current" && going ? "step" : undefined}
            data-testid={`stage-${s.stage}`}
          >
            <span className="stage-mark" aria-hidden="true">
              {STAGE_MARKS[s.status]}
            </span>
            <span className="stage-label">{s.label}</span>
            <span className="stage-state">{stageStateText(s.status, going)}</span>
            <span className="stage-time num">{s.elapsedMs !== null ? millis(s.elapsedMs) : ""}</span>
            {s.message && <span className="stage-message">{s.message}</span>}
          </li>
        ))}
      </ol>

      {going && (
        <div className="button-row">
          <button type="button" className="danger" onClick={() => void cancel()} disabled={busy || status === "cancelled"}>
            {busy ? "Cancelling…" : "Cancel run"}
          </button>
        </div>
      )}
      <Notice notice={notice} testId="run-notice" />

      <Outcome view={view} />

      {view.thinking.length > 0 && (
        <details className="thinking" data-testid="run-thinking">
          <summary>
            Thinking log ({view.thinking.length} {view.thinking.length === 1 ? "entry" : "entries"})
          </summary>
          <ol>
            {view.thinking.map((t) => (
              <li key={t.seq}>
                <p className="thinking-title">{t.title}</p>
                {t.text && <pre className="analysis">{t.text}</pre>}
              </li>
            ))}
          </ol>
        </details>
      )}

      {view.diff && (
        <>
          <h3 id="diff-heading">Diff</h3>
          <pre className="diff" tabIndex={0} role="region" aria-labelledby="diff-heading" data-testid="run-diff">
            {view.diff.replace(/\n$/, "").split("\n").map((line, i) => (
              <span key={i} className={diffLineClass(line)}>
                {line}
              </span>
            ))}
          </pre>
        </>
      )}
    </div>
  );
}

/** How the run ended: the branch, commit and pull request, or what went wrong. */
function Outcome({ view }: { view: RunView }) {
  const outcome = view.outcome;
  if (!outcome) return null;
  if (outcome.kind === "error") {
    return (
      <div className="error-box outcome" data-testid="run-failure">
        <p>
          Stopped at {STAGE_LABELS[outcome.stage].toLowerCase()}: {outcome.message}
        </p>
      </div>
    );
  }
  const pr = httpUrl(outcome.prUrl);
  return (
    <div className="notice notice-good outcome" data-testid="run-success">
      <p>{outcome.message}</p>
      <dl className="facts">
        <div>
          <dt>Branch</dt>
          <dd>
            <code>{outcome.branch ?? "–"}</code>
          </dd>
        </div>
        <div>
          <dt>Commit</dt>
          <dd>
            <code>{outcome.commit ?? "–"}</code>
          </dd>
        </div>
        <div>
          <dt>Pull request</dt>
          <dd>
            {pr ? (
              <a href={pr} target="_blank" rel="noreferrer">
                {pullRequestLabel(pr)}
                <span className="sr-only"> (opens in a new tab)</span>
              </a>
            ) : (
              "none opened (no forge API or token for this host)"
            )}
          </dd>
        </div>
      </dl>
    </div>
  );
}

const STAGE_MARKS: Record<StageStatus, string> = { pending: "○", current: "●", done: "✓", failed: "✕", skipped: "–" };

function stageStateText(status: StageStatus, going: boolean): string {
  switch (status) {
    case "done":
      return "done";
    case "current":
      return going ? "running" : "stopped";
    case "failed":
      return "failed";
    case "skipped":
      return "not reached";
    case "pending":
      return "waiting";
  }
}

function diffLineClass(line: string): string | undefined {
  if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) return "diff-file";
  if (line.startsWith("@@")) return "diff-hunk";
  if (line.startsWith("+")) return "diff-add";
  if (line.startsWith("-")) return "diff-del";
  return undefined;
}
