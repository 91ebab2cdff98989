// A repository agent run as the Agent page shows it, folded from the run's events: which stages are
// done, which one runs now and which one failed (with the time each finished stage took), the
// progress, the thinking log, the diff and the outcome. Events arrive twice over (the stored ones
// from `GET /api/agent/runs/{run_id}` and the live ones from its event stream, which replays from
// the start or from `Last-Event-ID`), so they are merged by `seq` without duplicates first.
//
// The worker's rhythm (worker/src/agent): every stage starts with an `info` event and ends with an
// `info` event carrying `elapsed_ms`; `thinking` events (prompt and answer in `details`) come during
// `ai_processing`, one `diff` event during `apply`; the run ends with `success` (in the `complete`
// stage, with branch, commit and pull request) or `error` (in the stage that failed).
import type { Schema } from "../api/client";

/** An event; `details` is any JSON object (the generated schema cannot say which). */
export type AgentEvent = Omit<Schema<"AgentEvent">, "details"> & { details?: Record<string, unknown> | null };
export type AgentRun = Schema<"AgentRun">;
export type Stage = Schema<"Stage">;
export type RunStatus = Schema<"RunStatus">;

/** Every stage, in the order a run passes them. */
export const STAGES: readonly Stage[] = [
  "validation",
  "sandbox_init",
  "clone",
  "analysis",
  "ai_processing",
  "apply",
  "commit",
  "push",
  "pr_creation",
  "complete",
];

/** What a stage is called on the page. */
export const STAGE_LABELS: Record<Stage, string> = {
  validation: "Validation",
  sandbox_init: "Sandbox",
  clone: "Clone",
  analysis: "Analysis",
  ai_processing: "Model",
  apply: "Apply edits",
  commit: "Commit",
  push: "Push",
  pr_creation: "Pull request",
  complete: "Complete",
};

/** What the run's status is called on the page. */
export const STATUS_LABELS: Record<RunStatus, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};

/**
 * Where a stage stands: not reached yet (`pending`), running now (`current`), finished (`done`),
 * where the run stopped (`failed`), or never reached by a run that has ended (`skipped`).
 */
export type StageStatus = "pending" | "current" | "done" | "failed" | "skipped";

/** One stage of the progress list. */
export interface StageState {
  stage: Stage;
  label: string;
  status: StageStatus;
  /** How long the stage took, once finished. */
  elapsedMs: number | null;
  /** The stage's latest progress message. */
  message: string | null;
}

/** How a run ended. */
export type Outcome =
  | { kind: "success"; message: string; branch: string | null; commit: string | null; prUrl: string | null }
  | { kind: "error"; message: string; stage: Stage };

/** One entry of the thinking log: what was sent to a provider, or what it answered. */
export interface ThinkingEntry {
  seq: number;
  title: string;
  provider: string | null;
  text: string | null;
}

/** A run folded from its events. */
export interface RunView {
  stages: StageState[];
  /** 0–100, never falling. */
  progress: number;
  /** The stage of the latest event; null before the first. */
  stage: Stage | null;
  /** The latest event's message. */
  message: string | null;
  thinking: ThinkingEntry[];
  /** The change as a unified diff (the latest `diff` event's). */
  diff: string | null;
  /** The final event's outcome; null while the run goes on. */
  outcome: Outcome | null;
  /** The last event's `seq` (0 when there is none): what a stream resumes after. */
  lastSeq: number;
}

/** Success and error end a run: no event follows them. */
export function isFinal(event: Pick<AgentEvent, "type">): boolean {
  return event.type === "success" || event.type === "error";
}

