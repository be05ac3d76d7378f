/**
 * The login session. The refresh token lives in an httpOnly cookie that the server sets (login with
 * `refresh_cookie: true`), so no script on the page, an injected one included, can read it; the access
 * token lives in this tab's memory only. localStorage keeps just the email, as the sign that a session
 * exists: a reload, or another tab, gets its own access token by rotating the cookie. The access token is
 * refreshed shortly before it expires and on demand after a 401; a tiny observable store serves React
 * (`useSyncExternalStore`).
 */
import type { TokenPair } from "../api/types";

const KEY = "exchange.session";
const LOCK = "exchange.session.refresh";
const REFRESH_TIMEOUT_MS = 15_000;
// set when a logout could not reach the server: the cookie's token is revoked at the next start
const LOGOUT_PENDING = "exchange.logout";
// set (before the session's record goes) when the server refused a live session: other tabs tell it too
const ENDED = "exchange.session.ended";

/** What the user is told when a session ended other than by this browser's own "Log out". */
export const SESSION_ENDED_NOTICE =
  "You were logged out: this session was ended from another device, or it expired. Log in again.";

/** Why this tab's session ended: "logout" (this browser's own Log out: nothing to tell), "ended" (the server
 * refused a session this tab had been using: logged out from another device, a reused refresh token, an
 * admin or a password reset, or the refresh token expired), "expired" (a session this browser kept from
 * before, restored at page load, whose refresh the server refused: it expired, or its cookie is gone,
 * while no page was open). */
export type EndReason = "logout" | "ended" | "expired";

/** What the user is told, without leaving the page, when the session kept from before has expired. */
export const SESSION_EXPIRED_NOTICE = "Your session expired while the terminal was closed.";

/**
 * Why a session ended, from how (`cause`: this browser's logout, or the server refusing the refresh) and
 * whether it was in use (`live`: this tab held an access token of it, or the server answered
 * SESSION_ENDED): a refused live session "ended" (the login page says so), a refused restored one
 * "expired" (a notice on the page the trader opened).
 */
export function endReason(cause: "logout" | "refused", live: boolean): EndReason {
  if (cause === "logout") return "logout";
  return live ? "ended" : "expired";
}

export interface Session {
  email: string;
  /** "" while a restored session waits for its first refresh. */
  accessToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

type Listener = () => void;

let current: Session | null = restored();
const listeners = new Set<Listener>();
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<Session | null> | null = null;
let inflightGeneration = -1;
let generation = 0; // bumped when the session ends or changes account: older refresh answers are stale
let lastEnd: EndReason | null = null;

function stored(): { email?: unknown; refreshToken?: unknown } | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as { email?: unknown; refreshToken?: unknown } | null) : null;
  } catch {
    return null;
  }
}

function storedEmail(): string | null {
  const v = stored();
  return typeof v?.email === "string" ? v.email : null;
}

/**
 * The refresh token an earlier terminal kept in storage (it kept the whole session there). The next refresh
 * presents it once, asking for the cookie (`refresh_cookie: true`), so the session moves to the cookie; once
 * the server has answered, `dropLegacyToken` takes it out of storage, where any script could read it.
 */
function legacyToken(): string | null {
  const v = stored();
  return typeof v?.refreshToken === "string" ? v.refreshToken : null;
}

function dropLegacyToken(): void {
  const email = storedEmail();
  if (email) localStorage.setItem(KEY, JSON.stringify({ email }));
  else localStorage.removeItem(KEY);
}

function restored(): Session | null {
  const email = storedEmail();
  return email ? { email, accessToken: "", expiresAt: 0 } : null;
}

function emit(): void {
  for (const l of listeners) l();
}

export function getSession(): Session | null {
  return current;
}

/** Why the session last ended here, once: the next call returns null (the UI shows a notice for "ended"). */
export function takeEndReason(): EndReason | null {
  const r = lastEnd;
  lastEnd = null;
  return r;
}

export function subscribeSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** The `error.code` of an error answer, "" when it has none. */
async function errorCode(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } } | null;
    return typeof body?.error?.code === "string" ? body.error.code : "";
  } catch {
    return "";
  }
}

/**
 * Run `fn` holding the cross-tab session lock (Web Locks; directly where the API is missing). Every call
 * that changes the cookie (login, refresh, logout) runs under it: the server ends the session (every tab of
 * this browser) when a refresh token is presented twice, and an answer that sets the cookie must not land
 * after another tab's login or logout.
 */
export function withSessionLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? (locks.request(LOCK, fn) as Promise<T>) : fn();
}

/** Adopt the tokens of a login or refresh (call it under `withSessionLock`). */
export function setSession(email: string, tokens: TokenPair): Session {
  if (current?.email !== email) generation += 1;
  current = { email, accessToken: tokens.access_token, expiresAt: Date.now() + Number(tokens.expires_in) * 1000 };
  const record = JSON.stringify({ email });
  if (localStorage.getItem(KEY) !== record) localStorage.setItem(KEY, record); // (no token ever)
  localStorage.removeItem(LOGOUT_PENDING); // a new cookie replaced the one a failed logout left
  localStorage.removeItem(ENDED);
  lastEnd = null;
  schedule();
  emit();
  return current;
}

