import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

export type ToastKind = "info" | "success" | "error" | "warn";

export interface Toast {
  id: number;
  kind: ToastKind;
  title: string;
  body?: string;
}

interface ToastApi {
  /** Shows a toast for a few seconds. With a `key` already on screen, that toast's content is replaced in
   * place and its few seconds start again (a summary that keeps counting). */
  push: (kind: ToastKind, title: string, body?: string, key?: string) => void;
  /** Takes down the toast shown with this key, if it is still there. */
  dismissKey: (key: string) => void;
}

const Ctx = createContext<ToastApi>({ push: () => undefined, dismissKey: () => undefined });

/** How long a toast stays (ms): long enough to read, short enough not to cover the page for good. */
export const TOAST_MS = { error: 8_000, other: 5_000 };
/** At most this many toasts at once; a newer one pushes out the oldest. */
const MAX_TOASTS = 5;

export function useToasts(): ToastApi {
  return useContext(Ctx);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());
  const byKey = useRef(new Map<string, number>()); // key -> id of the toast on screen
  const dismiss = useCallback((id: number) => {
    clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    for (const [k, v] of byKey.current) if (v === id) byKey.current.delete(k);
    setToasts((t) => t.filter((x) => x.id !== id));
  }, []);
  const dismissKey = useCallback(
    (key: string) => {
      const id = byKey.current.get(key);
      if (id !== undefined) dismiss(id);
    },
    [dismiss],
  );
  const push = useCallback(
    (kind: ToastKind, title: string, body?: string, key?: string) => {
      const known = key === undefined ? undefined : byKey.current.get(key);
      const id = known ?? next.current++;
      if (key !== undefined) byKey.current.set(key, id);
      clearTimeout(timers.current.get(id));
      timers.current.set(id, setTimeout(() => dismiss(id), kind === "error" ? TOAST_MS.error : TOAST_MS.other));
      const toast = { id, kind, title, body };
      // a keyed toast pushed out of the stack meanwhile comes back, as the newest
      setToasts((t) => (t.some((x) => x.id === id) ? t.map((x) => (x.id === id ? toast : x)) : [...t, toast].slice(-MAX_TOASTS)));
    },
    [dismiss],
  );
  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach((t) => clearTimeout(t));
  }, []);
  const value = useMemo(() => ({ push, dismissKey }), [push, dismissKey]);
  return (
    <Ctx.Provider value={value}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast">
            <div className="toast-text">
              <strong>{t.title}</strong>
              {t.body && <span>{t.body}</span>}
            </div>
            <button className="toast-close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}
