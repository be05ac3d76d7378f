import { describe, expect, it } from "vitest";
import {
  clearFormDraft,
  draftKey,
  formDraftText,
  isDraftNumber,
  parseFormDraft,
  readFormDraft,
  writeFormDraft,
  type DraftStorage,
  type FormDraft,
} from "./formDraft";

function fakeStorage(init: Record<string, string> = {}): DraftStorage & { data: Map<string, string> } {
  const data = new Map(Object.entries(init));
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, String(v)),
    removeItem: (k) => void data.delete(k),
  };
}

const draft = (d: Partial<FormDraft> = {}): FormDraft => ({
  side: "sell", type: "limit", price: "61000.5", qty: "0.25", total: "", byTotal: false, tif: "ioc", postOnly: false, ...d,
});
const stored = (o: Record<string, unknown>) =>
  JSON.stringify({ v: 1, side: "buy", type: "limit", price: "100", qty: "1", total: "", byTotal: false, tif: "gtc", postOnly: false, ...o });

describe("order form draft", () => {
  it("reads back what was written, per market", () => {
    const s = fakeStorage();
    expect(readFormDraft("BTC-USDT", s)).toBeNull(); // nothing stored yet
    writeFormDraft("BTC-USDT", draft(), s);
    writeFormDraft("ETH-USDT", draft({ side: "buy", type: "market", price: "", qty: "", total: "250", byTotal: true, tif: "gtc" }), s);
    expect(readFormDraft("BTC-USDT", s)).toEqual(draft());
    expect(readFormDraft("ETH-USDT", s)).toEqual(
      draft({ side: "buy", type: "market", price: "", qty: "", total: "250", byTotal: true, tif: "gtc" }),
    );
    expect(readFormDraft("SOL-USDT", s)).toBeNull();
    expect([...s.data.keys()].sort()).toEqual([draftKey("BTC-USDT"), draftKey("ETH-USDT")]);
    expect(draftKey("BTC-USDT")).toBe("exchange.orderDraft.BTC-USDT");
  });

  it("keeps post-only, and an empty form", () => {
    const s = fakeStorage();
    writeFormDraft("BTC-USDT", draft({ tif: "gtc", postOnly: true }), s);
    expect(readFormDraft("BTC-USDT", s)).toEqual(draft({ tif: "gtc", postOnly: true }));
    writeFormDraft("BTC-USDT", draft({ price: "", qty: "" }), s); // the amount cleared after an order
    expect(readFormDraft("BTC-USDT", s)).toEqual(draft({ price: "", qty: "" }));
  });

  it("keeps a number as the form holds it while it is typed", () => {
    for (const t of ["", "0", "12", "12.", ".5", "0.00010", "12,000", "60000.12"]) expect(isDraftNumber(t)).toBe(true);
    for (const t of ["abc", ".", ",", "-1", "+1", "1e5", " 1", "1 ", "1.2.3", "1,000,5", "1.000,5", "Infinity", "0x10", "1".repeat(65)]) {
      expect(isDraftNumber(t)).toBe(false);
    }
    for (const t of [1, null, undefined, true, {}, []]) expect(isDraftNumber(t)).toBe(false);
  });

  it("writes a price or amount the form cannot read as empty, so what is read back is always valid", () => {
    const s = fakeStorage();
    writeFormDraft("BTC-USDT", draft({ price: "abc", qty: "1,000,5", total: "-3" }), s);
    expect(readFormDraft("BTC-USDT", s)).toEqual(draft({ price: "", qty: "", total: "" }));
    // post-only needs GTC: a form that never holds both does not get it back
    expect(parseFormDraft(formDraftText(draft({ tif: "fok", postOnly: true })))).toEqual(draft({ tif: "fok", postOnly: false }));
  });

  it("ignores a stored draft that is not one: not JSON, another shape, unknown or missing fields, wrong types", () => {
    expect(parseFormDraft(stored({}))).not.toBeNull(); // the valid base of the cases below
    const bad: unknown[] = [
      null,
      undefined,
      "",
      "not json",
      "{",
      "null",
      "42",
      '"a draft"',
      "[]",
      JSON.stringify([stored({})]),
      stored({ v: 2 }), // another version of the terminal
      stored({ v: "1" }),
      stored({ extra: 1 }), // a field it does not know
      stored({ clientOrderId: "t0123456789abcdef" }), // never kept: a restored draft is a new order
      stored({}).replace("{", '{"__proto__":{"x":1},'),
      JSON.stringify({ v: 1, side: "buy", type: "limit", price: "1", qty: "1" }), // fields missing
      stored({ side: "short" }),
      stored({ side: 1 }),
      stored({ type: "stop" }),
      stored({ tif: "gtd" }),
      stored({ tif: null }),
      stored({ byTotal: "false" }),
      stored({ postOnly: 1 }),
      stored({ postOnly: true, tif: "ioc" }),
      stored({ price: 100 }),
      stored({ price: "1e5" }),
      stored({ price: "<img src=x onerror=alert(1)>" }),
      stored({ qty: null }),
      stored({ qty: "-1" }),
      stored({ total: {} }),
      stored({ total: "9".repeat(100) }),
      "x".repeat(2_000),
    ];
    for (const text of bad) {
      expect(parseFormDraft(text as string), String(text)).toBeNull();
      const s = fakeStorage(typeof text === "string" ? { [draftKey("BTC-USDT")]: text } : {});
      expect(readFormDraft("BTC-USDT", s)).toBeNull();
    }
  });

  it("forgets a market's draft, and only that one", () => {
    const s = fakeStorage();
    writeFormDraft("BTC-USDT", draft(), s);
    writeFormDraft("ETH-USDT", draft(), s);
    clearFormDraft("BTC-USDT", s);
    expect(readFormDraft("BTC-USDT", s)).toBeNull();
    expect(readFormDraft("ETH-USDT", s)).toEqual(draft());
    clearFormDraft("SOL-USDT", s); // nothing stored: nothing happens
  });

  it("carries on without storage, or with storage that throws (blocked, private mode, quota)", () => {
    const broken: DraftStorage = {
      getItem: () => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
      removeItem: () => {
        throw new Error("SecurityError");
      },
    };
    expect(readFormDraft("BTC-USDT", broken)).toBeNull();
    expect(() => writeFormDraft("BTC-USDT", draft(), broken)).not.toThrow();
    expect(() => clearFormDraft("BTC-USDT", broken)).not.toThrow();
    expect(readFormDraft("BTC-USDT", null)).toBeNull();
    expect(() => writeFormDraft("BTC-USDT", draft(), null)).not.toThrow();
    expect(() => clearFormDraft("BTC-USDT", null)).not.toThrow();
    // the default storage, whatever this test environment has of it
    expect(() => writeFormDraft("BTC-USDT", draft())).not.toThrow();
    expect(() => readFormDraft("BTC-USDT")).not.toThrow();
    expect(() => clearFormDraft("BTC-USDT")).not.toThrow();
  });

  it("uses sessionStorage by default, never localStorage", () => {
    const session = fakeStorage();
    const local = fakeStorage();
    const g = globalThis as { sessionStorage?: unknown; localStorage?: unknown };
    const before = { session: Object.getOwnPropertyDescriptor(g, "sessionStorage"), local: Object.getOwnPropertyDescriptor(g, "localStorage") };
    Object.defineProperty(g, "sessionStorage", { value: session, configurable: true });
    Object.defineProperty(g, "localStorage", { value: local, configurable: true });
    try {
      writeFormDraft("BTC-USDT", draft());
      expect(session.data.get(draftKey("BTC-USDT"))).toBe(formDraftText(draft()));
      expect(local.data.size).toBe(0);
      expect(readFormDraft("BTC-USDT")).toEqual(draft());
      clearFormDraft("BTC-USDT");
      expect(session.data.size).toBe(0);
      // where storage is blocked, reading the property itself throws
      Object.defineProperty(g, "sessionStorage", {
        get: () => {
          throw new Error("SecurityError");
        },
        configurable: true,
      });
      expect(() => writeFormDraft("BTC-USDT", draft())).not.toThrow();
      expect(readFormDraft("BTC-USDT")).toBeNull();
      expect(local.data.size).toBe(0);
    } finally {
      for (const [name, d] of [["sessionStorage", before.session], ["localStorage", before.local]] as const) {
        if (d) Object.defineProperty(g, name, d);
        else delete g[name];
      }
    }
  });
});
