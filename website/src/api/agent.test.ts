import { describe, expect, it } from "vitest";
import { cancelRun, eventsUrl, listRuns, startRun } from "./agent";
import { makeClient } from "./client";
import { ApiError } from "./errors";

/** A client whose calls are answered by `answer` and recorded as "METHOD /path body". */
function recordingClient(answer: (request: Request) => Response, calls: string[] = []) {
  return makeClient("http://code4me.test", (async (input: RequestInfo | URL) => {
    const request = input as Request;
    const body = request.method === "POST" ? ` ${await request.clone().text()}` : "";
    calls.push(`${request.method} ${new URL(request.url).pathname}${body}`);
    return answer(request);
  }) as typeof fetch);
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const RUN = "7c0f5a8e-3a51-4c4e-9d0b-2f3c1a9e8b10";

describe("the agent's API", () => {
  it("lists the caller's runs", async () => {
    const client = recordingClient(() => json({ runs: [{ run_id: RUN, status: "queued" }] }));
    expect((await listRuns(client)).map((r) => r.run_id)).toEqual([RUN]);
  });

  it("starts a run and reads its id from the stream's header, leaving the stream unread", async () => {
    const calls: string[] = [];
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    const client = recordingClient(
      () => new Response(stream, { status: 200, headers: { "content-type": "text/event-stream", "x-agent-run-id": RUN } }),
      calls,
    );
    const started = await startRun(client, { repo_url: "https://github.com/a/b", prompt: "fix it", base_branch: null, provider: null });
    expect(started.runId).toBe(RUN);
    expect(calls).toEqual([`POST /api/agent/code {"repo_url":"https://github.com/a/b","prompt":"fix it","base_branch":null,"provider":null}`]);
    await started.stream?.cancel();
    expect(cancelled).toBe(true);
  });

  it("reports a refused start with the server's message", async () => {
    const client = recordingClient(() => json({ detail: [{ loc: ["body", "prompt"], msg: "Field required" }] }, 422));
    await expect(startRun(client, { repo_url: "https://github.com/a/b", prompt: "" })).rejects.toThrow("prompt: Field required");
  });

  it("says so when a run has ended before it could be cancelled", async () => {
    const calls: string[] = [];
    const client = recordingClient((r) => (r.method === "DELETE" ? json({ detail: "the run has ended already" }, 409) : json({})), calls);
    const error = await cancelRun(client, RUN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(409);
    expect((error as ApiError).message).toBe("the run has ended already");
    expect(calls).toEqual([`DELETE /api/agent/runs/${RUN}`]);
  });

  it("streams a run's events from its own URL", () => {
    expect(eventsUrl(RUN)).toBe(`/api/agent/runs/${RUN}`);
  });
});
