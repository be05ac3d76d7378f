import { useState, type ChangeEvent, type FormEvent } from "react";
import type { TokenPair } from "../api/types";
import { api, ApiError } from "../lib/http";
import { authHref } from "../lib/nextRoute";
import { authError } from "../lib/userText";
import { SESSION_ENDED_NOTICE, setSession, withSessionLock } from "../lib/session";

/** `route`: this page's hash route ("/login?next=..."); `next`: where to go once logged in (lib/nextRoute.ts);
 * `ended`: the session just ended without this browser's logout (lib/session.ts `takeEndReason`): say so. */
export function AuthPage({
  mode,
  route,
  next,
  ended = false,
}: {
  mode: "login" | "signup";
  route: string;
  next: string;
  ended?: boolean;
}) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  // the refusal in words, and the server's code (EMAIL_TAKEN) for the tooltip
  const [error, setError] = useState<{ text: string; code?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";
  // the server's refusal was about what the fields held then: an edit makes it stale (and the browser's own
  // validation may then stop the next submit, with the old message still contradicting it)
  const edit = (set: (v: string) => void) => (e: ChangeEvent<HTMLInputElement>) => {
    set(e.target.value);
    setError(null);
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (signup) await api("POST", "/api/auth/register", { body: { email, password }, auth: false });
      // the refresh token comes back as an httpOnly cookie: this page never sees it
      await withSessionLock(async () => {
        const body = { email, password, refresh_cookie: true };
        setSession(email, await api<TokenPair>("POST", "/api/auth/login", { body, auth: false }));
      });
      window.location.hash = next.slice(1); // back to the page the trader came from (an internal route)
    } catch (err) {
      setError({ text: authError(err), code: err instanceof ApiError ? err.code : undefined });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth-wrap">
      <form className="card auth-card" onSubmit={submit} aria-label={signup ? "Sign up" : "Log in"}>
        <h1>{signup ? "Create your account" : "Log in"}</h1>
        {ended && (
          <p className="form-notice" role="alert" data-testid="session-ended">
            {SESSION_ENDED_NOTICE}
          </p>
        )}
        <label>
          Email
          <input
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={edit(setEmail)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={signup ? "new-password" : "current-password"}
            required
            minLength={signup ? 8 : undefined}
            value={password}
            onChange={edit(setPassword)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert" data-testid="auth-error" title={error.code} data-code={error.code}>
            {error.text}
            {error.code === "EMAIL_TAKEN" && (
              // the account exists: the way in is the login page, back to where the trader was going
              <>
                {" "}
                <a href={authHref("login", route)} data-testid="login-instead">
                  Log in instead
                </a>
              </>
            )}
          </p>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "…" : signup ? "Sign up" : "Log in"}
        </button>
        <p className="muted">
          {signup ? (
            <>
              Already have an account? <a href={authHref("login", route)}>Log in</a>
            </>
          ) : (
            <>
              New here? <a href={authHref("signup", route)}>Create an account</a>
            </>
          )}
        </p>
      </form>
    </div>
  );
}
