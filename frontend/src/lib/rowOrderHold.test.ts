import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { heldOrder, ROW_ORDER_RELEASE_MS, RowOrderHold } from "./rowOrderHold";

describe("heldOrder", () => {
  it("keeps the held order, drops the rows gone and adds new ones at the end in their live order", () => {
    expect(heldOrder(["c", "a", "b"], ["a", "b", "c"])).toEqual(["a", "b", "c"]);
    expect(heldOrder(["c", "a"], ["a", "b", "c"])).toEqual(["a", "c"]);
    expect(heldOrder(["e", "c", "a", "d"], ["a", "c"])).toEqual(["a", "c", "e", "d"]);
  });
});

describe("RowOrderHold", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("follows the live order while nothing holds it", () => {
    const h = new RowOrderHold(vi.fn());
    expect(h.arrange(["a", "b"])).toEqual(["a", "b"]);
    expect(h.arrange(["b", "a"])).toEqual(["b", "a"]);
    expect(h.holding).toBe(false);
  });

  it("keeps the order under the pointer, and re-sorts with the latest data the pause after it left", () => {
    const changed = vi.fn();
    const h = new RowOrderHold(changed);
    h.hold("pointer", ["a", "b", "c"]);
    expect(h.arrange(["c", "b", "a"])).toEqual(["a", "b", "c"]); // tickers moved: the rows did not
    vi.advanceTimersByTime(60_000);
    expect(h.arrange(["b", "c", "a"])).toEqual(["a", "b", "c"]); // held as long as the pointer stays

    h.release("pointer");
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS - 1);
    expect(h.arrange(["b", "c", "a"])).toEqual(["a", "b", "c"]);
    expect(changed).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(changed).toHaveBeenCalledTimes(1); // the page renders again, in the live order
    expect(h.arrange(["b", "c", "a"])).toEqual(["b", "c", "a"]);
    expect(h.holding).toBe(false);
  });

  it("stays held when the pointer comes back within the pause", () => {
    const changed = vi.fn();
    const h = new RowOrderHold(changed);
    h.hold("pointer", ["a", "b"]);
    h.release("pointer");
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS - 100);
    h.hold("pointer", ["a", "b"]);
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS * 2);
    expect(changed).not.toHaveBeenCalled();
    expect(h.arrange(["b", "a"])).toEqual(["a", "b"]);
    h.release("pointer");
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(h.arrange(["b", "a"])).toEqual(["b", "a"]);
  });

  it("holds while a finger is down, though the browser cancelled its pointer to scroll", () => {
    const changed = vi.fn();
    const h = new RowOrderHold(changed);
    h.hold("pointer", ["a", "b"]);
    h.hold("touch", ["b", "a"]); // already held: the order on screen stays the first one
    h.release("pointer"); // pointercancel, then pointerleave, as the page starts to scroll
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS * 3);
    expect(changed).not.toHaveBeenCalled();
    expect(h.arrange(["b", "a"])).toEqual(["a", "b"]);
    h.release("touch");
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(h.arrange(["b", "a"])).toEqual(["b", "a"]);
  });

  it("re-sorts at once for a chosen sort, and holds the new order while the pointer stays", () => {
    const changed = vi.fn();
    const h = new RowOrderHold(changed);
    h.hold("pointer", ["a", "b", "c"]);
    h.resort(); // a header click
    const shown = h.arrange(["c", "a", "b"]);
    expect(shown).toEqual(["c", "a", "b"]);
    h.settle(shown); // rendered
    expect(h.arrange(["b", "a", "c"])).toEqual(["c", "a", "b"]); // held again, in the new order
    h.release("pointer");
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(h.arrange(["b", "a", "c"])).toEqual(["b", "a", "c"]);
  });

  it("keeps nothing after a render while nothing holds it, and lets go on dispose", () => {
    const changed = vi.fn();
    const h = new RowOrderHold(changed);
    h.settle(["a", "b"]);
    expect(h.arrange(["b", "a"])).toEqual(["b", "a"]);
    h.hold("pointer", ["a", "b"]);
    h.release("pointer");
    h.dispose();
    vi.advanceTimersByTime(ROW_ORDER_RELEASE_MS * 2);
    expect(changed).not.toHaveBeenCalled(); // no render after the page has gone
    expect(h.arrange(["b", "a"])).toEqual(["b", "a"]);
  });

  it("filters and adds rows while held, without moving the rest", () => {
    const h = new RowOrderHold(vi.fn());
    h.hold("touch", ["a", "b", "c"]);
    expect(h.arrange(["c", "b"])).toEqual(["b", "c"]);
    expect(h.arrange(["d", "c", "b", "a"])).toEqual(["a", "b", "c", "d"]);
  });
});
