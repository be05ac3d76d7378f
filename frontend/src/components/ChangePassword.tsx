/**
 * "Change password", under the Devices tab's table: the current password and the new one twice
 * (`POST /api/auth/password`). A change logs every other device out (their tokens stop working at once);
 * this one stays logged in. The form checks lengths and the repeat before sending; the server's refusals
 * (a wrong current password, a password guessers try first) are said under it as they come.
 */
import { useState, type FormEvent } from "react";
import { api, ApiError } from "../lib/http";
import { useSession } from "../lib/hooks";
import { passwordChangedText, passwordChangeError, passwordFormProblem } from "../lib/passwordChange";
import { useToasts } from "./Toasts";

export function ChangePassword(props: { onChanged: () => void }) {
  const session = useSession();
  const toasts = useToasts();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<{ text: string; code?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const edit = (set: (v: string) => void) => (e: { target: { value: string } }) => {
    set(e.target.value);
    setProblem(null);
  };

  // name, label, autocomplete (what a password manager fills), value, setter
  const fields: [string, string, string, string, (v: string) => void][] = [
    ["current_password", "Current password", "current-password", current, setCurrent],
    ["new_password", "New password", "new-password", next, setNext],
    ["confirm_password", "Repeat new password", "new-password", confirm, setConfirm],
  ];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local = passwordFormProblem({ current, next, confirm });
    if (local) {
      setProblem({ text: local });
      return;
    }
    setBusy(true);
    try {
      const r = await api<{ sessions_ended: number }>("POST", "/api/auth/password", {
        body: { current_password: current, new_password: next },
      });
      setCurrent("");
      setNext("");
      setConfirm("");
      setProblem(null);
      toasts.push("success", "Password changed", passwordChangedText(r.sessions_ended));
      props.onChanged();
    } catch (err) {
      setProblem(err instanceof ApiError ? { text: passwordChangeError(err), code: err.code } : { text: String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="password-change">
      <summary>Change password</summary>
      <form onSubmit={submit} data-testid="password-change" noValidate>
        {/* for password managers: which account the new password is for */}
        <input type="email" name="username" autoComplete="username" value={session?.email ?? ""} readOnly hidden />
        {fields.map(([name, label, autoComplete, value, set]) => (
          <label key={name}>
            {label}
            <input
              name={name}
              type="password"
              autoComplete={autoComplete}
              value={value}
              onChange={edit(set)}
            />
          </label>
        ))}
        {problem && (
          <p className="form-error" role="alert" data-testid="password-change-error" data-code={problem.code}>
            {problem.text}
          </p>
        )}
        <button className="btn btn-small" type="submit" disabled={busy}>
          {busy ? "…" : "Change password"}
        </button>
        <p className="muted small">Every other device is logged out; this one stays logged in.</p>
      </form>
    </details>
  );
}
