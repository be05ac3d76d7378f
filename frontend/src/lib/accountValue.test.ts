import { describe, expect, it } from "vitest";
import { accountValue, isZeroBalance, valueMarkets } from "./accountValue";
import { toPlain } from "./money";

describe("the balances' estimated value in USDT", () => {
  const prices: Record<string, string | null> = { BTC: "60000.5", ETH: "3000", MINA: null };
  const priceOf = (asset: string) => prices[asset];

  it("adds each asset's total at its USDT market's last price, USDT at 1, exactly", () => {
    const { value, unpriced } = accountValue(
      [
        { asset: "USDT", total: "1000.000001" },
        { asset: "BTC", total: "0.5" },
        { asset: "ETH", total: "0.00000001" },
      ],
      priceOf,
    );
    expect(toPlain(value)).toBe("31000.250031");
    expect(unpriced).toEqual([]);
  });

  it("leaves out and names the assets without a price, but not the zero balances", () => {
    const { value, unpriced } = accountValue(
      [
        { asset: "MINA", total: "10" },
        { asset: "DOT", total: "5" },
        { asset: "ATOM", total: "0" },
        { asset: "USDT", total: "7" },
      ],
      priceOf,
    );
    expect(toPlain(value)).toBe("7");
    expect(unpriced).toEqual(["DOT", "MINA"]);
  });

  it("finds each base asset's market quoted in USDT", () => {
    const markets = [
      { symbol: "BTC-USDT", base: "BTC", quote: "USDT" },
      { symbol: "ETH-BTC", base: "ETH", quote: "BTC" },
    ];
    expect(valueMarkets(markets)).toEqual(new Map([["BTC", "BTC-USDT"]]));
  });

  it("calls a balance zero only when nothing is available and nothing is in orders", () => {
    expect(isZeroBalance({ available: "0.000000", held: "0" })).toBe(true);
    expect(isZeroBalance({ available: "0", held: "0.00000001" })).toBe(false);
    expect(isZeroBalance({ available: "1", held: "0" })).toBe(false);
    expect(isZeroBalance({ available: null, held: "0" })).toBe(false);
  });
});
