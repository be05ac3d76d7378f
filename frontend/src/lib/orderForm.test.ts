import { describe, expect, it } from "vitest";
import type { Market } from "../api/types";
import { amountForPercent, buyHold, checkOrder, perLotHold, snapPrice, snapQty, type FormInput } from "./orderForm";
import { cmp, dec, toPlain } from "./money";

const market = {
  symbol: "BTC-USDT", base: "BTC", quote: "USDT", base_decimals: 8, quote_decimals: 6, tick_size: "0.01",
  lot_size: "0.0001", min_qty: "0.0001", max_qty: "100", min_notional: "5", maker_fee: "0.001",
  taker_fee: "0.002", status: "trading",
} as unknown as Market;
// the seed MINA-USDT: a lot of 0.1 MINA at 0.5123 USDT costs 0.05133246 with the fee, rounded up per lot
const mina = {
  symbol: "MINA-USDT", base: "MINA", quote: "USDT", base_decimals: 8, quote_decimals: 6, tick_size: "0.0001",
  lot_size: "0.1", min_qty: "0.1", max_qty: "900000", min_notional: "1", maker_fee: "0.001",
  taker_fee: "0.002", status: "trading",
} as unknown as Market;

const form = (f: Partial<FormInput>): FormInput => ({
  side: "buy", type: "limit", price: "30000", qty: "0.01", ioc: false, postOnly: false, ...f,
});
const rich = { base: "10", quote: "1000000" };

describe("order form", () => {
  it("snaps price to the nearest tick and amount down to the lot", () => {
    expect(snapPrice(market, "30000.005")).toBe("30000.01");
    expect(snapPrice(market, "30000.004")).toBe("30000");
    expect(snapQty(market, "0.123456")).toBe("0.1234");
    expect(snapQty(market, "abc")).toBe("abc");
  });

  it("computes the amount for a percentage of the available balance", () => {
    expect(amountForPercent(market, "sell", 50, "1.00005", null)).toBe("0.5");
    // 1000 USDT at 100 with 0.2% fee: 1000 / 100.2 = 9.98003... -> 9.98 lots of 0.0001
    expect(amountForPercent(market, "buy", 100, "1000", "100")).toBe("9.98");
    expect(amountForPercent(market, "buy", 25, "1000", "")).toBe("");
  });

  it("sizes a percentage buy by the engine's hold: per lot, fee included, rounded up to the quote unit", () => {
    // 0.1 MINA at 0.5123 = 0.05123 USDT, x 1.002 = 0.05133246, held as 0.051333 per lot
    expect(toPlain(perLotHold(mina, dec("0.5123")))).toBe("0.051333");
    const qty = amountForPercent(mina, "buy", 100, "20000", "0.5123");
    expect(qty).toBe("38961.2"); // 389612 lots hold 19999.952796; one more would hold 20000.004129
    expect(cmp(buyHold(mina, dec("0.5123"), dec(qty)), dec("20000"))).toBeLessThanOrEqual(0);
    expect(cmp(buyHold(mina, dec("0.5123"), dec("38961.3")), dec("20000"))).toBeGreaterThan(0);
    // the old single-rounding estimate offered 38961.7, which the engine refuses (INSUFFICIENT_FUNDS)
    const tooMuch = checkOrder(mina, form({ price: "0.5123", qty: "38961.7" }), { base: "0", quote: "20000" }, { loggedIn: true });
    expect(tooMuch.reason).toBe("Insufficient USDT balance");
  });

  it("counts the taker fee in what a market buy needs", () => {
    const r = checkOrder(market, form({ type: "market", price: "", qty: "10" }), { base: "0", quote: "1000" }, {
      loggedIn: true,
      bestAsk: "100",
    });
    expect(r.reason).toBe("Insufficient USDT balance"); // 1000 + 2 fee > 1000
  });

  it("explains why an order cannot be sent", () => {
    const c = (f: Partial<FormInput>, b = rich, loggedIn = true) => checkOrder(market, form(f), b, { loggedIn }).reason;
    expect(c({ price: "" })).toBe("Enter a price");
    expect(c({ price: "-1" })).toBe("Price must be a positive number");
    expect(c({ price: "1.001" })).toBe("Price must be a multiple of 0.01");
    expect(c({ qty: "" })).toBe("Enter an amount");
    expect(c({ qty: "0.00001" })).toBe("Amount must be a multiple of 0.0001");
    expect(c({ qty: "101" })).toBe("Maximum amount is 100 BTC");
    expect(c({ price: "1", qty: "1" })).toBe("Order total must be at least 5 USDT");
    expect(c({}, rich, false)).toBe("Log in to trade");
    expect(c({ side: "sell", qty: "11" })).toBe("Insufficient BTC balance");
    expect(c({ qty: "1" }, { base: "0", quote: "30000" })).toBe("Insufficient USDT balance");
    expect(c({})).toBeNull();
  });

  it("estimates total and fee exactly", () => {
    const r = checkOrder(market, form({ price: "30000.01", qty: "0.0003" }), rich, { loggedIn: true });
    expect(toPlain(r.total!)).toBe("9.000003");
    expect(toPlain(r.fee!)).toBe("0.018001"); // 0.018000006 rounded up at 6 decimals
  });

  it("refuses market orders with nothing to match against", () => {
    const r = checkOrder(market, form({ type: "market", price: "" }), rich, { loggedIn: true, bestAsk: null });
    expect(r.reason).toBe("No liquidity on the other side");
    const ok = checkOrder(market, form({ type: "market", price: "" }), rich, { loggedIn: true, bestAsk: "30000" });
    expect(ok.reason).toBeNull();
  });

  it("refuses orders on a market that is not trading", () => {
    const halted = { ...market, status: "halted" } as Market;
    expect(checkOrder(halted, form({}), rich, { loggedIn: true }).reason).toBe("Market is halted");
  });
});
