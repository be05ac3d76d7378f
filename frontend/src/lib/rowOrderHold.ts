/**
 * A live-sorted list that holds still under the trader's hand. Sorted by a live column (24h change, last
 * price), the markets list re-sorted on every ticker, and a row moved away as the finger or the pointer came
 * down on it. While the pointer is over the list, or a finger on it, and for a moment after it leaves, the
 * rows keep their order (their figures still update); then they re-sort with the latest data. Choosing a
 * sort (a header click) re-sorts at once, and that order is the one held.
 */
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, type TouchEvent } from "react";

/** How long the order stays held after the pointer left or the finger lifted (ms). */
export const ROW_ORDER_RELEASE_MS = 1_500;

/** What holds the order: a pointer over the list (a mouse, or a touch while it is down), or a finger on it
 * (touch events go on while the finger scrolls, after the browser has cancelled its pointer). */
export type HoldSource = "pointer" | "touch";

/** The held order brought up to date: rows no longer listed (filtered out) go, new ones come at the end in
 * their live order; nothing else moves. */
export function heldOrder(live: readonly string[], held: readonly string[]): string[] {
  const present = new Set(live);
  const kept = held.filter((k) => present.has(k));
  const keptSet = new Set(kept);
  return [...kept, ...live.filter((k) => !keptSet.has(k))];
}

export class RowOrderHold {
  private held: readonly string[] | null = null;
  private readonly sources = new Set<HoldSource>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `changed`: the order to show changed on its own (released after the pause): render again. */
  constructor(
    private readonly changed: () => void,
    private readonly releaseMs: number = ROW_ORDER_RELEASE_MS,
  ) {}

  /** Whether the order is held now (a hand on the list, or the pause after it left). */
  get holding(): boolean {
    return this.sources.size > 0 || this.timer !== null;
  }

  /** The order to show for the live (sorted) order: the live one, or, while held, the held one. */
  arrange(live: readonly string[]): string[] {
    return this.held ? heldOrder(live, this.held) : [...live];
  }

  /** A hand came on the list: `shown`, the order on screen now, stays until it has left for the pause. */
  hold(source: HoldSource, shown: readonly string[]): void {
    this.sources.add(source);
    this.stopTimer();
    this.held ??= [...shown];
  }

  /** A hand left: once none is left, the order is let go after the pause (unless one comes back). */
  release(source: HoldSource): void {
    this.sources.delete(source);
    if (this.sources.size > 0 || this.held === null) return;
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.held = null;
      this.changed();
    }, this.releaseMs);
  }

  /** A new sort was chosen: the next render shows the live order, which `settle` then holds if a hand is on
   * the list. */
  resort(): void {
    this.held = null;
  }

  /** After each render: while held with no order kept (a sort was just chosen), keep the one on screen. */
  settle(shown: readonly string[]): void {
    if (this.held === null && this.holding) this.held = [...shown];
  }

  dispose(): void {
    this.stopTimer();
    this.sources.clear();
    this.held = null;
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** `order`: the keys in the order to show for `live`; `handlers`: for the list's element; `resort`: call
 * when the trader chooses a sort. */
export function useRowOrderHold(live: readonly string[]) {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const hold = useMemo(() => new RowOrderHold(rerender), []);
  useEffect(() => () => hold.dispose(), [hold]);
  const order = hold.arrange(live);
  const shown = useRef(order);
  useLayoutEffect(() => {
    shown.current = order;
    hold.settle(order);
  });
  const handlers = useMemo(
    () => ({
      onPointerEnter: () => hold.hold("pointer", shown.current),
      onPointerLeave: () => hold.release("pointer"),
      onTouchStart: () => hold.hold("touch", shown.current),
      // the last finger lifted, not just one of two
      onTouchEnd: (e: TouchEvent) => e.touches.length === 0 && hold.release("touch"),
      onTouchCancel: (e: TouchEvent) => e.touches.length === 0 && hold.release("touch"),
    }),
    [hold],
  );
  return { order, handlers, resort: () => hold.resort() };
}
