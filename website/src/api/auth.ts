// Signing in and out: the plugin's e-mail/password account, or Google, GitHub or Microsoft when the server offers them.
import { makeClient, unwrap, type Schema } from "./client";
import { ApiError } from "./errors";

/** The user as the API returns it (password always masked). */
export type User = Schema<"ResponseUser">;

type Client = ReturnType<typeof makeClient>;

/** Logs in with e-mail and password (sets the auth cookie), then opens a session. */
export async function logIn(client: Client, email: string, password: string): Promise<User> {
  const result = await unwrap(client.POST("/api/user/authenticate", { body: { email, password } }));
  await unwrap(client.GET("/api/session/acquire"));
  return result.user;
}

/** The signed-in user, or null when the cookie is missing or expired. */
export async function currentUser(client: Client): Promise<User | null> {
  try {
    return (await unwrap(client.GET("/api/user/get"))).user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** Ends the session and revokes the auth token. */
export async function logOut(client: Client): Promise<void> {
  await unwrap(client.PUT("/api/session/deactivate"));
}

/** A sign-in provider the server may offer. */
export type Provider = "google" | "github" | "microsoft";

/** Which sign-in providers the server offers. */
export async function providers(client: Client): Promise<Record<Provider, boolean>> {
  return unwrap(client.GET("/api/user/oauth/providers"));
}
