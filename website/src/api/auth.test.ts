import { describe, expect, it } from "vitest";
import { currentUser, logIn } from "./auth";
import { makeClient } from "./client";
import { ApiError, errorMessage } from "./errors";

/** A client whose calls are answered by `answer` and recorded as "METHOD /path". */
function recordingClient(answer: (path: string) => Response, calls: string[] = []) {
  return makeClient("http://code4me.test", (async (input: RequestInfo | URL) => {
    const request = input as Request;
    const path = new URL(request.url).pathname;
    calls.push(`${request.method} ${path}`);
    return answer(path);
  }) as typeof fetch);
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("errorMessage", () => {
  it("prefers the contract's message", () => {
    expect(errorMessage(401, { message: "Invalid email or password!" })).toBe("Invalid email or password!");
  });

  it("names the fields of a validation list", () => {
    const body = {
      detail: [
        { loc: ["body", "email"], msg: "Field required" },
        { loc: ["body", "password"], msg: "Field required" },
      ],
    };
    expect(errorMessage(422, body)).toBe("email: Field required; password: Field required");
  });

  it("falls back to the status", () => {
    expect(errorMessage(502, "<html>")).toBe("Request failed (502)");
    expect(errorMessage(429, null)).toBe("Too many requests. Please try again later.");
  });
});

describe("logIn", () => {
  it("authenticates and then acquires a session", async () => {
    const calls: string[] = [];
    const client = recordingClient(
      (path) => (path.endsWith("authenticate") ? json({ user: { name: "Ada" } }) : json({ session_token: "s" })),
      calls,
    );
    const user = await logIn(client, "ada@example.com", "Secret123");
    expect(user.name).toBe("Ada");
    expect(calls).toEqual(["POST /api/user/authenticate", "GET /api/session/acquire"]);
  });

  it("surfaces the server's refusal", async () => {
    const client = recordingClient(() => json({ message: "Invalid email or password!" }, 401));
    await expect(logIn(client, "a@b.co", "x")).rejects.toEqual(new ApiError(401, "Invalid email or password!"));
  });
});

describe("currentUser", () => {
  it("is null when not signed in", async () => {
    const client = recordingClient(() => json({ message: "..." }, 401));
    expect(await currentUser(client)).toBeNull();
  });

  it("reports an unreachable server as an error, not as signed out", async () => {
    const client = makeClient("http://code4me.test", (async () => {
      throw new TypeError("fetch failed");
    }) as typeof fetch);
    await expect(currentUser(client)).rejects.toEqual(new ApiError(0, "The server could not be reached."));
  });
});
