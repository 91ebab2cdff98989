import { describe, expect, it } from "vitest";
import { ApiError, currentUser, errorMessage, logIn } from "./api";

describe("errorMessage", () => {
  it("prefers the contract's message", () => {
    expect(errorMessage(401, { message: "Invalid email or password!" })).toBe("Invalid email or password!");
  });

  it("names the fields of a validation list", () => {
    const body = { detail: [{ loc: ["body", "email"], msg: "Field required" }, { loc: ["body", "password"], msg: "Field required" }] };
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
    const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
      calls.push(`${init?.method} ${String(input)}`);
      const body = String(input).endsWith("authenticate") ? { user: { name: "Ada" } } : { session_token: "s" };
      return new Response(JSON.stringify(body), { status: 200 });
    }) as typeof fetch;
    const user = await logIn("ada@example.com", "Secret123", fetcher);
    expect(user.name).toBe("Ada");
    expect(calls).toEqual(["POST /api/user/authenticate", "GET /api/session/acquire"]);
  });

  it("surfaces the server's refusal", async () => {
    const fetcher = (async () => new Response(JSON.stringify({ message: "Invalid email or password!" }), { status: 401 })) as typeof fetch;
    await expect(logIn("a@b.co", "x", fetcher)).rejects.toEqual(new ApiError(401, "Invalid email or password!"));
  });
});

describe("currentUser", () => {
  it("is null when not signed in", async () => {
    const fetcher = (async () => new Response(JSON.stringify({ message: "..." }), { status: 401 })) as typeof fetch;
    expect(await currentUser(fetcher)).toBeNull();
  });
});
