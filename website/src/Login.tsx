// Sign-in panel: e-mail and password (the plugin's account), or Google when the server offers it.
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, currentUser, logIn, logOut, providers, type User } from "./api";

export function Login() {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);
  const [google, setGoogle] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void currentUser()
      .then(setUser)
      .catch(() => setUser(null))
      .finally(() => setChecking(false));
    void providers()
      .then((p) => setGoogle(p.google))
      .catch(() => setGoogle(false));
  }, []);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      setUser(await logIn(String(form.get("email") ?? ""), String(form.get("password") ?? "")));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "The server could not be reached.");
    } finally {
      setBusy(false);
    }
  };

  const signOut = async () => {
    setBusy(true);
    try {
      await logOut();
    } catch {
      // Already signed out on the server: nothing left to do.
    }
    setUser(null);
    setBusy(false);
  };

  if (checking) return <section className="panel" aria-busy="true">Checking sign-in…</section>;

  if (user) {
    return (
      <section className="panel" aria-labelledby="account-heading">
        <h2 id="account-heading">Account</h2>
        <p data-testid="signed-in">
          Signed in as <strong>{user.name}</strong> ({user.email}){user.is_admin ? " · admin" : ""}
        </p>
        <button type="button" onClick={signOut} disabled={busy}>
          Log out
        </button>
      </section>
    );
  }

  return (
    <section className="panel" aria-labelledby="login-heading">
      <h2 id="login-heading">Sign in</h2>
      <form onSubmit={submit} className="login">
        <label>
          E-mail
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p role="alert" className="status-bad">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {google && (
          <a className="google" href={`/api/user/oauth/google/login?return_to=${encodeURIComponent(window.location.pathname)}`}>
            Sign in with Google
          </a>
        )}
      </form>
    </section>
  );
}
