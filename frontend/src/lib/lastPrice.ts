/**
 * The trade page's live last price: the trades tape (`trades:SYM`, pushed as trades happen) and the
 * ticker (`tickers`, which the server sends about once a second) both say what the last price is; the
 * tape is newer.
 *
 * The rule, `liveTicker`: once a trade of the market has been seen, the newest one (highest id) gives the
 * last price; the ticker gives it only while no trade is known. A ticker carries neither a trade id nor a
 * time, so its `last` cannot be ordered against a trade's: a ticker computed before the newest trade
 * would move the header back, then forward again at the next one (a flicker). The newest trade only moves
 * forward (ids increase), so the header cannot flicker; and it always shows what the tape's top row does.
 *
 * The 24h fields stay the ticker's, except where the new last must show at once to be consistent with
 * them: the 24h change (and with it the up/down colour) is recomputed from the ticker's 24h open as the
 * server does, and the 24h high and low widen to include the last. Volumes wait for the next ticker.
 */
import type { Ticker, Trade } from "../api/types";
import { cmp, parse, sub, toPlain, type Dec } from "./money";

/** `incoming` merged into `prev`: the newest trades first (by id), no id twice, at most `keep`. */
export function mergeTrades(prev: readonly Trade[], incoming: readonly Trade[], keep: number): Trade[] {
  const all = [...incoming, ...prev];
  const seen = new Set<string>();
  const out: Trade[] = [];
  for (const t of all.sort((a, b) => Number(b.id) - Number(a.id))) {
    const k = String(t.id);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(t);
    if (out.length >= keep) break;
  }
  return out;
}

/** The ticker with the newest trade's price as its last (see the module comment). `newest` must be a
 * trade of the ticker's market. With no trade, the ticker as it is; with no ticker yet, only the last. */
export function liveTicker(symbol: string, ticker: Ticker | undefined, newest: Trade | null | undefined): Ticker | undefined {
  const price = newest ? parse(newest.price) : null;
  if (!newest || !price) return ticker;
  if (!ticker) {
    return {
      symbol,
      last: newest.price,
      open_24h: null,
      high_24h: null,
      low_24h: null,
      volume_24h: "0",
      quote_volume_24h: "0",
      change_24h_pct: null,
      best_bid: null,
      best_ask: null,
    };
  }
  const last = parse(ticker.last);
  if (last && cmp(last, price) === 0) return ticker; // the ticker already says it: keep its own strings
  const high = parse(ticker.high_24h);
  const low = parse(ticker.low_24h);
  return {
    ...ticker,
    last: newest.price,
    change_24h_pct: changePct(price, parse(ticker.open_24h)) ?? ticker.change_24h_pct,
    high_24h: high && cmp(price, high) > 0 ? newest.price : ticker.high_24h,
    low_24h: low && cmp(price, low) < 0 ? newest.price : ticker.low_24h,
  };
}

/** The 24h change in percent as the server computes it: (last - open) * 100 / open, rounded half to even
 * at 2 decimals, trailing zeros dropped ("0" for zero). Null without a positive open. */
export function changePct(last: Dec, open: Dec | null): string | null {
  if (!open || open.coef <= 0n) return null;
  const diff = sub(last, open);
  // diff * 100 / open at scale 2: coefficient diff.coef * 10^4 * 10^open.scale / (open.coef * 10^diff.scale)
  const n = diff.coef * 10n ** BigInt(4 + open.scale);
  const d = open.coef * 10n ** BigInt(diff.scale);
  let q = n / d; // truncated toward zero
  const r = n % d;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice > d || (twice === d && q % 2n !== 0n)) q += n < 0n ? -1n : 1n;
  return toPlain({ coef: q, scale: 2 }); // normalized, as the server writes it: "4", "-0.5", "0"
}
