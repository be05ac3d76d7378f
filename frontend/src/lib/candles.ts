/**
 * Candle bookkeeping for the chart, independent of the chart library: bars ascending by `t` with unique
 * times. lightweight-charts throws when `update()` gets a bar older than its last one, so every live bar
 * goes through `liveAction` first.
 */
import type { Candle } from "../api/types";

/** Sort ascending by time, the last one of equal times winning. */
export function normalize(list: readonly Candle[]): Candle[] {
  const byT = new Map<number, Candle>();
  for (const c of list) if (Number.isFinite(Number(c.t))) byT.set(Number(c.t), c);
  return [...byT.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

export type LiveAction = "replace" | "append" | "ignore";

/** What a live bar does to `data`: replace the last bar, append a newer one, or (older) be ignored. */
export function liveAction(data: readonly Candle[], bar: Candle): LiveAction {
  const t = Number(bar.t);
  if (!Number.isFinite(t)) return "ignore";
  if (data.length === 0) return "append";
  const last = Number(data[data.length - 1].t);
  if (t < last) return "ignore";
  return t === last ? "replace" : "append";
}

/** Apply a live bar in place; returns what happened. */
export function applyLive(data: Candle[], bar: Candle): LiveAction {
  const action = liveAction(data, bar);
  if (action === "replace") data[data.length - 1] = bar;
  else if (action === "append") data.push(bar);
  return action;
}

/** Older bars (a page fetched with `end=`) in front of `data`; only those strictly older are kept. */
export function prependOlder(data: readonly Candle[], older: readonly Candle[]): { data: Candle[]; added: number } {
  if (data.length === 0) return { data: normalize(older), added: normalize(older).length };
  const first = Number(data[0].t);
  const kept = normalize(older).filter((c) => Number(c.t) < first);
  return { data: [...kept, ...data], added: kept.length };
}

/** The `end` of the page just before `data`: the API returns bars whose open time is strictly before it. */
export function olderPageEnd(data: readonly Candle[]): number | null {
  return data.length ? Number(data[0].t) : null;
}