/** A run that has ended: no event will follow. */
export function isFinished(status: RunStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

/**
 * `known` with `incoming` added, in `seq` order, each `seq` once (an event seen twice keeps its
 * first copy: stored events never change). Returns `known` itself when nothing new came, so a
 * replayed event does not re-render the page.
 */
export function mergeEvents(known: readonly AgentEvent[], incoming: readonly AgentEvent[]): readonly AgentEvent[] {
  const seen = new Set(known.map((e) => e.seq));
  const added: AgentEvent[] = [];
  for (const event of incoming) {
    if (seen.has(event.seq)) continue;
    seen.add(event.seq);
    added.push(event);
  }
  if (added.length === 0) return known;
  const last = known.length > 0 ? known[known.length - 1].seq : -Infinity;
  added.sort((a, b) => a.seq - b.seq);
  // The usual case: live events after everything known.
  if (added[0].seq > last) return [...known, ...added];
  return [...known, ...added].sort((a, b) => a.seq - b.seq);
}

/** Folds a run's events (in any order, duplicates allowed) into what the page shows. */
export function foldEvents(events: readonly AgentEvent[]): RunView {
  const ordered = mergeEvents([], events);
  const started = new Set<Stage>();
  const elapsed = new Map<Stage, number>();
  const messages = new Map<Stage, string>();
  const thinking: ThinkingEntry[] = [];
  let progress = 0;
  let diff: string | null = null;
  let outcome: Outcome | null = null;
  let reached = -1;

  for (const event of ordered) {
    const index = STAGES.indexOf(event.stage);
    if (index < 0) continue; // a stage this page does not know yet
    progress = Math.max(progress, clampProgress(event.progress));
    if (event.type === "info" || event.type === "diff") {
      started.add(event.stage);
      reached = Math.max(reached, index);
      messages.set(event.stage, event.message);
    }
    if (event.elapsed_ms !== undefined && event.elapsed_ms !== null) elapsed.set(event.stage, event.elapsed_ms);
    if (event.type === "thinking") thinking.push(thinkingEntry(event));
    if (event.type === "diff" && event.diff) diff = event.diff;
    if (event.type === "success") {
      reached = Math.max(reached, index);
      outcome = { kind: "success", message: event.message, branch: event.branch ?? null, commit: event.commit ?? null, prUrl: event.pr_url ?? null };
    }
    if (event.type === "error") outcome = { kind: "error", message: event.message, stage: event.stage };
  }
  const ended = outcome as Outcome | null; // (assigned in the loop, which narrowing does not follow)
  if (ended?.kind === "success") progress = 100;

  const stages = STAGES.map((stage, index): StageState => {
    let status: StageStatus;
    if (ended?.kind === "error" && ended.stage === stage) status = "failed";
    else if (elapsed.has(stage) || index < reached) status = "done";
    else if (ended?.kind === "success" && index <= reached) status = "done";
    else if (ended) status = "skipped";
    else if (index === reached) status = "current";
    else status = "pending";
    return { stage, label: STAGE_LABELS[stage], status, elapsedMs: elapsed.get(stage) ?? null, message: messages.get(stage) ?? null };
  });

  const latest = ordered.length > 0 ? ordered[ordered.length - 1] : null;
  return {
    stages,
    progress,
    stage: latest?.stage ?? null,
    message: latest?.message ?? null,
    thinking,
    diff,
    outcome: ended,
    lastSeq: latest?.seq ?? 0,
  };
}

/**
 * The run's status with its live events taken into account: the run row is read less often than
 * events arrive (and the worker stores the final event just before it closes the row), so a run
 * the row still calls queued or running is running once events came, and has ended once the final
 * event came. `cancelRequested`: the user asked this page to stop the run, so its error is the
 * cancellation.
 */
export function liveStatus(row: RunStatus, view: RunView | null, cancelRequested = false): RunStatus {
  if (isFinished(row) || !view) return row;
  if (view.outcome?.kind === "success") return "succeeded";
  if (view.outcome?.kind === "error") return cancelRequested ? "cancelled" : "failed";
  if (view.lastSeq > 0) return "running";
  return row;
}

/** The one line saying where the run stands (read out by screen readers as it changes). */
export function statusLine(status: RunStatus, view: RunView | null): string {
  const label = STATUS_LABELS[status];
  if (view?.outcome?.kind === "success") return `${label}: ${view.outcome.message}`;
  if (view?.outcome?.kind === "error") return `${label} at ${STAGE_LABELS[view.outcome.stage].toLowerCase()}: ${view.outcome.message}`;
  if (status === "queued" && !view?.stage) return `${label}: waiting for a worker`;
  if (view?.stage && !isFinished(status)) {
    return `${label}: ${STAGE_LABELS[view.stage].toLowerCase()}, ${view.progress}%${view.message ? ` (${view.message})` : ""}`;
  }
  return label;
}

/** The badge tone of a status. */
export function statusTone(status: RunStatus): "good" | "bad" | "neutral" {
  if (status === "succeeded") return "good";
  if (status === "failed") return "bad";
  return "neutral";
}

/** The first `max` characters of `text` on one line, with an ellipsis when cut. */
export function excerpt(text: string, max = 80): string {
  const line = text.replace(/\s+/g, " ").trim();
  const chars = Array.from(line);
  return chars.length <= max ? line : `${chars.slice(0, max - 1).join("").trimEnd()}…`;
}

/** `url` when it is an http(s) URL (safe to link to), null otherwise. */
export function httpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function thinkingEntry(event: AgentEvent): ThinkingEntry {
  const details: Record<string, unknown> = event.details && typeof event.details === "object" ? event.details : {};
  const text = typeof details.prompt === "string" ? details.prompt : typeof details.answer === "string" ? details.answer : null;
  const provider = typeof details.provider === "string" ? details.provider : null;
  return { seq: event.seq, title: event.message, provider, text };
}

function clampProgress(progress: number): number {
  return Number.isFinite(progress) ? Math.min(100, Math.max(0, Math.round(progress))) : 0;
}
