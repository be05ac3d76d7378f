/**
 * Order book price grouping, as trading terminals offer it (0.01 / 0.1 / 1 / 10): the levels of a side
 * merged into buckets of `step`. A bid bucket is shown at its lower edge and an ask bucket at its upper
 * edge, so a grouped bid never shows above the real bids nor a grouped ask below the real asks (the
 * grouped book is never crossed). Exact decimals.
 */
import type { Level } from "./bookSync";
import { add, dec, decimalsOf, div, mul, toPlain, type Dec } from "./money";

/** The steps offered for a market: its tick, then 10x, 100x and 1000x it. */
export function groupSteps(tickSize: string): string[] {
  const tick = dec(tickSize);
  return [1, 10, 100, 1000].map((k) => toPlain(mul(tick, dec(k))));
}

/** The decimals a grouped price shows: the step's (0.1 -> 1, 10 -> 0). */
export function groupDecimals(step: string): number {
  return decimalsOf(step);
}

/** The bucket price of `price` for a side: down to the step for bids, up for asks. */
export function bucketPrice(price: Dec, step: Dec, side: "bids" | "asks"): Dec {
  const n = div(price, step, 0, side === "bids" ? "down" : "up");
  return mul(n, step);
}

/** The levels (best first) merged into buckets of `step`, best first, at most `depth` of them, with their
 * cumulative quantity recomputed. `step` equal to the tick gives the levels back unchanged. */
export function groupLevels(levels: Level[], step: string, side: "bids" | "asks", depth: number): Level[] {
  const s = dec(step);
  const out: { price: Dec; qty: Dec }[] = [];
  for (const l of levels) {
    const p = bucketPrice(dec(l.price), s, side);
    const last = out.at(-1);
    if (last && toPlain(last.price) === toPlain(p)) last.qty = add(last.qty, dec(l.qty));
    else {
      if (out.length === depth) break;
      out.push({ price: p, qty: dec(l.qty) });
    }
  }
  let total: Dec = dec(0);
  return out.map((b) => {
    total = add(total, b.qty);
    return { price: toPlain(b.price), qty: toPlain(b.qty), cumulative: toPlain(total) };
  });
}
