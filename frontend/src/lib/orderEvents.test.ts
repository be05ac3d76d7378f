import { describe, expect, it } from "vitest";
import type { Order } from "../api/types";
import { isOpen, mergeOpenOrders, OrderTracker, type MarketListing } from "./orderEvents";

const order = (status: string, filled = "0", extra: Partial<Order> = {}): Order =>
  ({
    id: 7, symbol: "BTC-USDT", side: "buy", type: "limit", price: "100", qty: "2", filled_qty: filled,
    status, reason: "", created_at: 1, updated_at: 1, ...extra,
  }) as Order;

const listing = (tick_size: string, base: string, quote: string): MarketListing => ({ tick_size, base, quote });

describe("order notifications", () => {
  it("announces each state change once", () => {
    const t = new OrderTracker();
    expect(t.note(order("open"))?.title).toBe("Order accepted");
    expect(t.note(order("open"))).toBeNull(); // same state again (REST answer + channel)
    expect(t.note(order("partially_filled", "1"))?.title).toBe("Order partially filled");
    expect(t.note(order("filled", "2"))?.title).toBe("Order filled");
    expect(t.note(order("filled", "2"))).toBeNull();
  });

  it("ignores a stale state that arrives after a newer one", () => {
    const t = new OrderTracker();
    t.note(order("partially_filled", "1"));
    expect(t.note(order("open", "0"))).toBeNull();
    t.note(order("cancelled", "1"));
    expect(t.note(order("partially_filled", "1.5"))).toBeNull(); // closed orders stay closed
  });

  it("gives the reason of a rejection and of a non-user cancel", () => {
    const t = new OrderTracker();
    const r = t.note(order("rejected", "0", { id: 8, reason: "post_only_would_take" }));
    expect(r?.kind).toBe("error");
    expect(r?.body).toContain("post-only: it would have taken liquidity");
    const c = t.note(order("cancelled", "0", { id: 9, reason: "stp" }));
    expect(c?.title).toBe("Order cancelled");
    expect(c?.body).toContain("self-trade prevention");
    expect(t.note(order("cancelled", "0", { id: 10, reason: "user" }))?.body).not.toContain("user");
  });

  it("says the average price the trades gave, not only the limit", () => {
    const t = new OrderTracker();
    const sold = order("filled", "2", { id: 13, side: "sell", price: "50000", avg_price: "60858.2" });
    expect(t.note(sold)?.body).toBe("SELL 2 BTC-USDT @ 50000, avg price 60858.2");
    const market = order("expired", "0.5", {
      id: 14, type: "market", price: null, qty: null, quote_qty: "100", avg_price: "60000", reason: "market",
    });
    expect(t.note(market)?.body).toBe(
      "0.5 of BUY BTC-USDT for 100 USDT, avg price 60000 — the book had no more liquidity for the rest",
    );
  });

  it("says the average price at the market's price decimals, rounded half up", () => {
    const t = new OrderTracker((symbol) => (symbol === "BTC-USDT" ? listing("0.01", "BTC", "USDT") : undefined));
    // every fill at 59758.04: the server's avg_price is quote / qty with the quote rounded per fill
    const filled = order("filled", "2", { id: 15, price: "60000", avg_price: "59758.039697" });
    expect(t.note(filled)?.body).toBe("BUY 2 BTC-USDT @ 60,000.00, avg price 59,758.04");
    const part = order("partially_filled", "1", { id: 16, price: "60000", avg_price: "59758.5" });
    expect(t.note(part)?.body).toBe("1 of BUY 2 BTC-USDT @ 60,000.00, avg price 59,758.50");
    const other = order("filled", "2", { id: 17, symbol: "XYZ-USDT", avg_price: "1.234567" });
    expect(t.note(other)?.body).toContain("avg price 1.234567"); // no tick known: as sent
  });

  it("says the order's price as the book does: the market's price decimals, thousands separators", () => {
    const t = new OrderTracker(
      (symbol) => ({ "BTC-USDT": listing("0.01", "BTC", "USDT"), "MINA-USDT": listing("0.0001", "MINA", "USDT") })[symbol],
    );
    expect(t.note(order("open", "0", { id: 30, price: "56912.4" }))?.body).toBe("BUY 2 BTC-USDT @ 56,912.40");
    const sold = order("cancelled", "1", { id: 31, side: "sell", price: "1234567.5", avg_price: "1234568" });
    expect(t.note(sold)?.body).toBe("SELL 2 BTC-USDT @ 1,234,567.50 (filled 1, avg price 1,234,568.00)");
    expect(t.note(order("rejected", "0", { id: 32, symbol: "MINA-USDT", price: "0.5" }))?.body).toBe("BUY 2 MINA-USDT @ 0.5000");
    expect(t.note(order("open", "0", { id: 33, symbol: "XYZ-USDT", price: "56912.4" }))?.body).toBe("BUY 2 XYZ-USDT @ 56912.4"); // no tick known
  });

  it("names the quote asset a market buy spends from the market's listing, not from its symbol", () => {
    const listings: Record<string, MarketListing> = {
      "BTC-2X-USDT": listing("0.01", "BTC-2X", "USDT"),
      "ETH-USD-C": listing("0.01", "ETH", "USD-C"), // a quote asset with a dash
      ETHUSDC: listing("0.01", "ETH", "USDC"), // a market listed without a dash
    };
    const t = new OrderTracker((symbol) => listings[symbol]);
    const buy = (id: number, symbol: string) =>
      order("open", "0", { id, symbol, type: "market", price: null, qty: null, quote_qty: "100" });
    expect(t.note(buy(40, "BTC-2X-USDT"))?.body).toBe("BUY BTC-2X-USDT for 100 USDT");
    expect(t.note(buy(41, "ETH-USD-C"))?.body).toBe("BUY ETH-USD-C for 100 USD-C");
    expect(t.note(buy(42, "ETHUSDC"))?.body).toBe("BUY ETHUSDC for 100 USDC");
    // the markets not loaded yet: guessed from the symbol, split at its last dash
    expect(new OrderTracker().note(buy(43, "BTC-2X-USDT"))?.body).toBe("BUY BTC-2X-USDT for 100 USDT");
  });

  it("tells a partly filled expiry from an unfilled one", () => {
    const t = new OrderTracker();
    expect(t.note(order("expired", "1", { id: 11 }))?.title).toBe("Order partially filled, rest expired");
    expect(t.note(order("expired", "0", { id: 12 }))?.title).toBe("Order expired");
  });

  it("names the event and the market of each notice, for folding bursts of them", () => {
    const t = new OrderTracker();
    const events = [
      order("open", "0", { id: 20 }),
      order("partially_filled", "1", { id: 20 }),
      order("filled", "2", { id: 20 }),
      order("cancelled", "0", { id: 21, symbol: "ETH-USDT" }),
      order("rejected", "0", { id: 22 }),
      order("expired", "1", { id: 23 }),
    ].map((o) => t.note(o));
    expect(events.map((n) => [n?.event, n?.symbol])).toEqual([
      ["accepted", "BTC-USDT"],
      ["partially filled", "BTC-USDT"],
      ["filled", "BTC-USDT"],
      ["cancelled", "ETH-USDT"],
      ["rejected", "BTC-USDT"],
      ["expired", "BTC-USDT"],
    ]);
  });

  it("marks the notices of an order's fills with its id, so they share one toast, and no others", () => {
    const t = new OrderTracker();
    const ids = [
      order("open", "0", { id: 50 }),
      order("partially_filled", "0.5", { id: 50 }),
      order("partially_filled", "1", { id: 50 }),
      order("filled", "2", { id: 50 }),
      order("expired", "1", { id: 51 }),
      order("cancelled", "1", { id: 52 }),
      order("cancelled", "0", { id: 53 }),
      order("expired", "0", { id: 54 }),
      order("rejected", "0", { id: 55 }),
    ].map((o) => t.note(o)?.orderId);
    expect(ids).toEqual([undefined, "50", "50", "50", "51", "52", undefined, undefined, undefined]);
  });

  it("knows which statuses rest on the book", () => {
    expect(isOpen(order("open"))).toBe(true);
    expect(isOpen(order("partially_filled"))).toBe(true);
    expect(isOpen(order("filled"))).toBe(false);
    expect(isOpen(order("cancelled"))).toBe(false);
  });
});

describe("mergeOpenOrders", () => {
  const at = (id: number, status: string, updated_at: number): Order => order(status, "0", { id, updated_at });

  it("keeps a newer channel state over the loaded copy and drops orders that closed meanwhile", () => {
    const loaded = [at(1, "open", 10), at(2, "open", 10), at(3, "open", 10)];
    const seen = new Map([
      ["1", at(1, "partially_filled", 12)],
      ["2", at(2, "filled", 11)],
    ]);
    expect(mergeOpenOrders(loaded, seen).map((o) => [o.id, o.status])).toEqual([
      [1, "partially_filled"],
      [3, "open"],
    ]);
  });

  it("keeps the loaded copy when it is newer than what the channel brought", () => {
    const merged = mergeOpenOrders([at(1, "partially_filled", 20)], new Map([["1", at(1, "open", 15)]]));
    expect(merged.map((o) => o.status)).toEqual(["partially_filled"]);
  });

  it("adds orders placed during the load first, newest first", () => {
    const seen = new Map([
      ["8", at(8, "open", 30)],
      ["9", at(9, "open", 31)],
    ]);
    expect(mergeOpenOrders([at(1, "open", 10)], seen).map((o) => o.id)).toEqual([9, 8, 1]);
  });
});
