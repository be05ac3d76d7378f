/**
 * Folds a burst of order notices into one summary toast. A bot or a script placing 20 orders within a
 * second would otherwise get 20 toasts that push each other (and anything else) out of the stack.
 *
 * Notices are grouped by what happened (`event`: accepted, filled, cancelled, ...). A notice shows at once,
 * as its own toast, while fewer than `singles` notices of its event showed in the last `windowMs`. The next
 * one starts a burst: the toasts of that event still within the window are taken down and one summary toast
 * ("20 orders accepted on BTC-USDT") takes their place, counting them too. Every later notice of the event
 * updates that summary in place, for as long as they keep coming less than `windowMs` apart; after a quiet
 * `windowMs` a notice shows on its own again.
 *
 * Pure: the caller passes the time and applies the returned operations to its toasts (a `show` of a key
 * already on screen replaces that toast's content).
 */
import type { OrderNotice } from "./orderEvents";

/** How many notices of one event show one by one within BURST_WINDOW_MS before they fold into a summary. */
export const BURST_SINGLES = 3;
/** The window (ms) of a burst: notices of one event less than this apart belong to the same burst. */
export const BURST_WINDOW_MS = 1_000;

export interface ToastContent {
  kind: OrderNotice["kind"];
  title: string;
  body?: string;
}

export type ToastOp = { op: "show"; key: string; toast: ToastContent } | { op: "hide"; key: string };

interface Burst {
  key: string;
  kind: OrderNotice["kind"];
  count: number;
  /** per market, in the order they first came */
  perSymbol: Map<string, number>;
  lastMs: number;
}

interface EventState {
  /** the notices of this event shown one by one within the window: their toast key, market and time */
  recent: { key: string; symbol: string; atMs: number }[];
  burst: Burst | null;
}

export class NoticeBursts {
  private events = new Map<string, EventState>();
  private seq = 0;

  constructor(
    private readonly singles = BURST_SINGLES,
    private readonly windowMs = BURST_WINDOW_MS,
  ) {}

  /** What to do with the toasts for this notice, arriving at `nowMs`. */
  add(n: OrderNotice, nowMs: number): ToastOp[] {
    let state = this.events.get(n.event);
    if (!state) this.events.set(n.event, (state = { recent: [], burst: null }));
    const burst = state.burst;
    if (burst && nowMs - burst.lastMs < this.windowMs) {
      burst.count += 1;
      burst.perSymbol.set(n.symbol, (burst.perSymbol.get(n.symbol) ?? 0) + 1);
      burst.lastMs = nowMs;
      return [{ op: "show", key: burst.key, toast: summary(n.event, burst) }];
    }
    state.burst = null;
    state.recent = state.recent.filter((r) => nowMs - r.atMs < this.windowMs);
    if (state.recent.length < this.singles) {
      const key = `notice-${++this.seq}`;
      state.recent.push({ key, symbol: n.symbol, atMs: nowMs });
      return [{ op: "show", key, toast: { kind: n.kind, title: n.title, body: n.body } }];
    }
    const started: Burst = { key: `burst-${++this.seq}`, kind: n.kind, count: 0, perSymbol: new Map(), lastMs: nowMs };
    for (const { symbol } of [...state.recent, { symbol: n.symbol }]) {
      started.count += 1;
      started.perSymbol.set(symbol, (started.perSymbol.get(symbol) ?? 0) + 1);
    }
    const hide: ToastOp[] = state.recent.map((r) => ({ op: "hide", key: r.key }));
    state.recent = [];
    state.burst = started;
    return [...hide, { op: "show", key: started.key, toast: summary(n.event, started) }];
  }
}

/** "20 orders accepted on BTC-USDT"; over several markets "20 orders accepted" with "12 on BTC-USDT, 8 on
 * ETH-USDT" below. */
function summary(event: string, b: Burst): ToastContent {
  const count = b.count.toLocaleString("en-US");
  const markets = [...b.perSymbol.entries()];
  if (markets.length === 1) return { kind: b.kind, title: `${count} orders ${event} on ${markets[0][0]}` };
  return {
    kind: b.kind,
    title: `${count} orders ${event}`,
    body: markets.map(([symbol, k]) => `${k.toLocaleString("en-US")} on ${symbol}`).join(", "),
  };
}