/** End the session here (`reason`: why, for `takeEndReason`; this browser's own logout by default). */
export function clearSession(reason: EndReason | null = "logout"): void {
  generation += 1; // a refresh answer arriving after this belongs to the old session
  current = null;
  lastEnd = reason;
  if (reason === "ended") localStorage.setItem(ENDED, "1");
  else localStorage.removeItem(ENDED);
  localStorage.removeItem(KEY);
  if (refreshTimer) clearTimeout(refreshTimer);
  emit();
}

/**
 * Get a new access token by rotating the cookie: one request shared by every caller of this tab that
 * needs it at the same moment, serialized with the other tabs' by the session lock. A 401 (cookie gone,
 * expired or revoked) ends the session; a network error keeps it for a later try.
 */
export function refreshSession(): Promise<Session | null> {
  if (inflight && inflightGeneration === generation) return inflight;
  if (!current) return Promise.resolve(null);
  const gen = generation;
  const email = current.email;
  const live = Boolean(current.accessToken); // a restored session has none until its first refresh
  const request = withSessionLock(async () => {
    if (gen !== generation) return null; // logged out or switched account meanwhile
    try {
      const legacy = legacyToken();
      const res = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: legacy ? JSON.stringify({ refresh_token: legacy, refresh_cookie: true }) : "{}",
        credentials: "same-origin",
        signal: timeout(REFRESH_TIMEOUT_MS), // the lock must not wait on a stalled network
      });
      if (legacy) dropLegacyToken(); // rotated, or refused: either way it is of no more use
      if (gen !== generation) return null; // logged out while the request was out: do not log back in
      if (res.ok) return setSession(email, (await res.json()) as TokenPair);
      if (res.status === 400 || res.status === 401 || res.status === 403) {
        // SESSION_ENDED: logged out from elsewhere, worth telling even if this page had only just opened
        const ended = (await errorCode(res)) === "SESSION_ENDED";
        if (gen !== generation) return null;
        clearSession(endReason("refused", live || ended));
      }
      return null;
    } catch {
      return null; // network trouble: keep the session, try again later
    }
  }).finally(() => {
    if (inflight === request) inflight = null;
  });
  inflight = request;
  inflightGeneration = gen;
  return request;
}

function timeout(ms: number): AbortSignal | undefined {
  return typeof AbortSignal.timeout === "function" ? AbortSignal.timeout(ms) : undefined;
}

function schedule(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  if (!current) return;
  const lifetime = Math.max(0, current.expiresAt - Date.now());
  // refresh at ~80% of the lifetime, at least 5 s ahead of expiry
  const due = Math.max(1000, Math.min(lifetime * 0.8, lifetime - 5000));
  refreshTimer = setTimeout(() => void refreshSession(), due);
}

/**
 * Log out: the session ends here at once, then the server revokes the cookie's refresh token and clears
 * the cookie, and ends the access token this tab held (it stops working at once, REST and WebSocket). If
 * the server cannot be reached, the cookie's revocation is retried at the next start (`startSession`), so
 * a cookie is never left valid just because the network failed (the access token, kept in memory only,
 * then simply expires).
 */
export function logOut(): Promise<void> {
  const accessToken = current?.accessToken ?? "";
  clearSession();
  return withSessionLock(() => revokeCookie(accessToken));
}

async function revokeCookie(accessToken = ""): Promise<void> {
  try {
    const res = await fetch("/api/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(accessToken ? { access_token: accessToken } : {}),
      credentials: "same-origin",
      signal: timeout(REFRESH_TIMEOUT_MS),
    });
    // 204: revoked and cleared; 401: no cookie left to revoke (and no live access token)
    if (res.status === 204 || res.status === 401) {
      localStorage.removeItem(LOGOUT_PENDING);
      return;
    }
  } catch {
    /* offline: below */
  }
  localStorage.setItem(LOGOUT_PENDING, "1");
}

/** Start the session restored from storage: its first access token comes from the cookie. */
export function startSession(): void {
  if (!current && localStorage.getItem(LOGOUT_PENDING)) void withSessionLock(() => revokeCookie());
  if (!current) return;
  if (!current.accessToken || current.expiresAt - Date.now() < 10_000) void refreshSession();
  else schedule();
}

// keep tabs in step: a logout elsewhere ends the session here; a login to another account elsewhere
// replaced the cookie, so this tab drops its token and takes one from the new cookie
if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key !== KEY && e.key !== null) return;
    const email = storedEmail();
    if (!email) {
      if (!current) return;
      generation += 1;
      // another tab logged out, or the server refused the session there (it marked that first)
      lastEnd = endReason(localStorage.getItem(ENDED) ? "refused" : "logout", Boolean(current.accessToken));
      current = null;
      if (refreshTimer) clearTimeout(refreshTimer);
      emit();
      return;
    }
    if (current?.email === email) return; // the same account: this tab's access token stays good
    generation += 1;
    current = { email, accessToken: "", expiresAt: 0 };
    if (refreshTimer) clearTimeout(refreshTimer);
    emit();
    void refreshSession();
  });
}
