/**
 * Turns successive states of the account's orders into notifications: accepted, rejected (with the
 * reason), cancelled, partially filled, filled, expired. The same order state seen twice (REST answer and
 * the `orders` channel) notifies once.
 */
import type { Market, Order } from "../api/types";
import { marketAssets } from "./marketAssets";
import { cmp, dec, formatPrice, isZero, parse } from "./money";

/** What a notice needs of a market's listing (`GET /api/markets`): its tick, to say prices as the book does,
 * and its quote asset, to name the currency a market buy spends. */
export type MarketListing = Pick<Market, "tick_size" | "base" | "quote">;

export interface OrderNotice {
  kind: "info" | "success" | "error" | "warn";
  title: string;
  body: string;
  /** what happened, for grouping a burst of notices (lib/noticeBursts.ts): "accepted", "partially filled",
   * "filled", "cancelled", "rejected", "expired", or another status as it came */
  event: string;
  symbol: string;
  /** the order's id on the notices of its fills (partially filled, filled, and the end of a partly filled
   * order: the rest expired or cancelled): those of one order share one toast, updated in place
   * (lib/noticeBursts.ts), instead of a toast for each fill; absent on the others (accepted, rejected, an
   * unfilled order cancelled or expired), which show as their own */
  orderId?: string;
}

export const OPEN_STATUSES = new Set(["open", "partially_filled", "new", "pending"]);

export function isOpen(o: Pick<Order, "status">): boolean {
  return OPEN_STATUSES.has(String(o.status));
}

/** Why an order closed, as a sentence a trader reads (the API's `reason` codes: docs/api.md). */
const REASONS: Record<string, string> = {
  ioc: "immediate-or-cancel: the rest found no match",
  market: "the book had no more liquidity for the rest",
  fok_unfilled: "fill-or-kill: the book could not fill all of it",
  budget: "the budget was spent",
  max_makers: "it met the most resting orders one order may match; the rest expired",
  stp: "self-trade prevention: it would have traded with your own order",
  market_status: "the market stopped trading",
  post_only_would_take: "post-only: it would have taken liquidity",
  price_band: "the next price was beyond the market's price band; the rest expired",
};

/** Why `o` closed, as a sentence ("" for a cancel by its owner or no reason). */
export function reasonOf(o: Order): string {
  const r = (o as unknown as Record<string, unknown>).reason;
  if (typeof r !== "string" || !r || r === "user") return "";
  return REASONS[r] ?? r.replace(/_/g, " ");
}

/** A price in a notice as the book shows it ("60,000.00": the market's price decimals, thousands separators);
 * as sent while the market's tick is unknown. */
function priceText(price: string, tickSize: string | undefined): string {
  return tickSize && parse(price) ? formatPrice(price, tickSize) : price;
}

/** "BUY 0.5 BTC-USDT @ 60,000.00", or for a market buy by quote amount "BUY BTC-USDT for 100 USDT" (the
 * listing's quote asset; guessed from the symbol while the listing is not loaded). */
function describe(o: Order, listing: MarketListing | undefined): string {
  const amount = o.qty ? ` ${o.qty}` : "";
  const budget = !o.qty && o.quote_qty ? ` for ${o.quote_qty} ${marketAssets(o.symbol, listing).quote}` : "";
  const price = o.price ? ` @ ${priceText(o.price, listing?.tick_size)}` : "";
  return `${String(o.side).toUpperCase()}${amount} ${o.symbol}${budget}${price}`;
}

export class OrderTracker {
  private seen = new Map<string, { status: string; filled: string }>();

  /** `listing(symbol)`: the market's listing, to say the order's price and its average price as the book does
   * and name its quote asset; undefined while the markets are not loaded. */
  constructor(private readonly listing: (symbol: string) => MarketListing | undefined = () => undefined) {}

  /** The notice for this state of the order, or null when nothing new happened. */
  note(o: Order): OrderNotice | null {
    const key = String(o.id);
    const status = String(o.status);
    const filled = String(o.filled_qty ?? "0");
    const prev = this.seen.get(key);
    if (prev && prev.status === status && prev.filled === filled) return null;
    if (prev && parse(prev.filled) && parse(filled) && cmp(dec(filled), dec(prev.filled)) < 0) return null; // stale
    if (prev && !OPEN_STATUSES.has(prev.status)) return null; // already closed: nothing newer can come
    this.seen.set(key, { status, filled });
    if (this.seen.size > 2000) this.seen.delete(this.seen.keys().next().value as string);
    const listing = this.listing(o.symbol);
    const tick = listing?.tick_size;
    const what = describe(o, listing);
    const hasFill = parse(filled) !== null && !isZero(dec(filled));
    // the price the trades gave (a limit order often fills better than its limit; a market order has none)
    const avg = hasFill && o.avg_price ? `, avg price ${priceText(o.avg_price, tick)}` : "";
    const reason = reasonOf(o) ? ` — ${reasonOf(o)}` : "";
    const notice = (kind: OrderNotice["kind"], event: string, title: string, body: string): OrderNotice => ({
      kind, title, body, event, symbol: o.symbol, ...(hasFill ? { orderId: key } : {}),
    });
    switch (status) {
      case "open":
      case "new":
      case "pending":
        return notice("info", "accepted", "Order accepted", what);
      case "partially_filled":
        return notice("success", "partially filled", "Order partially filled", `${filled} of ${what}${avg}`);
      case "filled":
        return notice("success", "filled", "Order filled", `${what}${avg}`);
      case "cancelled":
        return notice("warn", "cancelled", "Order cancelled", `${what}${hasFill ? ` (filled ${filled}${avg})` : ""}${reason}`);
      case "rejected":
        return notice("error", "rejected", "Order rejected", `${what}${reason}`);
      case "expired":
        return notice(
          hasFill ? "success" : "warn",
          "expired",
          hasFill ? "Order partially filled, rest expired" : "Order expired",
          `${hasFill ? `${filled} of ` : ""}${what}${avg}${reason}`,
        );
      default:
        return notice("info", status.replace(/_/g, " "), `Order ${status}`, what);
    }
  }
}

/** The open orders after a (possibly long, paged) load: the loaded list, except where the `orders` channel
 * brought a state at least as new while the load ran (`seen`); orders first seen on the channel come first,
 * and closed ones drop out. */
export function mergeOpenOrders(loaded: Order[], seen: ReadonlyMap<string, Order>): Order[] {
  const fresh = (o: Order): Order => {
    const live = seen.get(String(o.id));
    return live && Number(live.updated_at ?? 0) >= Number(o.updated_at ?? 0) ? live : o;
  };
  const loadedIds = new Set(loaded.map((o) => String(o.id)));
  const onlySeen = [...seen.values()].filter((o) => !loadedIds.has(String(o.id))).reverse();
  return [...onlySeen, ...loaded.map(fresh)].filter(isOpen);
}
