import { describe, expect, it } from "vitest";
import { excerpt, foldEvents, httpUrl, isFinal, liveStatus, mergeEvents, statusLine, type AgentEvent, type Stage } from "./runState";

const RUN = "7c0f5a8e-3a51-4c4e-9d0b-2f3c1a9e8b10";

/** An event as the worker writes it. */
function event(seq: number, stage: Stage, type: AgentEvent["type"] = "info", extra: Partial<AgentEvent> = {}): AgentEvent {
  return {
    request_id: RUN,
    seq,
    type,
    stage,
    progress: 0,
    message: `${stage} ${seq}`,
    at: `2026-12-05T10:00:${String(seq).padStart(2, "0")}.000Z`,
    ...extra,
  };
}

/** The events of a run that got as far as cloning. */
const cloning: AgentEvent[] = [
  event(1, "validation", "info", { progress: 0, message: "checking the repository URL and the request" }),
  event(2, "validation", "info", { progress: 0, message: "the repository URL is allowed", elapsed_ms: 3 }),
  event(3, "sandbox_init", "info", { progress: 5, message: "preparing the sandbox" }),
  event(4, "sandbox_init", "info", { progress: 5, message: "sandbox ready", elapsed_ms: 41 }),
  event(5, "clone", "info", { progress: 10, message: "cloning https://github.com/a/b" }),
];

/** A run from start to pull request. */
const succeeded: AgentEvent[] = [
  ...cloning,
  event(6, "clone", "info", { progress: 10, message: "cloned main (1234 bytes)", elapsed_ms: 900 }),
  event(7, "analysis", "info", { progress: 25 }),
  event(8, "analysis", "info", { progress: 25, elapsed_ms: 12 }),
  event(9, "ai_processing", "info", { progress: 35 }),
  event(10, "ai_processing", "thinking", { progress: 35, message: "prompt for local", details: { provider: "local", prompt: "[system]\nYou edit" } }),
  event(11, "ai_processing", "thinking", { progress: 35, message: "local's answer", details: { provider: "local", answer: "--- a/x" } }),
  event(12, "ai_processing", "info", { progress: 35, elapsed_ms: 5000 }),
  event(13, "apply", "info", { progress: 70 }),
  event(14, "apply", "diff", { progress: 70, message: "1 file(s) changed", diff: "diff --git a/x b/x\n+hello\n" }),
  event(15, "apply", "info", { progress: 70, elapsed_ms: 20 }),
  event(16, "commit", "info", { progress: 78 }),
  event(17, "commit", "info", { progress: 78, elapsed_ms: 15 }),
  event(18, "push", "info", { progress: 85 }),
  event(19, "push", "info", { progress: 85, elapsed_ms: 700 }),
  event(20, "pr_creation", "info", { progress: 93 }),
  event(21, "pr_creation", "info", { progress: 93, elapsed_ms: 450 }),
  event(22, "complete", "info", { progress: 100, message: "done" }),
  event(23, "complete", "success", {
    progress: 100,
    message: "pull request opened: https://github.com/a/b/pull/7",
    branch: "code4me/fix-it-7c0f5a8e",
    commit: "abc1234",
    pr_url: "https://github.com/a/b/pull/7",
  }),
];

const statuses = (events: AgentEvent[]) => Object.fromEntries(foldEvents(events).stages.map((s) => [s.stage, s.status]));

