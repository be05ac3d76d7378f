import { describe, expect, it } from "vitest";
import type { Estimate, Market } from "../api/types";
import { volumeProblem, volumeQuery, volumeRows } from "./volumePrices";

const market = {
  symbol: "BTC-USDT", base: "BTC", quote: "USDT", tick_size: "0.01", lot_size: "0.00001", min_qty: "0.00001",
  max_qty: "900", min_notional: "5", maker_fee: "0.001", taker_fee: "0.002", status: "trading",
} as unknown as Market;

const side = (over: Partial<Estimate["buy"]> = {}): Estimate["buy"] => ({
  filled_qty: "0.5", avg_price: "60000.5", worst_price: "60001", notional: "30000.25", fee: "60.0005",
  total: "30060.2505", complete: true, capped: false, ...over,
});

describe("volumeProblem", () => {
  it("accepts a positive plain decimal on the lot", () => {
    expect(volumeProblem("0.5", market)).toBeNull();
    expect(volumeProblem(" 1.00001 ", market)).toBeNull();
  });
  it("takes '.5' and '5.' as the order form does, and asks the server in plain form", () => {
    expect(volumeProblem(".5", market)).toBeNull();
    expect(volumeProblem("5.", market)).toBeNull();
    expect(volumeProblem(".", market)).toBe("Amount is not a number");
    expect(volumeQuery(".5")).toBe("0.5");
    expect(volumeQuery(" 1.50 ")).toBe("1.5");
  });
  it("names what is wrong, as the server would refuse it", () => {
    expect(volumeProblem("", market)).toBe("Enter an amount");
    expect(volumeProblem("1e3", market)).toBe("Amount is not a number");
    expect(volumeProblem("-1", market)).toBe("Amount must be a positive number");
    expect(volumeProblem("0", market)).toBe("Amount must be a positive number");
    expect(volumeProblem("0.000001", market)).toBe("Amount must be a multiple of 0.00001");
    expect(volumeProblem("901", market)).toBe("Maximum amount is 900 BTC");
    // the order form's words for the same input
    expect(volumeProblem("1,000", market)).toBe("Write 1000 or 1.000: is the comma a thousands separator?");
  });
});

describe("volumeRows", () => {
  it("headlines only what the book covers when it cannot fill the whole volume", () => {
    const e: Estimate = {
      symbol: "BTC-USDT", seq: 7, qty: "5",
      buy: side({ filled_qty: "0.01261", avg_price: "59000.5", total: "743.98", complete: false }),
      sell: side({ filled_qty: "0.5", complete: false }),
    };
    const [buy, sell] = volumeRows(e, market, 2, 2);
    expect(buy).toMatchObject({ label: "Buy 0.01261 of 5 BTC", total: "743.98 USDT", shortfall: "only 0.01261 BTC in the book" });
    expect(sell.label).toBe("Sell 0.5 of 5 BTC");
  });
  it("shows buy then sell with averages at the tick's decimals, as every other price, and totals in the quote", () => {
    const e: Estimate = { symbol: "BTC-USDT", seq: 7, qty: "0.5", buy: side(), sell: side({ avg_price: "59999.125", total: "29939.56" }) };
    const [buy, sell] = volumeRows(e, market, 2, 2);
    expect(buy).toEqual({
      side: "buy", label: "Buy 0.5 BTC", avgPrice: "60,000.50", worstPrice: "60,001.00", total: "30,060.25 USDT", shortfall: null,
    });
    expect(sell.label).toBe("Sell 0.5 BTC");
    expect(sell.avgPrice).toBe("59,999.12");
    expect(sell.total).toBe("29,939.56 USDT");
  });
  it("rounds a finer average against the trader: what a buy pays up, what a sell gets down", () => {
    const e: Estimate = {
      symbol: "BTC-USDT", seq: 7, qty: "0.5",
      buy: side({ avg_price: "60000.001" }), sell: side({ avg_price: "59999.129999" }),
    };
    const [buy, sell] = volumeRows(e, market, 2, 2);
    expect(buy.avgPrice).toBe("60,000.01");
    expect(sell.avgPrice).toBe("59,999.12");
    const exact = volumeRows({ ...e, buy: side({ avg_price: "60000.5" }), sell: side({ avg_price: "59999" }) }, market, 2, 2);
    expect(exact.map((r) => r.avgPrice)).toEqual(["60,000.50", "59,999.00"]); // on the tick: as it is
  });
  it("says how much the book lacks, or that a side is empty", () => {
    const e: Estimate = {
      symbol: "BTC-USDT", seq: 7, qty: "2",
      buy: side({ filled_qty: "0.84567", complete: false }),
      sell: side({ filled_qty: "0", avg_price: null, worst_price: null, notional: "0", fee: "0", total: "0", complete: false }),
    };
    const [buy, sell] = volumeRows(e, market, 2, 2);
    expect(buy.label).toBe("Buy 0.84567 of 2 BTC"); // the figures are for what the book holds, not for 2
    expect(sell.label).toBe("Sell 0 of 2 BTC");
    expect(buy.shortfall).toBe("only 0.84567 BTC in the book");
    expect(sell).toMatchObject({ avgPrice: "—", worstPrice: "—", total: "—", shortfall: "no orders on this side" });
  });
});
