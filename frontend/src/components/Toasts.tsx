import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type CSSProperties, type ReactNode } from "react";
import { toastEdge, type ToastEdge } from "../lib/toastEdge";

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

/** Where the toasts go on a phone (lib/toastEdge.ts), and how far down the top edge is: under the header. On a
 * desktop's trade page, `chart`: the box over the chart they go in (styles.css), else null. */
interface Placement {
  edge: ToastEdge;
  topPx: number;
  chart: { left: number; top: number; width: number } | null;
}

/** The desktop grids (styles.css): wider than 959 px. */
const DESKTOP = "(min-width: 960px)";

/** On a desktop's trade page, the toasts' box over the chart's plot, its top left corner under the chart's
 * head (never above the header's bottom, `headerBottom`); null elsewhere, or where the chart is scrolled
 * out of sight. */
function overChart(headerBottom: number): Placement["chart"] {
  if (!window.matchMedia(DESKTOP).matches) return null;
  const plot = document.querySelector(".chart-box")?.getBoundingClientRect();
  if (!plot || plot.width < 240) return null;
  const top = Math.max(plot.top, headerBottom) + 8;
  if (plot.bottom - top < 120) return null; // hardly any of the chart in sight: the corner of the window
  // the price scale (about 60 px at the right) stays clear, with the last price on it
  return { left: Math.round(plot.left + 8), top: Math.round(top), width: Math.round(Math.min(340, plot.width - 80)) };
}

/** The placement away from `inUse`, the control the user last touched or focused (null: none). */
function placeAwayFrom(inUse: Element | null): Placement {
  const el = inUse?.isConnected ? inUse : document.activeElement;
  const span = el && el !== document.body && el !== document.documentElement ? el.getBoundingClientRect() : null;
  const header = Math.max(0, document.querySelector("header.topbar")?.getBoundingClientRect().bottom ?? 0);
  return { edge: toastEdge(span, window.innerHeight), topPx: Math.round(header) + 8, chart: overChart(header) };
}

function samePlace(a: Placement, b: Placement): boolean {
  const c = a.chart, d = b.chart;
  const sameChart = c === d || (c !== null && d !== null && c.left === d.left && c.top === d.top && c.width === d.width);
  return a.edge === b.edge && a.topPx === b.topPx && sameChart;
}

/** Whether an Escape pressed at `target` is a dialog's to handle (closing it), not the toasts'. */
function escapeBelongsElsewhere(target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false;
  return target.closest("dialog, [role=dialog], [role=alertdialog], [aria-modal=true]") !== null;
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [place, setPlace] = useState<Placement>({ edge: "bottom", topPx: 8, chart: null });
  const replace = useCallback((p: Placement) => setPlace((q) => (samePlace(q, p) ? q : p)), []);
  // the control the user last touched or focused (not a toast's): the toasts keep away from it
  const inUse = useRef<Element | null>(null);
  const shown = useRef(0);
  shown.current = toasts.length;
  useEffect(() => {
    const note = (e: Event) => {
      if (!(e.target instanceof Element) || e.target.closest(".toasts")) return;
      inUse.current = e.target;
      if (shown.current > 0) replace(placeAwayFrom(e.target)); // the user went to work under them: they move
    };
    // over the chart, they follow it as the page scrolls or the window changes size
    const follow = () => {
      if (shown.current > 0) replace(placeAwayFrom(inUse.current));
    };
    document.addEventListener("pointerdown", note, true);
    document.addEventListener("focusin", note, true);
    window.addEventListener("scroll", follow, { passive: true });
    window.addEventListener("resize", follow);
    return () => {
      document.removeEventListener("pointerdown", note, true);
      document.removeEventListener("focusin", note, true);
      window.removeEventListener("scroll", follow);
      window.removeEventListener("resize", follow);
    };
  }, [replace]);
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
      replace(placeAwayFrom(inUse.current));
      const toast = { id, kind, title, body };
      // a keyed toast pushed out of the stack meanwhile comes back, as the newest
      setToasts((t) => (t.some((x) => x.id === id) ? t.map((x) => (x.id === id ? toast : x)) : [...t, toast].slice(-MAX_TOASTS)));
    },
    [dismiss, replace],
  );
  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach((t) => clearTimeout(t));
  }, []);
  // Escape takes every toast down (as it closes a popup), unless something handled that key already (React's
  // handlers, on the root, run before this one on the document: one that calls preventDefault keeps the
  // toasts) or the focus is in a dialog, whose own Escape it is
  const dismissAll = useCallback(() => {
    for (const t of timers.current.values()) clearTimeout(t);
    timers.current.clear();
    byKey.current.clear();
    setToasts([]);
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || e.defaultPrevented || shown.current === 0 || escapeBelongsElsewhere(e.target)) return;
      dismissAll();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [dismissAll]);
  const value = useMemo(() => ({ push, dismissKey }), [push, dismissKey]);
  return (
    <Ctx.Provider value={value}>
      {children}
      {/* on a phone at the bottom, or at the top under the header (data-edge, styles.css): away from the
          control in use; on a desktop's trade page over the chart (data-anchor). The container lets taps
          through; a toast itself takes them (its × dismisses it) */}
      <div
        className="toasts"
        role="status"
        aria-live="polite"
        data-edge={place.edge}
        data-anchor={place.chart ? "chart" : undefined}
        style={
          {
            "--toasts-top": `${place.topPx}px`,
            ...(place.chart && {
              "--toasts-chart-left": `${place.chart.left}px`,
              "--toasts-chart-top": `${place.chart.top}px`,
              "--toasts-chart-width": `${place.chart.width}px`,
            }),
          } as CSSProperties
        }
      >
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
