// Sign-in panel: e-mail and password (the plugin's account), or Google when the server offers it.
import { useEffect, useState, type FormEvent } from "react";
import { providers } from "./api/auth";
import { api } from "./api/client";
import { messageOf } from "./api/errors";
import { useAuth } from "./auth";

export function Login() {
  const { signIn } = useAuth();
  const [google, setGoogle] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void providers(api)
      .then((p) => setGoogle(p.google))
      .catch(() => setGoogle(false));
  }, []);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(form.get("email") ?? ""), String(form.get("password") ?? ""));
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };

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
