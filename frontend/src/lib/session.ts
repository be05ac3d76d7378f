/**
 * The login session: tokens kept in localStorage so a reload keeps you logged in, a silent refresh
 * shortly before the access token expires (and on demand after a 401), and a tiny observable store for
 * React (`useSyncExternalStore`).
 */
import type { TokenPair } from "../api/types";

const KEY = "exchange.session";
const REFRESH_LOCK = "exchange.session.refresh";

export interface Session {
  email: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
}

type Listener = () => void;

let current: Session | null = load();
const listeners = new Set<Listener>();
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<Session | null> | null = null;
let generation = 0; // bumped by clearSession

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s && typeof s.refreshToken === "string" ? s : null;
  } catch {
    return null;
  }
}

function emit(): void {
  for (const l of listeners) l();
}

export function getSession(): Session | null {
  return current;
}

export function subscribeSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function setSession(email: string, tokens: TokenPair): Session {
  current = {
    email,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: Date.now() + Number(tokens.expires_in) * 1000,
  };
  localStorage.setItem(KEY, JSON.stringify(current));
  schedule();
  emit();
  return current;
}

export function clearSession(): void {
  generation += 1; // a refresh answer arriving after this belongs to the old session
  current = null;
  localStorage.removeItem(KEY);
  if (refreshTimer) clearTimeout(refreshTimer);
  emit();
}

function adopt(stored: Session): Session {
  current = stored;
  schedule();
  emit();
  return stored;
}

/** Run `fn` holding the cross-tab refresh lock (Web Locks), or directly where the API is missing. */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? (locks.request(REFRESH_LOCK, fn) as Promise<T>) : fn();
}

/**
 * Rotate the tokens once, shared by every caller of this tab that needs it at the same moment, and by
 * every tab: the server revokes all of an account's refresh tokens when one is presented twice, and two
 * tabs schedule their refresh from the same expiry. So the rotation runs under a cross-tab lock, and a tab
 * that finds another tab's rotation in storage once it holds the lock adopts it instead of rotating again.
 */
export function refreshSession(): Promise<Session | null> {
  if (inflight) return inflight;
  if (!current) return Promise.resolve(null);
  const before = current.refreshToken;
  const gen = generation;
  inflight = withRefreshLock(async () => {
    const stored = load();
    if (gen !== generation || !current) return null; // logged out meanwhile
    if (stored && stored.refreshToken !== before) return adopt(stored); // another tab rotated
    const s = current;
    try {
      const res = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refreshToken }),
      });
      if (gen !== generation) return null; // logged out while the request was out: do not log back in
      if (res.ok) return setSession(s.email, (await res.json()) as TokenPair);
      // without Web Locks another tab may still have rotated first: adopt what it stored
      const latest = load();
      if (latest && latest.refreshToken !== s.refreshToken) return adopt(latest);
      if (res.status === 400 || res.status === 401 || res.status === 403) clearSession();
      return null;
    } catch {
      return null; // network trouble: keep the session, try again later
    }
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

function schedule(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  if (!current) return;
  const lifetime = Math.max(0, current.expiresAt - Date.now());
  // refresh at ~80% of the lifetime, at least 5 s ahead of expiry
  const due = Math.max(1000, Math.min(lifetime * 0.8, lifetime - 5000));
  refreshTimer = setTimeout(() => void refreshSession(), due);
}

/** Start the refresh timer for a session restored from storage (refreshing at once if it expired). */
export function startSession(): void {
  if (!current) return;
  if (current.expiresAt - Date.now() < 10_000) void refreshSession();
  else schedule();
}

// keep tabs in step: a login, refresh or logout elsewhere applies here too
if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key !== KEY) return;
    current = load();
    if (!current) generation += 1; // logged out in another tab
    schedule();
    emit();
  });
}
