/**
 * The trader's own resting orders, as the order book marks them (a dot before the price of a level where the
 * account has an open order, as Binance does): for one market and one side of the book, the amount the
 * account rests at each level's price, or at each bucket's price where the book groups prices
 * (lib/bookGroup.ts `bucketPrice`: a buy order's bucket is its step's lower edge, a sell's the upper).
 * Exact decimals.
 */
import type { Order } from "../api/types";
import { bucketPrice } from "./bookGroup";
import { add, dec, parse, toPlain, type Dec } from "./money";

/** What the account rests at one level of the book. */
export interface OwnLevel {
  /** the amount still resting (the orders' remaining amounts), plain decimal */
  qty: string;
  /** how many of the account's orders rest there */
  orders: number;
}

/** The key a level is looked up by: its price, canonical ("60000.50" and "60000.5" are one level). */
export function levelKey(price: string): string {
  return toPlain(price);
}

/**
 * The account's resting amount at each price of one side of `symbol`'s book (bids: its buys, asks: its
 * sells), keyed by `levelKey`; grouped by `step` (the book's price grouping) where given. Only limit orders
 * with a price and something left to fill count: nothing else rests in the book.
 */
export function ownLevels(
  orders: readonly Pick<Order, "symbol" | "side" | "type" | "price" | "qty" | "filled_qty" | "remaining_qty">[],
  symbol: string,
  side: "bids" | "asks",
  step?: string | null,
): Map<string, OwnLevel> {
  const want = side === "bids" ? "buy" : "sell";
  const s = step ? dec(step) : null;
  const out = new Map<string, { qty: Dec; orders: number }>();
  for (const o of orders) {
    if (o.symbol !== symbol || o.side !== want || o.type === "market") continue;
    const price = parse(o.price);
    const left = restingQty(o);
    if (!price || !left || left.coef <= 0n) continue;
    const key = levelKey(toPlain(s ? bucketPrice(price, s, side) : price));
    const at = out.get(key);
    out.set(key, at ? { qty: add(at.qty, left), orders: at.orders + 1 } : { qty: left, orders: 1 });
  }
  return new Map([...out].map(([k, v]) => [k, { qty: toPlain(v.qty), orders: v.orders }]));
}

/** What is left of an order to fill: its remaining amount, else its amount less what filled. */
function restingQty(o: Pick<Order, "qty" | "filled_qty" | "remaining_qty">): Dec | null {
  const remaining = parse(o.remaining_qty);
  if (remaining) return remaining;
  const [qty, filled] = [parse(o.qty), parse(o.filled_qty)];
  return qty && filled ? add(qty, { coef: -filled.coef, scale: filled.scale }) : qty;
}

/** The words a marked level says (its tooltip and part of its accessible name): "Your order: 0.5 BTC", or
 * "Your orders: 0.7 BTC (2 orders)" for several at one level. */
export function ownLabel(own: OwnLevel, base: string): string {
  const amount = `${own.qty}${base ? ` ${base}` : ""}`;
  return own.orders === 1 ? `Your order: ${amount}` : `Your orders: ${amount} (${own.orders} orders)`;
}
