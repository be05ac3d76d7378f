import { useState, type FormEvent } from "react";
import type { TokenPair } from "../api/types";
import { api, ApiError } from "../lib/http";
import { setSession } from "../lib/session";

export function AuthPage({ mode }: { mode: "login" | "signup" }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (signup) await api("POST", "/api/auth/register", { body: { email, password }, auth: false });
      const tokens = await api<TokenPair>("POST", "/api/auth/login", { body: { email, password }, auth: false });
      setSession(email, tokens);
      window.location.hash = "/markets";
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : "Something went wrong");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth-wrap">
      <form className="card auth-card" onSubmit={submit} aria-label={signup ? "Sign up" : "Log in"}>
        <h1>{signup ? "Create your account" : "Log in"}</h1>
        <label>
          Email
          <input
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
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
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "…" : signup ? "Sign up" : "Log in"}
        </button>
        <p className="muted">
          {signup ? (
            <>
              Already have an account? <a href="#/login">Log in</a>
            </>
          ) : (
            <>
              New here? <a href="#/signup">Create an account</a>
            </>
          )}
        </p>
      </form>
    </div>
  );
}
