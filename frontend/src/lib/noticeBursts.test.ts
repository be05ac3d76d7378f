import { describe, expect, it } from "vitest";
import { BURST_SINGLES, BURST_WINDOW_MS, NoticeBursts, type ToastOp } from "./noticeBursts";
import type { OrderNotice } from "./orderEvents";

const accepted = (symbol = "BTC-USDT", n = 1): OrderNotice => ({
  kind: "info", title: "Order accepted", body: `BUY ${n} ${symbol} @ 100`, event: "accepted", symbol,
});
const filled = (symbol = "BTC-USDT"): OrderNotice => ({
  kind: "success", title: "Order filled", body: `BUY 1 ${symbol} @ 100`, event: "filled", symbol,
});

/** A fill notice of order `id` (`filled` of 0.05 so far), as lib/orderEvents.ts makes it. */
const fill = (id: string, filled: string, done = false, symbol = "BTC-USDT"): OrderNotice => ({
  kind: "success",
  title: done ? "Order filled" : "Order partially filled",
  body: done ? `BUY 0.05 ${symbol} @ 100` : `${filled} of BUY 0.05 ${symbol} @ 100`,
  event: done ? "filled" : "partially filled",
  symbol,
  orderId: id,
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

  it("updates one toast in place for every fill of one order, however fast they come", () => {
    const b = new NoticeBursts();
    const ops = [
      ...b.add(fill("7", "0.01187"), 0),
      ...b.add(fill("7", "0.0252"), 200),
      ...b.add(fill("7", "0.04014"), 400),
      ...b.add(fill("7", "0.05", true), 600),
    ];
    expect(ops.every((o) => o.op === "show")).toBe(true);
    expect(new Set(ops.map((o) => o.key)).size).toBe(1);
    expect([...screen(ops).values()]).toEqual(["Order filled | BUY 0.05 BTC-USDT @ 100"]);
    // and seconds apart (its toast gone meanwhile or not): still that order's key
    const later = b.add(fill("7", "0.05", true), 10_000);
    expect(later).toEqual([{ op: "show", key: ops[0].key, toast: expect.objectContaining({ title: "Order filled" }) }]);
  });

  it("keeps the toasts of other orders and other notices apart from an order's fills", () => {
    const b = new NoticeBursts();
    const ops = [
      ...b.add(accepted(), 0),
      ...b.add(fill("7", "0.01"), 100),
      ...b.add(fill("8", "0.02"), 200),
      ...b.add(fill("7", "0.03"), 300),
      ...b.add(fill("8", "0.04"), 400),
    ];
    expect([...screen(ops).values()]).toEqual([
      "Order accepted | BUY 1 BTC-USDT @ 100",
      "Order partially filled | 0.03 of BUY 0.05 BTC-USDT @ 100",
      "Order partially filled | 0.04 of BUY 0.05 BTC-USDT @ 100",
    ]);
  });

  it("never starts a burst with the fills of a few orders: only new orders count towards one", () => {
    const b = new NoticeBursts();
    // 3 orders filled bit by bit, 9 notices within a second: 3 toasts, no summary
    const ops = [0, 1, 2].flatMap((round) =>
      ["1", "2", "3"].flatMap((id, i) => b.add(fill(id, `0.0${round + 1}`), round * 300 + i * 10)),
    );
    expect(ops.every((o) => o.op === "show")).toBe(true);
    expect([...screen(ops).values()]).toEqual(["1", "2", "3"].map(() => "Order partially filled | 0.03 of BUY 0.05 BTC-USDT @ 100"));
    // a 4th order partly filled within the second: the summary takes the 4 toasts over, counting 4 orders
    const more = b.add(fill("4", "0.01"), 700);
    expect([...screen([...ops, ...more]).values()]).toEqual(["4 orders partially filled on BTC-USDT"]);
    // another fill of an order the summary counts: the same count, no toast of its own
    const again = b.add(fill("2", "0.04"), 800);
    expect(again).toEqual([{ op: "show", key: more.at(-1)!.key, toast: { kind: "success", title: "4 orders partially filled on BTC-USDT" } }]);
    // a 5th order: counted
    expect(b.add(fill("5", "0.01"), 900).at(-1)).toMatchObject({ toast: { title: "5 orders partially filled on BTC-USDT" } });
  });

  it("folds an order's own toast into the summary of its new event, taking it down", () => {
    const b = new NoticeBursts();
    const first = b.add(fill("9", "0.01"), 0)[0].key; // a partial fill of order 9
    const ops = [100, 200, 300].flatMap((t, i) => b.add({ ...filled(), orderId: `o${i}` }, t)); // 3 orders filled
    const done = b.add(fill("9", "0.05", true), 400); // order 9 filled too: the 4th "filled" within a second
    expect(done.filter((o) => o.op === "hide").map((o) => o.key)).toContain(first);
    expect([...screen([...ops, ...done]).values()]).toEqual(["4 orders filled on BTC-USDT"]);
  });
});
