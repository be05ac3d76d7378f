/**
 * The account panel's Devices tab: every live login session of the account (a browser, app or script
 * each, from `GET /api/auth/sessions`), which one is this device, and logging the others out, one
 * (`DELETE /api/auth/sessions/{id}`) or all of them in one step (`DELETE /api/auth/sessions`): their refresh
 * and access tokens stop working at once. This
 * device logs out with the header's "Log out", which also clears its cookie and the page's state. Below the
 * table: "Change password" (ChangePassword.tsx), which logs the other devices out too.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { LoginSession } from "../api/types";
import { compactTime, fullTime } from "../lib/cellText";
import { ChangePassword } from "./ChangePassword";
import { deviceName, logOutOthersPrompt } from "../lib/devices";
import { api, ApiError } from "../lib/http";
import { LatestLoad } from "../lib/paging";
import { errorText } from "../lib/userText";
import { useToasts } from "./Toasts";

const COLS = 5;

function endSession(id: string): Promise<void> {
  return api<void>("DELETE", `/api/auth/sessions/${encodeURIComponent(id)}`);
}

/** 404: the session is no longer live (logged out meanwhile, or expired): what logging it out wanted. */
function isGone(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

function message(e: unknown): string {
  return e instanceof ApiError ? errorText(e) : String(e);
}

export function Sessions() {
  const toasts = useToasts();
  const [rows, setRows] = useState<LoginSession[] | null>(null); // null until the first load answers
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set()); // logouts in flight, by session id
  const [bulk, setBulk] = useState(false);
  // sessions logged out from here: a list that was loading meanwhile must not bring them back
  const ended = useRef(new Set<string>());
  const load = useRef(new LatestLoad());

  const reload = useCallback(() => {
    const { signal, isLatest } = load.current.start();
    setLoading(true);
    api<LoginSession[]>("GET", "/api/auth/sessions", { signal }).then(
      (list) => {
        if (!isLatest()) return;
        setRows(list.filter((s) => !ended.current.has(s.id)));
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (!isLatest()) return;
        setError(message(e));
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    const loads = load.current;
    reload(); // each time the tab is shown
    return () => loads.cancel();
  }, [reload]);

  const markBusy = (ids: readonly string[], on: boolean) =>
    setBusy((prev) => {
      const next = new Set(prev);
      for (const id of ids) {
        if (on) next.add(id);
        else next.delete(id);
      }
      return next;
    });

  const gone = (ids: readonly string[]) => {
    for (const id of ids) ended.current.add(id);
    setRows((prev) => prev && prev.filter((s) => !ended.current.has(s.id)));
  };

  const logOutOne = async (s: LoginSession) => {
    const name = deviceName(s.user_agent);
    markBusy([s.id], true);
    try {
      await endSession(s.id);
      gone([s.id]);
      toasts.push("success", "Logged out", name);
    } catch (e) {
      if (isGone(e)) gone([s.id]); // already over: nothing left to log out
      else toasts.push("error", "Log out failed", message(e));
    } finally {
      markBusy([s.id], false);
    }
  };

  // "the others" only when this device's row is known: without it (a list read with a token of no session),
  // they could include this browser's own session
  const knowsThisDevice = (rows ?? []).some((s) => s.current);
  const others = knowsThisDevice ? (rows ?? []).filter((s) => !s.current) : [];
  const logOutOthers = async () => {
    const ids = others.map((s) => s.id);
    if (ids.length === 0 || !window.confirm(logOutOthersPrompt(ids.length))) return;
    setBulk(true);
    markBusy(ids, true);
    try {
      // every session but this one, whatever the list shows (it holds at most 100), in one request
      const r = await api<{ sessions_ended: number }>("DELETE", "/api/auth/sessions");
      gone(ids);
      const n = r.sessions_ended;
      toasts.push("success", `Logged out ${n.toLocaleString("en-US")} other device${n === 1 ? "" : "s"}`);
    } catch (e) {
      toasts.push("error", "Log out failed", message(e));
    } finally {
      markBusy(ids, false);
      setBulk(false);
      reload();
    }
  };

  return (
    <>
      <div className="table-tools">
        <button className="btn btn-small" onClick={reload} disabled={loading}>
          Refresh
        </button>
        <span className="spacer" />
        <button className="btn btn-small" onClick={logOutOthers} disabled={bulk || others.length === 0}>
          Log out all other devices
        </button>
      </div>
      {error && <p className="form-error table-note">{error}</p>}
      <div className="table-scroll">
        <table className="table sessions-table" data-testid="sessions">
          <caption className="sr-only">Devices logged in to this account</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col" className="col-roomy">
                IP address
              </th>
              <th scope="col" className="col-roomy">
                Signed in
              </th>
              <th scope="col" title="When the session last renewed its access token: every few minutes while a terminal is open on it">
                Last active
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(rows ?? []).map((s) => {
              const name = deviceName(s.user_agent);
              const where = s.ip || "unknown IP";
              return (
                <tr key={s.id} data-session-id={s.id} data-current={s.current ? "1" : undefined} className={s.current ? "current" : undefined}>
                  <th scope="row" className="device" title={s.user_agent || undefined}>
                    {name}
                    {s.current && (
                      <span className="badge ok" data-testid="this-device">
                        This device
                      </span>
                    )}
                    {/* where the IP and Signed in columns do not fit (a phone), under the name */}
                    <span className="device-more muted small">
                      {s.ip || "—"} · signed in {compactTime(s.created_at)}
                    </span>
                  </th>
                  <td className="col-roomy">{s.ip || "—"}</td>
                  <td className="col-roomy" title={fullTime(s.created_at)}>
                    {compactTime(s.created_at)}
                  </td>
                  <td title={fullTime(s.last_used_at)}>{compactTime(s.last_used_at)}</td>
                  <td className="num">
                    {!s.current && (
                      <button
                        className="btn btn-small"
                        onClick={() => logOutOne(s)}
                        disabled={busy.has(s.id)}
                        aria-label={`Log out ${name} (${where})`}
                      >
                        Log out
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
            {rows !== null && rows.length === 0 && (
              <tr>
                <td colSpan={COLS} className="muted center">
                  No devices logged in
                </td>
              </tr>
            )}
            {rows === null && !error && (
              <tr>
                <td colSpan={COLS} className="muted center">
                  Loading…
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <p className="muted small table-note">
        Each login (a browser, app or script) is listed as a device. Logging one out ends it at once: it has to
        log in again. To log out here, use Log out at the top.
      </p>
      <ChangePassword onChanged={reload} />
    </>
  );
}
