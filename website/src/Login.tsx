// Sign-in panel: e-mail and password (the plugin's account), or Google, GitHub or Microsoft when
// the server offers them.
import { useEffect, useState, type FormEvent } from "react";
import { providers, type Provider } from "./api/auth";
import { api } from "./api/client";
import { messageOf } from "./api/errors";
import { useAuth } from "./auth";

/** The providers' buttons, in the order shown. */
const PROVIDERS: { id: Provider; label: string }[] = [
  { id: "google", label: "Sign in with Google" },
  { id: "github", label: "Sign in with GitHub" },
  { id: "microsoft", label: "Sign in with Microsoft" },
];

export function Login() {
  const { signIn } = useAuth();
  const [offered, setOffered] = useState<Partial<Record<Provider, boolean>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void providers(api)
      .then(setOffered)
      .catch(() => setOffered({}));
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
        {PROVIDERS.filter(({ id }) => offered[id]).map(({ id, label }) => (
          <a key={id} className="provider" href={`/api/user/oauth/${id}/login?return_to=${encodeURIComponent(window.location.pathname)}`}>
            {label}
          </a>
        ))}
      </form>
    </section>
  );
}
