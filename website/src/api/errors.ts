// What a failed API call means to the user: the HTTP status and the server's own message.

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

/** What to tell the user about a failed call. */
export function messageOf(error: unknown): string {
  return error instanceof ApiError ? error.message : "The server could not be reached.";
}

/** Dispatched on `window` when the server answers 401 to a signed-in page: the session is over. */
export const SIGNED_OUT_EVENT = "code4me:signed-out";
