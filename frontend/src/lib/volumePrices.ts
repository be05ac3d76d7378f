/**
 * "Prices for a volume": what buying and what selling an amount would cost now, from
 * `GET /api/markets/{symbol}/estimate?qty=` (the server walks 500 levels a side with the engine's rounding).
 * This module checks the typed amount before asking, and turns an answer into display rows.
 */
import type { Estimate, Market } from "../api/types";
import { ambiguousComma, cmp, commaQuestion, dec, format, formatFixed, isMultiple, isPositive, parse, toPlain } from "./money";

// digits as the order form takes them (".5" and "5." too); sent to the server in its plain form
const PLAIN = /^\d{0,20}(\.\d{0,18})?$/;

/** Why `text` cannot be estimated (null when it can): the same rules the server applies, in the order
 * form's words (lib/orderForm.ts checkOrder), so the two amount fields answer alike. */
export function volumeProblem(text: string, m: Market): string | null {
  const t = text.trim();
  if (t === "") return "Enter an amount";
  if (ambiguousComma(t)) return commaQuestion(t);
  const d = parse(t);
  if (d === null) return "Amount is not a number";
  if (!isPositive(d)) return "Amount must be a positive number";
  if (!PLAIN.test(t.replace(/^\+/, ""))) return "Amount is not a number";
  if (!isMultiple(d, m.lot_size)) return `Amount must be a multiple of ${m.lot_size}`;
  if (cmp(d, dec(m.max_qty)) > 0) return `Maximum amount is ${m.max_qty} ${m.base}`;
  return null;
}

/** The amount as the server takes it ("1.50" -> "1.5", ".5" -> "0.5"), for text `volumeProblem` accepts. */
export function volumeQuery(text: string): string {
  const d = parse(text.trim());
  return d ? toPlain(d) : text.trim();
}

export interface VolumeRow {
  side: "buy" | "sell";
  label: string;
  avgPrice: string;
  worstPrice: string;
  total: string;
  /** What the book cannot fill, as text ("only 0.5 BTC available"), or null when it fills all. */
  shortfall: string | null;
}

/** Display rows (buy first) of an estimate, with the market's price and quote precision. The average price is
 * at the price decimals, as every other price of the terminal (the book, the order form's market estimate,
 * the order history); the server's is finer (quote / qty), so it is rounded against the trader, as the order
 * form rounds what it promises: what a buy pays up, what a sell gets down (a buy averaging 60,000.001 reads
 * 60,000.01, never a price better than it gets). */
export function volumeRows(e: Estimate, m: Market, priceDecimals: number, quoteDecimals: number): VolumeRow[] {
  return (["buy", "sell"] as const).map((side) => {
    const s = e[side];
    // what the figures cover: all of the volume, or only what the book holds of it ("0.01261 of 5")
    const covered = s.complete ? e.qty : `${s.filled_qty} of ${e.qty}`;
    return {
      side,
      label: `${side === "buy" ? "Buy" : "Sell"} ${covered} ${m.base}`,
      avgPrice: s.avg_price === null ? "—" : formatFixed(s.avg_price, priceDecimals, side === "buy" ? "up" : "down"),
      worstPrice: s.worst_price === null ? "—" : format(s.worst_price, priceDecimals),
      total: s.avg_price === null ? "—" : `${format(s.total, quoteDecimals)} ${m.quote}`,
      shortfall: s.complete
        ? null
        : isPositive(dec(s.filled_qty))
          ? `only ${s.filled_qty} ${m.base} in the book`
          : "no orders on this side",
    };
  });
}
