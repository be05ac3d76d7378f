import { describe, expect, it } from "vitest";
import { levelKey, ownLabel, ownLevels } from "./ownOrders";

const order = (o: Partial<Parameters<typeof ownLevels>[0][number]>) => ({
  symbol: "BTC-USDT",
  side: "buy",
  type: "limit",
  price: "60000",
  qty: "1",
  filled_qty: "0",
  remaining_qty: "1",
  ...o,
});

describe("the account's own orders in the book", () => {
  it("marks the level of each resting order on its own side, summing the amounts left at one price", () => {
    const orders = [
      order({ price: "59000.50", qty: "0.5", remaining_qty: "0.3", filled_qty: "0.2" }),
      order({ price: "59000.5", qty: "0.4", remaining_qty: "0.4" }),
      order({ side: "sell", price: "61000", qty: "0.1", remaining_qty: "0.1" }),
    ];
    expect(ownLevels(orders, "BTC-USDT", "bids")).toEqual(new Map([["59000.5", { qty: "0.7", orders: 2 }]]));
    expect(ownLevels(orders, "BTC-USDT", "asks")).toEqual(new Map([["61000", { qty: "0.1", orders: 1 }]]));
    // a level's price as the book sends it finds its mark
    expect(ownLevels(orders, "BTC-USDT", "bids").get(levelKey("59000.50"))?.qty).toBe("0.7");
  });

  it("leaves out other markets, market orders, orders without a price and those with nothing left", () => {
    const orders = [
      order({ symbol: "ETH-USDT" }),
      order({ type: "market", price: null }),
      order({ price: null }),
      order({ remaining_qty: "0" }),
    ];
    expect(ownLevels(orders, "BTC-USDT", "bids").size).toBe(0);
  });

  it("puts an order in the bucket the grouped book shows it in: bids down, asks up to the step", () => {
    const orders = [
      order({ price: "59999.99", remaining_qty: "1" }),
      order({ price: "59990", remaining_qty: "2" }),
      order({ side: "sell", price: "60000.01", remaining_qty: "0.5" }),
      order({ side: "sell", price: "60010", remaining_qty: "0.25" }),
    ];
    expect(ownLevels(orders, "BTC-USDT", "bids", "10")).toEqual(new Map([["59990", { qty: "3", orders: 2 }]]));
    expect(ownLevels(orders, "BTC-USDT", "asks", "10")).toEqual(new Map([["60010", { qty: "0.75", orders: 2 }]]));
  });

  it("reads what is left from the amount and the filled amount when the remaining one is missing", () => {
    const orders = [order({ qty: "1", filled_qty: "0.25", remaining_qty: undefined as unknown as string })];
    expect(ownLevels(orders, "BTC-USDT", "bids").get("60000")?.qty).toBe("0.75");
  });

  it("says the amount and, for several orders, how many", () => {
    expect(ownLabel({ qty: "0.5", orders: 1 }, "BTC")).toBe("Your order: 0.5 BTC");
    expect(ownLabel({ qty: "0.7", orders: 2 }, "BTC")).toBe("Your orders: 0.7 BTC (2 orders)");
  });
});
