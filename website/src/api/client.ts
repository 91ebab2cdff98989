// The typed API client: paths, parameters and bodies come from `schema.ts`, which is generated from
// the server's OpenAPI document (`npm run api:generate`), so a renamed field breaks the build here
// instead of a chart in production. Auth rides on the HttpOnly cookies the server sets.
import createClient from "openapi-fetch";
import { ApiError, errorMessage, SIGNED_OUT_EVENT } from "./errors";
import type { components, paths } from "./schema";

export { ApiError } from "./errors";

/** A schema of the OpenAPI document by name, e.g. `Schema<"DashboardResponse">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

/** A client for `baseUrl` (the page's own origin in the browser) sending cookies with every call. */
export function makeClient(baseUrl = "", fetcher: typeof fetch = (input, init) => fetch(input, init)) {
  return createClient<paths>({ baseUrl, credentials: "same-origin", fetch: fetcher });
}

/** The client the pages use. */
export const api = makeClient();

/**
 * The body of a successful call, or an `ApiError` with the server's message. A 401 also tells the
 * app the session is over (`SIGNED_OUT_EVENT`), so an expired cookie leads back to sign-in.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "The server could not be reached.");
  }
  if (result.response.status === 401 && typeof window !== "undefined") window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
  if (!result.response.ok) throw new ApiError(result.response.status, errorMessage(result.response.status, result.error));
  return result.data as T;
}
