import { describe, expect, it } from "vitest";
import type { Market, Order, SideEstimate, SpendEstimate } from "../api/types";
import {
  amountForPercent, buyHold, CAPPED, checkOrder, checkSpend, feeRole, marketShortfall, percentAmount, percentRef, perLotHold, priceWarning,
  editPrice, formAmountText, leftAfterCap, ownOrdersInReach, reachPrice, selfTradeWarning, sellQtyForPercent, sellTotalForEstimate,
  snapPrice, snapQty, spendableTotal, spendShortfall, totalForPercent, walkableQty, type FormInput, type Side,
} from "./orderForm";
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
  side: "buy", type: "limit", price: "30000", qty: "0.01", tif: "gtc", postOnly: false, ...f,
});
const rich = { base: "10", quote: "1000000" };

describe("order form", () => {
  it("snaps a price to the tick the trader's way, a buy down and a sell up, and an amount down to the lot", () => {
    // a buy never bids more than typed (nearest made 30000.005 a bid of 30000.01), a sell never asks less
    expect(snapPrice(market, "buy", "30000.005")).toBe("30000");
    expect(snapPrice(market, "buy", "30000.009")).toBe("30000");
    expect(snapPrice(market, "sell", "30000.005")).toBe("30000.01");
    expect(snapPrice(market, "sell", "30000.001")).toBe("30000.01");
    for (const side of ["buy", "sell"] as const) {
      expect(snapPrice(market, side, "30000.01")).toBe("30000.01"); // on the tick: unchanged
      expect(snapPrice(market, side, "30000.0100")).toBe("30000.01");
      expect(snapPrice(market, side, "abc")).toBe("abc");
      expect(snapPrice(market, side, "")).toBe("");
    }
    // a tick that is not a power of ten: still never against the trader
    const half = { ...market, tick_size: "0.5" } as Market;
    expect(snapPrice(half, "buy", "100.3")).toBe("100");
    expect(snapPrice(half, "sell", "100.3")).toBe("100.5");
    expect(snapPrice(half, "buy", "100.7")).toBe("100.5");
    expect(snapPrice(half, "sell", "100.7")).toBe("101");
    expect(snapQty(market, "0.123456")).toBe("0.1234");
    expect(snapQty(market, "abc")).toBe("abc");
  });

  it("refuses a key that gives a price more decimals than the tick has, and keeps text that arrives whole", () => {
    // typed key by key (Binance): the last key of "30000.005" does nothing
    expect(editPrice(market, "30000.00", "30000.005", true)).toBe("30000.00");
    expect(editPrice(market, "30000.0", "30000.05", true)).toBe("30000.05");
    expect(editPrice(market, "30000.01", "30000.010", true)).toBe("30000.01"); // a third decimal, even a zero
    expect(editPrice(market, "3000.01", "30000.01", true)).toBe("30000.01"); // a digit before the point
    expect(editPrice(market, "3000005", "3000.005", true)).toBe("3000005"); // a point that leaves 3 decimals
    expect(editPrice(market, "30000.005", "30000.00", false)).toBe("30000.00"); // deleting always works
    // text that arrives whole (a paste, autofill): kept; the form says why it cannot go, leaving the field
    // snaps it (snapPrice)
    expect(editPrice(market, "", "30000.005", false)).toBe("30000.005");
    expect(editPrice(market, "30000.01", "30000.015", false)).toBe("30000.015"); // pasted over the old price
    expect(checkOrder(market, form({ price: "30000.005" }), rich, { loggedIn: true }).reason).toBe(
      "Price must be a multiple of 0.01",
    );
    // not a number yet: the form says why
    expect(editPrice(market, "12,00", "12,000", true)).toBe("12,000");
    expect(editPrice(market, "", "a", true)).toBe("a");
    expect(editPrice(mina, "0.512", "0.5123", true)).toBe("0.5123"); // a tick of 0.0001: four decimals
    expect(editPrice(mina, "0.5123", "0.51234", true)).toBe("0.5123");
  });

  it("never snaps a price or an amount under the minimum down to 0: the form says the minimum instead", () => {
    const btc = { ...market, lot_size: "0.00001", min_qty: "0.00001" } as Market;
    expect(snapPrice(btc, "buy", "0.001")).toBe("0.001");
    expect(snapPrice(btc, "buy", "0.009")).toBe("0.009");
    expect(snapPrice(btc, "sell", "0.001")).toBe("0.01"); // a sell goes up to the tick: never 0
    expect(snapQty(btc, "0.000001")).toBe("0.000001");
    expect(snapQty(btc, "0.000019")).toBe("0.00001"); // over one lot: still down to the lot
    const c = (f: Partial<FormInput>) => checkOrder(btc, form(f), rich, { loggedIn: true }).reason;
    expect(c({ price: snapPrice(btc, "buy", "0.001") })).toBe("Minimum price is 0.01 USDT");
    expect(c({ qty: snapQty(btc, "0.000001") })).toBe("Minimum amount is 0.00001 BTC");
    // a minimum amount above the lot is the one said, also for an amount off the lot
    expect(checkOrder(market, form({ qty: "0.00005" }), rich, { loggedIn: true }).reason).toBe("Minimum amount is 0.0001 BTC");
    const lotOnly = { ...market, min_qty: "" } as unknown as Market;
    expect(checkOrder(lotOnly, form({ qty: "0.00005" }), rich, { loggedIn: true }).reason).toBe("Minimum amount is 0.0001 BTC");
  });

  it("asks before a limit price more than 5% worse than the last price", () => {
    const w = (side: "buy" | "sell", price: string, last: string | null = "60000", type: "limit" | "market" = "limit") =>
      priceWarning(market, { side, type, price }, last);
    expect(w("buy", "900000")).toBe("Price is 1,400% above the last price (60,000.00). Place the order?");
    expect(w("sell", "100")).toBe("Price is 100% below the last price (60,000.00). Place the order?");
    expect(w("sell", "30000")).toBe("Price is 50% below the last price (60,000.00). Place the order?");
    expect(w("buy", "63000.01")).toBe("Price is 5% above the last price (60,000.00). Place the order?");
    expect(w("buy", "63000")).toBeNull(); // exactly 5% worse: no question
    expect(w("sell", "57000")).toBeNull();
    expect(w("sell", "56999.99")).toBe("Price is 5% below the last price (60,000.00). Place the order?");
    expect(w("buy", "70000", "60000.5")).toBe("Price is 17% above the last price (60,000.50). Place the order?");
    // better than the last price for the trader, a market order, or no last price: nothing to ask
    expect(w("buy", "100")).toBeNull();
    expect(w("sell", "900000")).toBeNull();
    expect(w("buy", "900000", "60000", "market")).toBeNull();
    expect(w("buy", "900000", null)).toBeNull();
    expect(w("buy", "900000", "")).toBeNull();
    expect(w("buy", "abc")).toBeNull();
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

  it("checks a market order against the server's walk of the book when it has one", () => {
    const walk = (over: Partial<SideEstimate> = {}): SideEstimate => ({
      filled_qty: "2", avg_price: "101", worst_price: "102", notional: "202", fee: "0.404", total: "202.404",
      complete: true, capped: false, ...over,
    });
    const buy = (quote: string, e: SideEstimate) =>
      checkOrder(market, form({ type: "market", price: "", qty: "2" }), { base: "0", quote }, { loggedIn: true, bestAsk: "100", estimate: e });
    // best ask x qty would be 200 + fee; the walk says 202.404: that is what the buy needs
    expect(buy("202.40", walk()).reason).toBe("Insufficient USDT balance");
    const ok = buy("202.404", walk());
    expect(ok.reason).toBeNull();
    expect([ok.total && toPlain(ok.total), ok.fee && toPlain(ok.fee)]).toEqual(["202", "0.404"]);
    expect(buy("1000", walk({ filled_qty: "0", notional: "0", fee: "0", total: "0", complete: false })).reason).toBe(
      "No liquidity on the other side",
    );
    const sell = checkOrder(market, form({ side: "sell", type: "market", price: "", qty: "2" }), { base: "1", quote: "0" }, {
      loggedIn: true,
      estimate: walk({ filled_qty: "1", complete: false }),
    });
    expect(sell.reason).toBe("Insufficient BTC balance"); // a sell holds its whole amount, filled or not
  });

  it("asks for an estimate only for an amount the server takes", () => {
    expect(walkableQty(market, " 1.50 ")).toBe("1.5");
    expect(walkableQty(market, "0.00001")).toBeNull(); // off the lot
    expect(walkableQty(market, "101")).toBeNull(); // above max_qty
    expect(walkableQty(market, "abc")).toBeNull();
  });

  it("warns that what the book cannot fill expires", () => {
    const partial = {
      filled_qty: "0.2458", avg_price: "3029", worst_price: "3030", notional: "744.53", fee: "1.49", total: "746.02", complete: false,
      capped: false,
    };
    expect(marketShortfall(market, partial)).toBe("Only 0.24580000 BTC in the book now: the rest would expire");
    expect(marketShortfall(market, { ...partial, complete: true })).toBeNull();
    // one order would stop at the engine's cap on resting orders: said before the book's depth
    expect(marketShortfall(market, { ...partial, complete: true, capped: true })).toBe(CAPPED);
    expect(marketShortfall(market, { ...partial, capped: true })).toBe(CAPPED);
  });

  it("explains why an order cannot be sent", () => {
    const c = (f: Partial<FormInput>, b = rich, loggedIn = true) => checkOrder(market, form(f), b, { loggedIn }).reason;
    expect(c({ price: "" })).toBe("Enter a price");
    expect(c({ price: "-1" })).toBe("Price must be a positive number");
    expect(c({ price: "1.001" })).toBe("Price must be a multiple of 0.01");
    expect(c({ qty: "" })).toBe("Enter an amount");
    expect(c({ qty: "0.00015" })).toBe("Amount must be a multiple of 0.0001");
    expect(c({ qty: "101" })).toBe("Maximum amount is 100 BTC");
    expect(c({ price: "1", qty: "1" })).toBe("Order total must be at least 5 USDT");
    expect(c({}, rich, false)).toBe("Log in to trade");
    expect(c({ side: "sell", qty: "11" })).toBe("Insufficient BTC balance");
    expect(c({ qty: "1" }, { base: "0", quote: "30000" })).toBe("Insufficient USDT balance");
    expect(c({})).toBeNull();
  });

  it("refuses a price above the market's maximum before looking at the balance", () => {
    const capped = { ...market, max_price: "1000000" } as Market;
    const c = (price: string, b = rich) => checkOrder(capped, form({ price, qty: "0.0001" }), b, { loggedIn: true }).reason;
    expect(c("1000000.01")).toBe("Maximum price is 1,000,000 USDT");
    expect(c("999999999999", { base: "0", quote: "1" })).toBe("Maximum price is 1,000,000 USDT");
    expect(c("1000000", { base: "0", quote: "1000" })).toBeNull(); // the maximum itself is allowed
    expect(checkOrder(capped, form({ side: "sell", price: "2000000" }), rich, { loggedIn: true }).reason).toBe(
      "Maximum price is 1,000,000 USDT",
    );
  });

  it("refuses a limit price beyond the market's band from the best price on the other side, as the engine does", () => {
    const banded = { ...market, price_band: "0.1" } as Market;
    const best = { loggedIn: true, bestAsk: "30000.05", bestBid: "29999.95" };
    const c = (f: Partial<FormInput>, o: typeof best | { loggedIn: boolean } = best) =>
      checkOrder(banded, form({ qty: "0.001", ...f }), rich, o).reason;
    // a buy up to 30000.05 x 1.1 = 33000.055, down to the tick: 33000.05
    expect(c({ price: "33000.05" })).toBeNull();
    expect(c({ price: "33000.06" })).toBe("Maximum price is 33,000.05 USDT (10% above the best ask)");
    // a sell down to 29999.95 x 0.9 = 26999.955, up to the tick: 26999.96
    expect(c({ side: "sell", price: "26999.96" })).toBeNull();
    expect(c({ side: "sell", price: "26999.95" })).toBe("Minimum price is 26,999.96 USDT (10% below the best bid)");
    // orders that do not cross, no best price on the other side, or no band: not checked
    expect(c({ price: "10000" })).toBeNull();
    expect(c({ price: "99999" }, { loggedIn: true })).toBeNull();
    expect(checkOrder(market, form({ price: "99999", qty: "0.001" }), rich, best).reason).toBeNull();
  });

  it("asks which is meant for an amount or a price with a comma that could be a thousands separator", () => {
    const c = (f: Partial<FormInput>) => checkOrder(market, form(f), rich, { loggedIn: true }).reason;
    expect(c({ qty: "12,000" })).toBe("Write 12000 or 12.000: is the comma a thousands separator?");
    expect(c({ price: "30,000" })).toBe("Write 30000 or 30.000: is the comma a thousands separator?");
    expect(c({ qty: "0,500" })).not.toContain("comma"); // a leading 0: a decimal comma (the field made it 0.500)
  });

  it("tells text that is not a number from a number that is not positive", () => {
    const c = (f: Partial<FormInput>) => checkOrder(market, form(f), rich, { loggedIn: true }).reason;
    for (const text of ["1e5", "abc", "$59000", "59000 USDT", "\uff15\uff19\uff10\uff10\uff10", "1.2.3"]) {
      expect(c({ price: text })).toBe("Price is not a number");
      expect(c({ qty: text })).toBe("Amount is not a number");
    }
    expect(c({ price: "0" })).toBe("Price must be a positive number");
    expect(c({ price: "-30000" })).toBe("Price must be a positive number");
    expect(c({ qty: "0" })).toBe("Amount must be a positive number");
    expect(c({ qty: "-1" })).toBe("Amount must be a positive number");
  });

  it("estimates total and fee exactly", () => {
    // at the best ask: it takes, so the taker fee
    const r = checkOrder(market, form({ price: "30000.01", qty: "0.0003" }), rich, { loggedIn: true, bestAsk: "30000.01" });
    expect(toPlain(r.total!)).toBe("9.000003");
    expect(toPlain(r.fee!)).toBe("0.018001"); // 0.018000006 rounded up at 6 decimals
  });

  it("refuses a market order worth less than the minimum at the best price on the other side, as the engine does", () => {
    const c = (side: Side, qty: string, touch: string, estimate?: SideEstimate) =>
      checkOrder(market, form({ side, type: "market", price: "", qty }), rich, {
        loggedIn: true, bestAsk: side === "buy" ? touch : null, bestBid: side === "sell" ? touch : null, estimate,
      }).reason;
    expect(c("buy", "0.0001", "49999.99")).toBe("Order total must be at least 5 USDT"); // 4.999999
    expect(c("buy", "0.0001", "50000")).toBeNull(); // exactly the minimum
    expect(c("sell", "0.0001", "40000")).toBe("Order total must be at least 5 USDT");
    expect(c("sell", "0.0002", "40000")).toBeNull();
    // with the server's walk too: the touch decides, as in the engine
    const walk = { filled_qty: "0.0001", avg_price: "40000", worst_price: "40000", notional: "4", fee: "0.008", total: "4.008", complete: true, capped: false };
    expect(c("buy", "0.0001", "40000", walk)).toBe("Order total must be at least 5 USDT");
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

describe("a market buy by total (quote_qty)", () => {
  const spent = (e: Partial<SpendEstimate>): SpendEstimate => ({
    symbol: "BTC-USDT", seq: 1, quote_qty: "100", filled_qty: "0.0033", avg_price: "30000", worst_price: "30000",
    notional: "99", fee: "0.198", total: "99.198", complete: true, capped: false, ...e,
  });
  const c = (total: string, opts: Partial<Parameters<typeof checkSpend>[3]> = {}, available: string | null = "1000") =>
    checkSpend(market, total, available, { loggedIn: true, bestAsk: "30000", ...opts });

  it("asks the estimate only for a positive total in whole quote minor units", () => {
    expect(spendableTotal(market, "100.5")).toBe("100.5");
    expect(spendableTotal(market, "100.000001")).toBe("100.000001");
    expect(spendableTotal(market, "100.0000001")).toBeNull(); // USDT has 6 decimals
    expect(spendableTotal(market, "0")).toBeNull();
    expect(spendableTotal(market, "abc")).toBeNull();
  });

  it("gives a percent of the available quote asset, down to its minor unit", () => {
    expect(totalForPercent(market, 25, "1000.000003")).toBe("250");
    expect(totalForPercent(market, 100, "1000.000003")).toBe("1000.000003");
    expect(totalForPercent(market, 50, "0")).toBe("0");
  });

  it("says what is wrong with the total, first failing first", () => {
    expect(c("").reason).toBe("Enter a total");
    expect(c("12,000").reason).toBe("Write 12000 or 12.000: is the comma a thousands separator?");
    expect(c("x").reason).toBe("Total is not a number");
    expect(c("-1").reason).toBe("Total must be a positive number");
    expect(c("1.0000001").reason).toBe("Total must be a multiple of 0.000001 USDT");
    expect(c("4.99").reason).toBe("Order total must be at least 5 USDT");
    expect(c("100", { bestAsk: null }).reason).toBe("No liquidity on the other side");
    expect(c("100", { loggedIn: false }).reason).toBe("Log in to trade");
    expect(c("1000.01").reason).toBe("Insufficient USDT balance");
    expect(c("100", {}, null).reason).toBe("Insufficient USDT balance");
    expect(c("100").reason).toBeNull();
  });

  it("refuses a total that buys less than one lot, and shows the walk's total and fee", () => {
    const tooLittle = c("5", { estimate: spent({ filled_qty: "0", total: "0", fee: "0", complete: false }) });
    expect(tooLittle.reason).toBe("5 USDT does not buy one lot (0.0001 BTC)");
    const ok = c("100", { estimate: spent({}) });
    expect(ok.reason).toBeNull();
    expect(toPlain(ok.total!)).toBe("99.198");
    expect(toPlain(ok.fee!)).toBe("0.198");
  });

  it("warns when the book ends before the total is spent", () => {
    expect(spendShortfall(market, spent({}))).toBeNull();
    expect(spendShortfall(market, spent({ complete: false, filled_qty: "0", total: "0" }))).toBeNull();
    expect(spendShortfall(market, spent({ complete: false, filled_qty: "0.5", total: "15030.5" }))).toBe(
      "Only 0.50000000 BTC (15,030.500000 USDT) in the book now: the rest would be returned",
    );
    expect(spendShortfall(market, spent({ capped: true }))).toBe(CAPPED);
  });
});

describe("a market sell by total (quote_qty)", () => {
  // 100 USDT of BTC at 30000: 0.0033 BTC worth 99 (a 34th lot would be worth 102), fee 0.198, 98.802 received
  const sold = (e: Partial<SpendEstimate>): SpendEstimate => ({
    symbol: "BTC-USDT", seq: 1, quote_qty: "100", filled_qty: "0.0033", avg_price: "30000", worst_price: "30000",
    notional: "99", fee: "0.198", total: "98.802", complete: true, capped: false, ...e,
  });
  const c = (total: string, opts: Partial<Parameters<typeof checkSpend>[3]> = {}, available: string | null = "1") =>
    checkSpend(market, total, available, { loggedIn: true, side: "sell", bestBid: "30000", bestAsk: null, ...opts });

  it("checks the total as a buy's, and the other side of the book is the bids", () => {
    expect(c("").reason).toBe("Enter a total");
    expect(c("12,000").reason).toBe("Write 12000 or 12.000: is the comma a thousands separator?");
    expect(c("x").reason).toBe("Total is not a number");
    expect(c("0").reason).toBe("Total must be a positive number");
    expect(c("1.0000001").reason).toBe("Total must be a multiple of 0.000001 USDT");
    expect(c("4.99").reason).toBe("Order total must be at least 5 USDT");
    // asks but no bids: nothing to sell into (a buy's check looked at the asks)
    expect(c("100", { bestBid: null, bestAsk: "30010" }).reason).toBe("No liquidity on the other side");
    expect(c("100", { bestBid: "30000", bestAsk: null }).reason).toBeNull();
    expect(c("100", { bestBid: null, estimate: sold({}) }).reason).toBeNull(); // the walk found bids
    expect(c("100", { loggedIn: false }).reason).toBe("Log in to trade");
  });

  it("refuses a total worth less than one lot", () => {
    const tooLittle = c("5", { estimate: sold({ filled_qty: "0", notional: "0", fee: "0", total: "0", complete: false }) });
    expect(tooLittle.reason).toBe("5 USDT does not sell one lot (0.0001 BTC)");
  });

  it("needs the base the walk sells, not the quote: a total worth more than the BTC held is refused", () => {
    // 1000 USDT of quote would pay for a buy of 100; a sell needs 0.0033 BTC
    expect(c("100", { estimate: sold({}) }, "0.0033").reason).toBeNull();
    expect(c("100", { estimate: sold({}) }, "0.0032").reason).toBe("Insufficient BTC balance");
    expect(c("100", { estimate: sold({}) }, null).reason).toBe("Insufficient BTC balance");
    // until the estimate comes: under one lot is already too little, more is left to the estimate
    expect(c("100", {}, "0.00009").reason).toBe("Insufficient BTC balance");
    expect(c("100", {}, "0.0001").reason).toBeNull();
  });

  it("shows what the trader would receive (the value sold less the fee) and the fee", () => {
    const ok = c("100", { estimate: sold({}) });
    expect(ok.reason).toBeNull();
    expect(toPlain(ok.total!)).toBe("98.802");
    expect(toPlain(ok.fee!)).toBe("0.198");
  });

  it("warns when the bids end before the total is sold, and when the cap would stop it", () => {
    expect(spendShortfall(market, sold({}), "sell")).toBeNull();
    expect(spendShortfall(market, sold({ complete: false, filled_qty: "0", notional: "0", total: "0" }), "sell")).toBeNull();
    expect(spendShortfall(market, sold({ complete: false, filled_qty: "0.002", notional: "60.1", total: "59.9798" }), "sell")).toBe(
      "Only 0.00200000 BTC (60.100000 USDT) can be sold into the bids now: the rest of the total would not be sold",
    );
    expect(spendShortfall(market, sold({ capped: true }), "sell")).toBe(CAPPED);
  });

  it("% of the base: that amount, down to the lot and at most the market's maximum", () => {
    expect(sellQtyForPercent(market, 50, "1.00005")).toBe("0.5");
    expect(sellQtyForPercent(market, 100, "0.12345678")).toBe("0.1234");
    expect(sellQtyForPercent(market, 25, "0.0003")).toBeNull(); // under one lot
    expect(sellQtyForPercent(market, 100, "0")).toBeNull();
    expect(sellQtyForPercent(market, 100, "250")).toBe("100"); // max_qty: what GET /estimate takes
  });

  it("its total is the walk's value of that amount at the bids, down to the quote's minor unit, not at the best bid", () => {
    const walk = (e: Partial<SideEstimate>): SideEstimate => ({
      filled_qty: "0.5", avg_price: "29950", worst_price: "29900", notional: "14975", fee: "29.95", total: "14945.05",
      complete: true, capped: false, ...e,
    });
    // 0.5 BTC at a best bid of 30000 would be 15000: a sale of 15000 walks lower and needs more than 0.5
    expect(sellTotalForEstimate(market, walk({}))).toBe("14975");
    expect(sellTotalForEstimate(market, walk({ notional: "14975.1234567" }))).toBe("14975.123456");
    // the bids take part of it: the value of what they take (selling that total sells no more)
    expect(sellTotalForEstimate(market, walk({ filled_qty: "0.2", notional: "5990", complete: false }))).toBe("5990");
    expect(sellTotalForEstimate(market, walk({ filled_qty: "0", notional: "0", complete: false }))).toBeNull(); // no bids
    expect(sellTotalForEstimate(market, null)).toBeNull();
  });
});

describe("maker or taker fee estimate", () => {
  const role = (f: Partial<FormInput>, bestBid: string | null = "29990", bestAsk: string | null = "30010") =>
    feeRole(form(f), bestBid, bestAsk);

  it("a limit order that does not cross the best opposite price rests: maker", () => {
    expect(role({ side: "buy", price: "30009.99" })).toBe("maker"); // below the best ask
    expect(role({ side: "sell", price: "29990.01" })).toBe("maker"); // above the best bid
    expect(role({ side: "buy", price: "30000" }, null, null)).toBe("maker"); // nothing to cross
  });

  it("a limit order at or through the best opposite price takes: taker", () => {
    expect(role({ side: "buy", price: "30010" })).toBe("taker");
    expect(role({ side: "buy", price: "31000" })).toBe("taker");
    expect(role({ side: "sell", price: "29990" })).toBe("taker");
    expect(role({ side: "sell", price: "100" })).toBe("taker");
  });

  it("post-only always makes; market, IOC and FOK orders never rest: taker", () => {
    expect(role({ side: "buy", price: "31000", postOnly: true })).toBe("maker");
    expect(role({ side: "buy", type: "market", price: "" })).toBe("taker");
    expect(role({ side: "buy", price: "30000", tif: "ioc" })).toBe("taker");
    expect(role({ side: "sell", price: "30000", tif: "fok" })).toBe("taker");
    expect(role({ side: "buy", price: "" })).toBe("taker"); // no price yet: the worst case
  });

  it("the est. fee of a resting limit order is at the maker rate, of a crossing one at the taker rate", () => {
    const opts = { loggedIn: true, bestBid: "29990", bestAsk: "30010" };
    // 0.01 BTC x 30000 = 300 USDT: maker 0.1% = 0.3, taker 0.2% = 0.6
    const resting = checkOrder(market, form({ side: "buy", price: "30000", qty: "0.01" }), rich, opts);
    expect(toPlain(resting.fee!)).toBe("0.3");
    const sellResting = checkOrder(market, form({ side: "sell", price: "30000", qty: "0.01" }), rich, opts);
    expect(toPlain(sellResting.fee!)).toBe("0.3");
    const crossing = checkOrder(market, form({ side: "buy", price: "30010", qty: "0.01" }), rich, opts);
    expect(toPlain(crossing.fee!)).toBe("0.6002"); // 300.1 x 0.002
  });

  it("keeps checking the balance against the engine's hold, which counts the taker fee", () => {
    // 300 + maker fee 0.3 = 300.3 would fit 300.4; the engine holds 300 x 1.002 = 300.6: refused
    const r = checkOrder(market, form({ side: "buy", price: "30000", qty: "0.01" }), { base: "0", quote: "300.4" }, {
      loggedIn: true, bestBid: "29990", bestAsk: "30010",
    });
    expect(toPlain(r.fee!)).toBe("0.3");
    expect(r.reason).toBe("Insufficient USDT balance");
    expect(checkOrder(market, form({ side: "buy", price: "30000", qty: "0.01" }), { base: "0", quote: "300.6" }, {
      loggedIn: true, bestBid: "29990", bestAsk: "30010",
    }).reason).toBeNull();
  });
});

describe("% buttons' reference price", () => {
  const f = (p: Partial<FormInput>) => form({ price: "", ...p });
  const best = { bestBid: "99", bestAsk: "100" };

  it("sizes a limit buy by the price typed, or by the best ask when no price is typed", () => {
    expect(percentRef(f({ price: "50" }), "99", "100")).toBe("50");
    expect(percentRef(f({ price: "" }), "99", "100")).toBe("100");
    expect(percentRef(f({ side: "sell", price: "" }), "99", "100")).toBe("99");
    expect(percentRef(f({ type: "market", price: "50" }), "99", "100")).toBe("100"); // market: the touch
    // 1000 USDT at the best ask 100 with 0.2% fee: 9.98 BTC, as with the price typed
    expect(percentAmount(market, f({ price: "" }), 100, "1000", best)).toEqual({ qty: "9.98", reason: null });
    expect(percentAmount(market, f({ price: "100" }), 100, "1000", { bestBid: null, bestAsk: null })).toEqual({ qty: "9.98", reason: null });
  });

  it("without a price to size a buy by, leaves the amount and says why", () => {
    const none = { bestBid: null, bestAsk: null };
    expect(percentRef(f({ price: "" }), null, null)).toBeNull();
    expect(percentAmount(market, f({ price: "" }), 25, "1000", none)).toEqual({ qty: null, reason: "Enter a price to use %" });
    for (const bad of ["abc", "12,000", "-5", "0"]) {
      expect(percentRef(f({ price: bad }), "99", "100")).toBeNull(); // a price typed is never replaced by the touch
      expect(percentAmount(market, f({ price: bad }), 25, "1000", best)).toEqual({ qty: null, reason: "Enter a valid price to use %" });
    }
    expect(percentAmount(market, f({ type: "market" }), 25, "1000", none)).toEqual({
      qty: null, reason: "No asks in the book to size the amount by",
    });
  });

  it("sizes a sell by the base balance, with or without a price", () => {
    expect(percentAmount(market, f({ side: "sell", price: "" }), 50, "1.00005", { bestBid: null, bestAsk: null })).toEqual({
      qty: "0.5", reason: null,
    });
  });

  it("shows each amount at its asset's decimals, all of them, rounded against the trader where finer", () => {
    // the quote asset (USDT: 6 decimals) whatever the value: no jump from 2 decimals to 6 and back
    expect(formAmountText(market, "available", "buy", "100000")).toBe("100,000.000000 USDT");
    expect(formAmountText(market, "available", "buy", "99969.763147")).toBe("99,969.763147 USDT");
    expect(formAmountText(market, "available", "buy", "99749.5")).toBe("99,749.500000 USDT");
    // a sell spends the base asset (BTC: 8 decimals)
    expect(formAmountText(market, "available", "sell", "20.01")).toBe("20.01000000 BTC");
    expect(formAmountText(market, "total", "buy", "250")).toBe("250.000000 USDT");
    expect(formAmountText(market, "total", "buy", "30.1765")).toBe("30.176500 USDT");
    expect(formAmountText(market, "fee", "buy", "0.060353")).toBe("0.060353 USDT");
    // finer than a minor unit (0.01 x 0.00001): what is paid up, what is had or received down
    expect(formAmountText(market, "total", "buy", "0.5912345")).toBe("0.591235 USDT");
    expect(formAmountText(market, "total", "sell", "0.5912345")).toBe("0.591234 USDT");
    expect(formAmountText(market, "fee", "sell", "0.0000001")).toBe("0.000001 USDT");
    expect(formAmountText(market, "available", "buy", "1.0000009")).toBe("1.000000 USDT");
    expect(formAmountText(market, "amount", "buy", "0.123456789")).toBe("0.12345678 BTC");
    // nothing known (logged out): a dash, with the asset
    expect(formAmountText(market, "available", "buy", null)).toBe("— USDT");
    expect(formAmountText(market, "total", "sell", dec("1.5"))).toBe("1.500000 USDT");
  });
});

describe("own orders in reach and the rest after the cap", () => {
  const own = (id: number, side: Side, price: string, symbol = "BTC-USDT") =>
    ({ id, symbol, side, price, type: "limit", status: "open" }) as unknown as Order;
  const open = [own(1, "sell", "30100"), own(2, "sell", "30300"), own(3, "buy", "29900"), own(4, "sell", "30050", "ETH-USDT")];

  it("a limit order reaches its price, or the walk's worst price when that comes first; post-only reaches nothing", () => {
    expect(toPlain(reachPrice(form({ price: "30200" }), null)!)).toBe("30200");
    expect(toPlain(reachPrice(form({ price: "30200" }), "30100")!)).toBe("30100"); // the amount fills before
    expect(toPlain(reachPrice(form({ price: "30200" }), "30400")!)).toBe("30200"); // it stops at its price
    expect(toPlain(reachPrice(form({ side: "sell", price: "29800" }), "29850")!)).toBe("29850");
    expect(toPlain(reachPrice(form({ side: "sell", price: "29800" }), "29700")!)).toBe("29800");
    expect(reachPrice(form({ price: "30200", postOnly: true }), "30100")).toBeNull();
    expect(toPlain(reachPrice(form({ type: "market", price: "" }), "30300")!)).toBe("30300");
    expect(reachPrice(form({ type: "market", price: "" }), null)).toBeNull(); // no walk yet: unknown
  });

  it("own orders on the other side of the same market, at prices the order trades at, are the ones STP cancels", () => {
    expect(ownOrdersInReach("BTC-USDT", "buy", dec("30100"), open).map((o) => o.id)).toEqual([1]);
    expect(ownOrdersInReach("BTC-USDT", "buy", dec("30300"), open).map((o) => o.id)).toEqual([1, 2]);
    expect(ownOrdersInReach("BTC-USDT", "buy", dec("30099.99"), open)).toEqual([]);
    expect(ownOrdersInReach("BTC-USDT", "sell", dec("29900"), open).map((o) => o.id)).toEqual([3]);
    expect(ownOrdersInReach("BTC-USDT", "sell", null, open)).toEqual([]);
  });

  it("the warning names how many, their side and their prices", () => {
    expect(selfTradeWarning(market, [])).toBeNull();
    expect(selfTradeWarning(market, [open[0]])).toBe(
      "Would cancel your sell order at 30,100.00 (self-trade prevention: an order never trades with your own)",
    );
    expect(selfTradeWarning(market, [open[1], open[0]])).toBe(
      "Would cancel your 2 sell orders at 30,100.00–30,300.00 (self-trade prevention: an order never trades with your own)",
    );
  });

  it("an order stopped by the cap on resting orders leaves its unfilled amount, or a buy by total its unspent total", () => {
    const capped = (o: Partial<Order>) =>
      ({ reason: "max_makers", quote_qty: null, remaining_qty: "0", quote_filled: "0", fills: [], ...o }) as unknown as Order;
    expect(leftAfterCap(market, capped({ remaining_qty: "0.0372" }))).toEqual({ qty: "0.0372" });
    expect(leftAfterCap(market, capped({ remaining_qty: "0.0372", reason: "market" }))).toBeNull(); // the book ran out
    expect(leftAfterCap(market, capped({ remaining_qty: "0" }))).toBeNull();
    const fills = [
      { fee: "0.12", fee_asset: "USDT" },
      { fee: "0.06", fee_asset: "USDT" },
    ] as unknown as Order["fills"];
    // 100 to spend: 90 of trades and 0.18 of fees spent, 9.82 left
    expect(leftAfterCap(market, capped({ quote_qty: "100", quote_filled: "90", fills }))).toEqual({ quoteQty: "9.82" });
    expect(leftAfterCap(market, capped({ quote_qty: "90.18", quote_filled: "90", fills }))).toBeNull();
  });

  it("a sell by total stopped by the cap leaves the value it has not sold: the seller's fee is not taken from the total", () => {
    const capped = (o: Partial<Order>) =>
      ({ side: "sell", reason: "max_makers", quote_qty: null, remaining_qty: "0", quote_filled: "0", fills: [], ...o }) as unknown as Order;
    const fills = [
      { fee: "0.12", fee_asset: "USDT" },
      { fee: "0.06", fee_asset: "USDT" },
    ] as unknown as Order["fills"];
    // 100 of value to sell: fills worth 90 (0.18 of fees out of the proceeds), 10 left to sell
    expect(leftAfterCap(market, capped({ quote_qty: "100", quote_filled: "90", fills }))).toEqual({ quoteQty: "10" });
    expect(leftAfterCap(market, capped({ quote_qty: "90.1", quote_filled: "90", fills }))).toEqual({ quoteQty: "0.1" });
    expect(leftAfterCap(market, capped({ quote_qty: "90", quote_filled: "90", fills }))).toBeNull();
    expect(leftAfterCap(market, capped({ quote_qty: "100", quote_filled: "90", fills, reason: "market" }))).toBeNull();
  });
});
