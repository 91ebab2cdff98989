// Typed calls to the Code4me REST API used by the dashboard. Auth rides on the HttpOnly cookies the
// server sets; every call sends them (same origin) and never sees their values.

/** The user as the API returns it (password always masked). */
export interface User {
  user_id: string;
  email: string;
  name: string;
  verified: boolean;
  is_admin: boolean;
  config_id: number;
}

/** A failed call: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The human-readable message of an error body: `{"message"}`, `{"detail": "..."}` or a 422 list. */
export function errorMessage(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.message === "string") return record.message;
    if (typeof record.detail === "string") return record.detail;
    if (Array.isArray(record.detail) && record.detail.length > 0) {
      return record.detail
        .map((issue) => {
          const item = issue as { loc?: unknown[]; msg?: string };
          const field = item.loc?.[item.loc.length - 1];
          return field ? `${String(field)}: ${item.msg ?? "invalid"}` : (item.msg ?? "invalid");
        })
        .join("; ");
    }
  }
  if (status === 429) return "Too many requests. Please try again later.";
  return `Request failed (${status})`;
}

async function call<T>(method: string, path: string, body?: unknown, fetcher: typeof fetch = fetch): Promise<T> {
  const response = await fetcher(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? { accept: "application/json" } : { "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed: unknown = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, parsed));
  return parsed as T;
}

/** Logs in with e-mail and password (sets the auth cookie), then opens a session. */
export async function logIn(email: string, password: string, fetcher: typeof fetch = fetch): Promise<User> {
  const result = await call<{ user: User }>("POST", "/api/user/authenticate", { email, password }, fetcher);
  await call("GET", "/api/session/acquire", undefined, fetcher);
  return result.user;
}

/** The signed-in user, or null when the cookie is missing or expired. */
export async function currentUser(fetcher: typeof fetch = fetch): Promise<User | null> {
  try {
    return (await call<{ user: User }>("GET", "/api/user/get", undefined, fetcher)).user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** Ends the session and revokes the auth token. */
export async function logOut(fetcher: typeof fetch = fetch): Promise<void> {
  await call("PUT", "/api/session/deactivate/", undefined, fetcher);
}

/** Which sign-in providers the server offers. */
export async function providers(fetcher: typeof fetch = fetch): Promise<{ google: boolean }> {
  return call("GET", "/api/user/oauth/providers", undefined, fetcher);
}
