import { describe, expect, it } from "vitest";
import {
  DEFAULT_MARKET,
  loadFavorites,
  loadLastMarket,
  loadPref,
  MAX_FAVORITES,
  PREF_KEYS,
  saveFavorites,
  savePref,
  toggleFavorite,
  type PrefStorage,
} from "./prefs";

function fakeStorage(init: Record<string, string> = {}): PrefStorage & { data: Map<string, string> } {
  const data = new Map(Object.entries(init));
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, String(v)),
  };
}

const SIDES = ["buy", "sell"] as const;
const INTERVALS = ["1m", "5m", "15m", "1h", "4h", "1d"] as const;

describe("kept choices", () => {
  it("reads back what was saved, across a reload", () => {
    const s = fakeStorage();
    expect(loadPref(PREF_KEYS.orderSide, SIDES, "buy", s)).toBe("buy"); // nothing stored yet
    savePref(PREF_KEYS.orderSide, "sell", s);
    savePref(PREF_KEYS.chartInterval, "4h", s);
    savePref(PREF_KEYS.accountTab, "history", s);
    expect(s.data.get("exchange.orderSide")).toBe("sell");
    expect(loadPref(PREF_KEYS.orderSide, SIDES, "buy", s)).toBe("sell");
    expect(loadPref(PREF_KEYS.chartInterval, INTERVALS, "1m", s)).toBe("4h");
    expect(loadPref(PREF_KEYS.accountTab, ["open", "history"] as const, "open", s)).toBe("history");
  });

  it("keeps whether the balances hide zero ones", () => {
    const s = fakeStorage();
    expect(loadPref(PREF_KEYS.hideZeroBalances, ["0", "1"] as const, "0", s)).toBe("0");
    savePref(PREF_KEYS.hideZeroBalances, "1", s);
    expect(s.data.get("exchange.hideZeroBalances")).toBe("1");
    expect(loadPref(PREF_KEYS.hideZeroBalances, ["0", "1"] as const, "0", s)).toBe("1");
  });

  it("ignores a stored value that is not one of the choices", () => {
    const s = fakeStorage({ "exchange.orderSide": "short", "exchange.chartInterval": "2m", "exchange.accountTab": "" });
    expect(loadPref(PREF_KEYS.orderSide, SIDES, "buy", s)).toBe("buy");
    expect(loadPref(PREF_KEYS.chartInterval, INTERVALS, "1m", s)).toBe("1m");
    expect(loadPref(PREF_KEYS.accountTab, ["open", "history"] as const, "open", s)).toBe("open");
  });

  it("carries on without storage, or with storage that throws", () => {
    const broken: PrefStorage = {
      getItem: () => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
    };
    expect(loadPref(PREF_KEYS.orderSide, SIDES, "buy", broken)).toBe("buy");
    expect(() => savePref(PREF_KEYS.orderSide, "sell", broken)).not.toThrow();
    expect(loadPref(PREF_KEYS.orderSide, SIDES, "buy", null)).toBe("buy");
    expect(() => savePref(PREF_KEYS.orderSide, "sell", null)).not.toThrow();
  });
});

describe("the last market viewed", () => {
  it("is what the header's Trade link opens, BTC-USDT before any and for anything malformed", () => {
    const s = fakeStorage();
    expect(loadLastMarket(s)).toBe(DEFAULT_MARKET);
    savePref(PREF_KEYS.lastMarket, "ETH-USDT", s);
    expect(loadLastMarket(s)).toBe("ETH-USDT");
    for (const bad of ["eth-usdt", "ETH", "ETH-USDT/../x", "<script>"]) {
      expect(loadLastMarket(fakeStorage({ [PREF_KEYS.lastMarket]: bad }))).toBe(DEFAULT_MARKET);
    }
    const throwing: PrefStorage = { getItem: () => { throw new Error("blocked"); }, setItem: () => undefined };
    expect(loadLastMarket(throwing)).toBe(DEFAULT_MARKET);
  });
});

describe("favorite pairs", () => {
  it("star and unstar, kept across a reload in the order starred", () => {
    const storage = fakeStorage();
    let favs = toggleFavorite(loadFavorites(storage), "ETH-USDT");
    favs = toggleFavorite(favs, "BTC-USDT");
    saveFavorites(favs, storage);
    expect(loadFavorites(storage)).toEqual(["ETH-USDT", "BTC-USDT"]);
    saveFavorites(toggleFavorite(loadFavorites(storage), "ETH-USDT"), storage);
    expect(loadFavorites(storage)).toEqual(["BTC-USDT"]);
  });

  it("reads malformed storage as none of it, and keeps only well-formed distinct symbols", () => {
    const storage = fakeStorage();
    for (const raw of ["{", '"BTC-USDT"', "null", "{}"]) {
      storage.setItem(PREF_KEYS.favorites, raw);
      expect(loadFavorites(storage)).toEqual([]);
    }
    storage.setItem(PREF_KEYS.favorites, JSON.stringify(["BTC-USDT", 7, "btc-usdt", "BTC-USDT", "DOT-USDT"]));
    expect(loadFavorites(storage)).toEqual(["BTC-USDT", "DOT-USDT"]);
    expect(loadFavorites(null)).toEqual([]);
  });

  it("keeps at most MAX_FAVORITES, dropping the oldest star", () => {
    const many = Array.from({ length: MAX_FAVORITES }, (_, i) => `A${i}-USDT`);
    const more = toggleFavorite(many, "NEW-USDT");
    expect(more).toHaveLength(MAX_FAVORITES);
    expect(more[0]).toBe("A1-USDT");
    expect(more.at(-1)).toBe("NEW-USDT");
  });
});
