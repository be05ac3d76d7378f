import { describe, expect, it } from "vitest";
import { BURST_SINGLES, BURST_WINDOW_MS, NoticeBursts, type ToastOp } from "./noticeBursts";
import type { OrderNotice } from "./orderEvents";

const accepted = (symbol = "BTC-USDT", n = 1): OrderNotice => ({
  kind: "info", title: "Order accepted", body: `BUY ${n} ${symbol} @ 100`, event: "accepted", symbol,
});
const filled = (symbol = "BTC-USDT"): OrderNotice => ({
  kind: "success", title: "Order filled", body: `BUY 1 ${symbol} @ 100`, event: "filled", symbol,
});

/** The toasts on screen after applying `ops` in order (a show of a key on screen replaces it). */
function screen(ops: ToastOp[]): Map<string, string> {
  const shown = new Map<string, string>();
  for (const op of ops) {
    if (op.op === "hide") shown.delete(op.key);
    else shown.set(op.key, op.toast.body ? `${op.toast.title} | ${op.toast.body}` : op.toast.title);
  }
  return shown;
}

describe("NoticeBursts", () => {
  it("shows a single notice at once, as its own toast", () => {
    const ops = new NoticeBursts().add(accepted(), 0);
    expect(ops).toEqual([
      { op: "show", key: expect.any(String), toast: { kind: "info", title: "Order accepted", body: "BUY 1 BTC-USDT @ 100" } },
    ]);
  });

  it("shows up to 3 notices of one event within a second one by one", () => {
    const b = new NoticeBursts();
    const ops = [0, 300, 600].flatMap((t, i) => b.add(accepted("BTC-USDT", i + 1), t));
    expect(ops.map((o) => o.op)).toEqual(["show", "show", "show"]);
    expect([...screen(ops).values()]).toEqual([
      "Order accepted | BUY 1 BTC-USDT @ 100",
      "Order accepted | BUY 2 BTC-USDT @ 100",
      "Order accepted | BUY 3 BTC-USDT @ 100",
    ]);
  });

  it("folds 20 orders placed within a second into one summary that replaces the first toasts", () => {
    const b = new NoticeBursts();
    const ops: ToastOp[] = [];
    for (let i = 0; i < 20; i++) ops.push(...b.add(accepted("BTC-USDT", i + 1), i * 40));
    expect([...screen(ops).values()]).toEqual(["20 orders accepted on BTC-USDT"]);
    // one summary toast, updated in place by every notice after the 4th (not a new toast each)
    const summaryKeys = new Set(ops.filter((o) => o.op === "show" && o.toast.title.includes("orders")).map((o) => o.key));
    expect(summaryKeys.size).toBe(1);
    const next = b.add(accepted(), 20 * 40);
    expect(next).toEqual([{ op: "show", key: [...summaryKeys][0], toast: { kind: "info", title: "21 orders accepted on BTC-USDT" } }]);
  });

  it("takes down exactly the toasts of the burst when the 4th notice comes", () => {
    const b = new NoticeBursts();
    expect(BURST_SINGLES).toBe(3);
    const first = [0, 1, 2].map((t) => b.add(accepted(), t)[0].key);
    const ops = b.add(accepted(), 3);
    expect(ops.slice(0, 3)).toEqual(first.map((key) => ({ op: "hide", key })));
    expect(ops[3]).toMatchObject({ op: "show", toast: { title: "4 orders accepted on BTC-USDT" } });
  });

  it("names the count per market when a burst spans several", () => {
    const b = new NoticeBursts();
    const ops = ["BTC-USDT", "ETH-USDT", "BTC-USDT", "BTC-USDT", "ETH-USDT"].flatMap((s, i) => b.add(accepted(s), i * 10));
    expect([...screen(ops).values()]).toEqual(["5 orders accepted | 3 on BTC-USDT, 2 on ETH-USDT"]);
  });

  it("counts each event on its own: 3 accepted and 3 filled within a second all show", () => {
    const b = new NoticeBursts();
    const ops = [accepted(), filled(), accepted(), filled(), accepted(), filled()].flatMap((n, i) => b.add(n, i * 50));
    expect(ops.every((o) => o.op === "show")).toBe(true);
    expect(screen(ops).size).toBe(6);
    // a 4th fill makes a summary of the fills only; the accepted toasts stay
    const more = b.add(filled(), 400);
    expect([...screen([...ops, ...more]).values()]).toEqual([
      "Order accepted | BUY 1 BTC-USDT @ 100",
      "Order accepted | BUY 1 BTC-USDT @ 100",
      "Order accepted | BUY 1 BTC-USDT @ 100",
      "4 orders filled on BTC-USDT",
    ]);
  });

  it("never folds notices that come more than a second apart", () => {
    const b = new NoticeBursts();
    const ops = Array.from({ length: 10 }, (_, i) => b.add(accepted(), i * 1_000)).flat();
    expect(ops).toHaveLength(10);
    expect(ops.every((o) => o.op === "show" && o.toast.title === "Order accepted")).toBe(true);
  });

  it("counts only the notices of the last second towards a burst", () => {
    const b = new NoticeBursts();
    // 3 within a second, then one 1 s after the first: only 2 are within its window, so it shows alone
    const ops = [0, 500, 900, 1_000].flatMap((t) => b.add(accepted(), t));
    expect(ops.map((o) => o.op)).toEqual(["show", "show", "show", "show"]);
    expect(screen(ops).size).toBe(4);
  });

  it("ends a burst after a quiet second: the next notice shows alone, a new burst gets a new summary", () => {
    const b = new NoticeBursts();
    const burst1 = [0, 10, 20, 30, 40].flatMap((t) => b.add(accepted(), t));
    const key1 = burst1[burst1.length - 1].key;
    const alone = b.add(accepted("BTC-USDT", 7), 40 + BURST_WINDOW_MS); // a second after the last one
    expect(alone).toEqual([
      { op: "show", key: expect.any(String), toast: { kind: "info", title: "Order accepted", body: "BUY 7 BTC-USDT @ 100" } },
    ]);
    const burst2 = [1_100, 1_110, 1_120].flatMap((t) => b.add(accepted(), t));
    const summary2 = burst2[burst2.length - 1];
    expect(summary2).toMatchObject({ op: "show", toast: { title: "4 orders accepted on BTC-USDT" } });
    expect(summary2.key).not.toBe(key1);
  });

  it("keeps a burst going while its notices come less than a second apart", () => {
    const b = new NoticeBursts();
    const ops = Array.from({ length: 12 }, (_, i) => b.add(accepted(), i * 900)).flat();
    // 0, 900 and 1800 show (the window never holds more than 2 at once): no burst at this pace
    expect(screen(ops).size).toBe(12);
    const fast = new NoticeBursts();
    const start = [0, 10, 20, 30].flatMap((t) => fast.add(accepted(), t));
    const slow = [900, 1_800, 2_700].flatMap((t) => fast.add(accepted(), t));
    expect([...screen([...start, ...slow]).values()]).toEqual(["7 orders accepted on BTC-USDT"]);
  });
});