describe("merging replayed and live events", () => {
  it("keeps each seq once, in order", () => {
    const stored = cloning.slice(0, 3);
    const live = [cloning[2], cloning[3], cloning[4]];
    expect(mergeEvents(stored, live).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("puts an event that arrives late where it belongs", () => {
    const merged = mergeEvents([cloning[0], cloning[2]], [cloning[4], cloning[1], cloning[3]]);
    expect(merged.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("keeps the first copy of an event seen twice", () => {
    const replayed = { ...cloning[0], message: "a second copy" };
    expect(mergeEvents([cloning[0]], [replayed])[0].message).toBe(cloning[0].message);
  });

  it("returns the same list when nothing is new, so nothing re-renders", () => {
    const known = mergeEvents([], cloning);
    expect(mergeEvents(known, cloning.slice(1, 3))).toBe(known);
    expect(mergeEvents(known, [])).toBe(known);
  });

  it("replaying a whole run over its stored events changes nothing", () => {
    const stored = mergeEvents([], succeeded);
    const replay = mergeEvents(stored, [...succeeded].reverse());
    expect(replay).toBe(stored);
    expect(foldEvents(replay)).toEqual(foldEvents(succeeded));
  });
});

describe("folding events into stages", () => {
  it("marks finished stages done with their time and the running one current", () => {
    const view = foldEvents(cloning);
    expect(statuses(cloning)).toMatchObject({ validation: "done", sandbox_init: "done", clone: "current", analysis: "pending", complete: "pending" });
    expect(view.stages.find((s) => s.stage === "sandbox_init")?.elapsedMs).toBe(41);
    expect(view.stages.find((s) => s.stage === "clone")?.elapsedMs).toBeNull();
    expect(view.stages.find((s) => s.stage === "clone")?.message).toBe("cloning https://github.com/a/b");
    expect(view.progress).toBe(10);
    expect(view.stage).toBe("clone");
    expect(view.lastSeq).toBe(5);
    expect(view.outcome).toBeNull();
  });

  it("does not depend on the order the events arrive in", () => {
    expect(foldEvents([...cloning].reverse())).toEqual(foldEvents(cloning));
  });

  it("shows a successful run done everywhere, with its diff, thinking log and pull request", () => {
    const view = foldEvents(succeeded);
    expect(view.stages.every((s) => s.status === "done")).toBe(true);
    expect(view.stages.find((s) => s.stage === "ai_processing")?.elapsedMs).toBe(5000);
    expect(view.progress).toBe(100);
    expect(view.diff).toContain("+hello");
    expect(view.thinking).toEqual([
      { seq: 10, title: "prompt for local", provider: "local", text: "[system]\nYou edit" },
      { seq: 11, title: "local's answer", provider: "local", text: "--- a/x" },
    ]);
    expect(view.outcome).toEqual({
      kind: "success",
      message: "pull request opened: https://github.com/a/b/pull/7",
      branch: "code4me/fix-it-7c0f5a8e",
      commit: "abc1234",
      prUrl: "https://github.com/a/b/pull/7",
    });
  });

  it("marks the stage of the error failed and the stages after it skipped", () => {
    const failed = [...cloning, event(6, "clone", "error", { progress: 10, message: "the repository is larger than 50 MiB" })];
    const view = foldEvents(failed);
    expect(statuses(failed)).toMatchObject({ validation: "done", sandbox_init: "done", clone: "failed", analysis: "skipped", complete: "skipped" });
    expect(view.outcome).toEqual({ kind: "error", message: "the repository is larger than 50 MiB", stage: "clone" });
    expect(view.progress).toBe(10);
    expect(isFinal(failed[5])).toBe(true);
    expect(isFinal(failed[4])).toBe(false);
  });

  it("fails validation for a run cancelled before it started", () => {
    const view = foldEvents([event(1, "validation", "error", { message: "the run was cancelled before it started" })]);
    expect(view.stages[0].status).toBe("failed");
    expect(view.stages.slice(1).every((s) => s.status === "skipped")).toBe(true);
  });

  it("shows every stage pending before the first event", () => {
    const view = foldEvents([]);
    expect(view.stages.map((s) => s.status)).toEqual(Array(10).fill("pending"));
    expect(view.stage).toBeNull();
    expect(view.lastSeq).toBe(0);
  });

  it("counts a stage passed when a later one started, even without its closing event", () => {
    const gap = [event(1, "validation"), event(3, "clone", "info", { progress: 10 })];
    expect(statuses(gap)).toMatchObject({ validation: "done", sandbox_init: "done", clone: "current" });
  });

  it("keeps progress from falling and within 0–100", () => {
    const odd = [event(1, "clone", "info", { progress: 40 }), event(2, "clone", "info", { progress: 12 })];
    expect(foldEvents(odd).progress).toBe(40);
    expect(foldEvents([event(1, "clone", "info", { progress: 140 })]).progress).toBe(100);
  });
});

describe("the status of a run", () => {
  it("follows live events ahead of the run row", () => {
    expect(liveStatus("queued", foldEvents([]))).toBe("queued");
    expect(liveStatus("queued", foldEvents(cloning))).toBe("running");
    expect(liveStatus("running", foldEvents(succeeded))).toBe("succeeded");
    const failed = [...cloning, event(6, "clone", "error", { message: "the run was cancelled" })];
    expect(liveStatus("running", foldEvents(failed))).toBe("failed");
    expect(liveStatus("running", foldEvents(failed), true)).toBe("cancelled");
    expect(liveStatus("cancelled", foldEvents(failed))).toBe("cancelled");
  });

  it("reads as one line", () => {
    expect(statusLine("queued", foldEvents([]))).toBe("Queued: waiting for a worker");
    expect(statusLine("running", foldEvents(cloning))).toBe("Running: clone, 10% (cloning https://github.com/a/b)");
    expect(statusLine("succeeded", foldEvents(succeeded))).toBe("Succeeded: pull request opened: https://github.com/a/b/pull/7");
    const failed = [...cloning, event(6, "clone", "error", { message: "git clone failed" })];
    expect(statusLine("failed", foldEvents(failed))).toBe("Failed at clone: git clone failed");
    expect(statusLine("cancelled", null)).toBe("Cancelled");
  });
});

describe("prompt excerpts", () => {
  it("fit on one line and are cut with an ellipsis", () => {
    expect(excerpt("fix the\n  README typo")).toBe("fix the README typo");
    expect(excerpt("a".repeat(100), 10)).toBe(`${"a".repeat(9)}…`);
    expect(excerpt("short", 10)).toBe("short");
  });
});

describe("links", () => {
  it("link only to http(s) URLs", () => {
    expect(httpUrl("https://github.com/a/b/pull/7")).toBe("https://github.com/a/b/pull/7");
    expect(httpUrl("javascript:alert(1)")).toBeNull();
    expect(httpUrl("not a url")).toBeNull();
    expect(httpUrl(null)).toBeNull();
  });
});
