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
 * The fills of one order (notices with its `orderId`: partially filled, filled, the rest expired) share one
 * toast, updated in place: a resting order that the other side takes bit by bit says "Order partially
 * filled: 0.01 of BUY 0.05 …", then "0.02 of …", then "Order filled" in that one toast, not a new toast
 * each (three fills of one order covered the trades tape for seconds). Such an update is not a new notice:
 * it never starts a burst on its own, and an order a burst's summary counts already is not counted again.
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
  /** the orders counted (those whose notices carry an `orderId`): a later fill of one is not a new order */
  orders: Set<string>;
  lastMs: number;
}

/** A notice shown on its own within the window: its toast key, market, time and order (for fills). */
interface Recent {
  key: string;
  symbol: string;
  atMs: number;
  orderId?: string;
}

interface EventState {
  /** the notices of this event shown one by one within the window */
  recent: Recent[];
  burst: Burst | null;
}

/** How many orders' toast keys are remembered (an order's later fills update its toast). */
const ORDER_KEYS_KEPT = 2_000;

export class NoticeBursts {
  private events = new Map<string, EventState>();
  /** the key of each order's own toast (its fills), until a summary takes it over */
  private orderKeys = new Map<string, string>();
  private seq = 0;

  constructor(
    private readonly singles = BURST_SINGLES,
    private readonly windowMs = BURST_WINDOW_MS,
  ) {}

  /** What to do with the toasts for this notice, arriving at `nowMs`. */
  add(n: OrderNotice, nowMs: number): ToastOp[] {
    let state = this.events.get(n.event);
    if (!state) this.events.set(n.event, (state = { recent: [], burst: null }));
    const order = n.orderId;
    // the order's own toast (an earlier fill of it): this notice replaces its content, wherever it was counted
    const own = order === undefined ? undefined : this.orderKeys.get(order);
    if (own !== undefined) for (const s of this.events.values()) s.recent = s.recent.filter((r) => r.key !== own);
    const burst = state.burst;
    if (burst && nowMs - burst.lastMs < this.windowMs) {
      burst.lastMs = nowMs;
      // an order the summary counts already: its toast stays up, with the same count
      if (order !== undefined && burst.orders.has(order)) return [{ op: "show", key: burst.key, toast: summary(n.event, burst) }];
      burst.count += 1;
      burst.perSymbol.set(n.symbol, (burst.perSymbol.get(n.symbol) ?? 0) + 1);
      if (order !== undefined) burst.orders.add(order);
      const hide: ToastOp[] = own === undefined ? [] : [{ op: "hide", key: own }];
      this.forgetKeys(hide);
      return [...hide, { op: "show", key: burst.key, toast: summary(n.event, burst) }];
    }
    state.burst = null;
    state.recent = state.recent.filter((r) => nowMs - r.atMs < this.windowMs);
    if (state.recent.length < this.singles) {
      const key = own ?? `notice-${++this.seq}`;
      state.recent.push({ key, symbol: n.symbol, atMs: nowMs, orderId: order });
      if (order !== undefined) this.rememberKey(order, key);
      return [{ op: "show", key, toast: { kind: n.kind, title: n.title, body: n.body } }];
    }
    const started: Burst = {
      key: `burst-${++this.seq}`, kind: n.kind, count: 0, perSymbol: new Map(), orders: new Set(), lastMs: nowMs,
    };
    for (const { symbol, orderId } of [...state.recent, { symbol: n.symbol, orderId: order }]) {
      started.count += 1;
      started.perSymbol.set(symbol, (started.perSymbol.get(symbol) ?? 0) + 1);
      if (orderId !== undefined) started.orders.add(orderId);
    }
    const hide: ToastOp[] = [...state.recent.map((r) => r.key), ...(own === undefined ? [] : [own])].map((key) => ({
      op: "hide",
      key,
    }));
    this.forgetKeys(hide);
    state.recent = [];
    state.burst = started;
    return [...hide, { op: "show", key: started.key, toast: summary(n.event, started) }];
  }

  private rememberKey(order: string, key: string): void {
    this.orderKeys.delete(order); // re-inserted: the oldest orders go first
    this.orderKeys.set(order, key);
    if (this.orderKeys.size > ORDER_KEYS_KEPT) this.orderKeys.delete(this.orderKeys.keys().next().value as string);
  }

  /** Toasts a summary took over: their orders' next fills are notices of their own again. */
  private forgetKeys(hidden: ToastOp[]): void {
    const keys = new Set(hidden.map((op) => op.key));
    for (const [order, key] of this.orderKeys) if (keys.has(key)) this.orderKeys.delete(order);
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
