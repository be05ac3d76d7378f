import { describe, expect, it } from "vitest";
import type { Ticker, Trade } from "../api/types";
import { changePct, liveTicker, mergeTrades } from "./lastPrice";
import { dec } from "./money";

const SYM = "BTC-USDT";

function ticker(last: string | null, extra: Partial<Ticker> = {}): Ticker {
  return {
    symbol: SYM,
    last,
    open_24h: "100",
    high_24h: "110",
    low_24h: "90",
    volume_24h: "5",
    quote_volume_24h: "500",
    change_24h_pct: last ? changePct(dec(last), dec("100")) : null,
    best_bid: "99",
    best_ask: "101",
    ...extra,
  };
}

function trade(id: number, price: string, side = "buy"): Trade {
  return { id, price, qty: "1", side, ts: 1_700_000_000_000 + id };
}

describe("liveTicker: the header's last price", () => {
  it("is the ticker's while no trade is known, the newest trade's as soon as one is", () => {
    expect(liveTicker(SYM, ticker("101"), undefined)).toEqual(ticker("101"));
    const live = liveTicker(SYM, ticker("101"), trade(7, "104"));
    expect(live?.last).toBe("104");
    expect(live?.change_24h_pct).toBe("4"); // and with it the colour: up
    expect(live?.volume_24h).toBe("5"); // the 24h volumes stay the ticker's
    expect(live?.best_bid).toBe("99");
  });

  it("never moves back when a ticker computed before the newest trade arrives later (no flicker)", () => {
    // the sequence the page sees: ticker 101, trade 104 (tape), ticker 101 again (stale), ticker 104, trade 98
    const tape: Trade[][] = [[], [trade(7, "104")], [trade(7, "104")], [trade(7, "104")], [trade(8, "98", "sell")]];
    const tickers = [ticker("101"), ticker("101"), ticker("101"), ticker("104"), ticker("104")];
    const shown = tape.map((trades, i) => liveTicker(SYM, tickers[i], trades[0])?.last);
    expect(shown).toEqual(["101", "104", "104", "104", "98"]);
    const signs = tape.map((trades, i) => liveTicker(SYM, tickers[i], trades[0])?.change_24h_pct);
    expect(signs).toEqual(["1", "4", "4", "4", "-2"]);
  });

  it("keeps the ticker's own strings when it already says the trade's price", () => {
    const t = ticker("104.0", { change_24h_pct: "4" });
    expect(liveTicker(SYM, t, trade(7, "104"))).toBe(t);
  });

  it("widens the 24h high and low to a trade beyond them, at once", () => {
    expect(liveTicker(SYM, ticker("101"), trade(9, "112"))).toMatchObject({ high_24h: "112", low_24h: "90" });
    expect(liveTicker(SYM, ticker("101"), trade(9, "85.5"))).toMatchObject({ high_24h: "110", low_24h: "85.5" });
  });

  it("shows a trade before the first ticker, and leaves the change alone without a 24h open", () => {
    expect(liveTicker(SYM, undefined, trade(1, "50"))).toMatchObject({ symbol: SYM, last: "50", change_24h_pct: null });
    const noOpen = ticker("101", { open_24h: null, change_24h_pct: null });
    expect(liveTicker(SYM, noOpen, trade(2, "102"))).toMatchObject({ last: "102", change_24h_pct: null });
  });

  it("ignores a trade whose price is not a decimal", () => {
    expect(liveTicker(SYM, ticker("101"), trade(3, "n/a"))).toEqual(ticker("101"));
  });
});

describe("changePct: the 24h change as the server computes it", () => {
  it("rounds half to even at 2 decimals and drops trailing zeros", () => {
    expect(changePct(dec("102.5"), dec("100"))).toBe("2.5");
    expect(changePct(dec("101"), dec("100"))).toBe("1");
    expect(changePct(dec("100.00125"), dec("100"))).toBe("0"); // 0.00125% -> 0.00
    expect(changePct(dec("100.005"), dec("100"))).toBe("0"); // 0.005 -> 0.00 (even)
    expect(changePct(dec("100.015"), dec("100"))).toBe("0.02"); // 0.015 -> 0.02 (even)
    expect(changePct(dec("99.985"), dec("100"))).toBe("-0.02");
    expect(changePct(dec("99.995"), dec("100"))).toBe("0"); // -0.005 -> -0.00
    expect(changePct(dec("1"), dec("3"))).toBe("-66.67");
    expect(changePct(dec("250"), dec("0.5"))).toBe("49900");
  });

  it("needs a positive open", () => {
    expect(changePct(dec("1"), null)).toBeNull();
    expect(changePct(dec("1"), dec("0"))).toBeNull();
  });
});

describe("mergeTrades: the tape", () => {
  it("keeps the newest first by id, each trade once, at most `keep`", () => {
    const prev = [trade(5, "1"), trade(4, "1"), trade(3, "1")];
    const out = mergeTrades(prev, [trade(6, "2"), trade(5, "1"), trade(7, "3")], 4);
    expect(out.map((t) => t.id)).toEqual([7, 6, 5, 4]);
  });

  it("puts a REST page that comes after live trades behind them (a reconnection's reload)", () => {
    const live = [trade(12, "1"), trade(11, "1")];
    const out = mergeTrades(live, [trade(11, "1"), trade(10, "1"), trade(9, "1")], 60);
    expect(out.map((t) => t.id)).toEqual([12, 11, 10, 9]);
  });
});
