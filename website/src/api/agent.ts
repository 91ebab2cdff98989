// The repository agent: the signed-in user's runs, one run with its stored events, stopping a run,
// starting one, and the URL of a run's event stream (server-sent events, resumed by the browser
// with `Last-Event-ID`).
import { ApiError, makeClient, unwrap, type Schema } from "./client";

type Client = ReturnType<typeof makeClient>;

/** `POST /api/agent/code`'s body. */
export type AgentCodeBody = Schema<"AgentCodeBody">;

/** The header naming the run of `POST /api/agent/code`'s stream. */
export const RUN_ID_HEADER = "X-Agent-Run-Id";

/** The caller's runs, newest first. */
export async function listRuns(client: Client): Promise<Schema<"AgentRun">[]> {
  return (await unwrap(client.GET("/api/agent/runs"))).runs;
}

/** One run and its stored events. */
export async function getRun(client: Client, runId: string): Promise<Schema<"AgentRunDetail">> {
  // Asked as JSON (the default `Accept`); the same URL streams the events to an EventSource.
  const detail = await unwrap(client.GET("/api/agent/runs/{run_id}", { params: { path: { run_id: runId } } }));
  return detail as Schema<"AgentRunDetail">;
}

/** Asks the run's worker to stop it (an `ApiError` with status 409 when it has ended already). */
export async function cancelRun(client: Client, runId: string): Promise<string> {
  const result = await unwrap(client.DELETE("/api/agent/runs/{run_id}", { params: { path: { run_id: runId } } }));
  return typeof result.detail === "string" ? result.detail : "cancelling";
}

/** A run just started: its id, and the body of the request's own event stream. */
export interface StartedRun {
  runId: string;
  /** The start request's event stream: cancel it once another stream follows the run. */
  stream: ReadableStream<Uint8Array> | null;
}

/**
 * Starts a run. The answer is the run's event stream; the run is cancelled when every stream of it
 * has been closed for the grace period, so the caller opens the run's own stream (`eventsUrl`)
 * before it lets this one go.
 */
export async function startRun(client: Client, body: AgentCodeBody): Promise<StartedRun> {
  const call = client.POST("/api/agent/code", { body, parseAs: "stream" });
  const stream = (await unwrap(call)) as ReadableStream<Uint8Array> | null;
  const { response } = await call;
  const runId = response.headers.get(RUN_ID_HEADER);
  if (!runId) {
    void stream?.cancel().catch(() => {});
    throw new ApiError(response.status, "The server did not say which run it started.");
  }
  return { runId, stream };
}

/** The run's event stream (`text/event-stream`, which `EventSource` asks for itself). */
export function eventsUrl(runId: string, baseUrl = ""): string {
  return `${baseUrl}/api/agent/runs/${encodeURIComponent(runId)}`;
}
