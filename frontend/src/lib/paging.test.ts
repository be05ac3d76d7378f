import { describe, expect, it } from "vitest";
import { fetchAllPages, LatestLoad, type Page } from "./paging";

/** A fake listing of `total` numbered items served `size` at a time; records the cursors it was asked for. */
function listing(total: number, size: number) {
  const asked: (string | null)[] = [];
  const fetchPage = async (cursor: string | null): Promise<Page<number>> => {
    asked.push(cursor);
    const start = cursor === null ? 0 : Number(cursor);
    const items = Array.from({ length: Math.max(0, Math.min(size, total - start)) }, (_, i) => start + i);
    const end = start + items.length;
    return { items, next_cursor: end < total ? String(end) : null };
  };
  return { fetchPage, asked };
}

const wide = { maxItems: 10_000, maxPages: 50 };

describe("fetchAllPages", () => {
  it("follows next_cursor from the first page to the last", async () => {
    const { fetchPage, asked } = listing(7, 3);
    const all = await fetchAllPages(fetchPage, wide);
    expect(all).toEqual({ items: [0, 1, 2, 3, 4, 5, 6], complete: true });
    expect(asked).toEqual([null, "3", "6"]);
  });

  it("stops at a null cursor after one page, even an empty one", async () => {
    const one = listing(2, 5);
    expect(await fetchAllPages(one.fetchPage, wide)).toEqual({ items: [0, 1], complete: true });
    expect(one.asked).toEqual([null]);
    const none = listing(0, 5);
    expect(await fetchAllPages(none.fetchPage, wide)).toEqual({ items: [], complete: true });
    expect(none.asked).toEqual([null]);
  });

  it("stops asking once maxItems are collected and cuts the result to it", async () => {
    const { fetchPage, asked } = listing(100, 4);
    const all = await fetchAllPages(fetchPage, { maxItems: 10, maxPages: 50 });
    expect(all).toEqual({ items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], complete: false });
    expect(asked).toEqual([null, "4", "8"]);
  });

  it("is complete when the last page ends exactly at maxItems", async () => {
    const { fetchPage } = listing(8, 4);
    expect(await fetchAllPages(fetchPage, { maxItems: 8, maxPages: 50 })).toEqual({
      items: [0, 1, 2, 3, 4, 5, 6, 7],
      complete: true,
    });
  });

  it("stops after maxPages even when the server never ends the chain", async () => {
    let calls = 0;
    const endless = async (): Promise<Page<number>> => ({ items: [calls++], next_cursor: "again" });
    const all = await fetchAllPages(endless, { maxItems: 10_000, maxPages: 5 });
    expect(all).toEqual({ items: [0, 1, 2, 3, 4], complete: false });
    expect(calls).toBe(5);
  });

  it("rejects with the first page error and asks for nothing after it", async () => {
    const asked: (string | null)[] = [];
    const failing = async (cursor: string | null): Promise<Page<number>> => {
      asked.push(cursor);
      if (cursor === "2") throw new Error("boom");
      return { items: [asked.length], next_cursor: String(asked.length + 1) };
    };
    await expect(fetchAllPages(failing, wide)).rejects.toThrow("boom");
    expect(asked).toEqual([null, "2"]);
  });
});

describe("LatestLoad", () => {
  it("marks an older load stale and aborts it when a newer one starts", () => {
    const loads = new LatestLoad();
    const first = loads.start();
    expect(first.isLatest()).toBe(true);
    const second = loads.start();
    expect(first.signal.aborted).toBe(true);
    expect(first.isLatest()).toBe(false);
    expect(second.isLatest()).toBe(true);
    expect(second.signal.aborted).toBe(false);
  });

  it("drops an older load's answer that arrives after the newer one finished", async () => {
    const loads = new LatestLoad();
    let state = "";
    let answerOld: (v: string) => void = () => undefined;
    const old = loads.start();
    const oldDone = new Promise<string>((r) => (answerOld = r)).then((v) => {
      if (old.isLatest()) state = v;
    });
    const now = loads.start();
    await Promise.resolve("new").then((v) => {
      if (now.isLatest()) state = v;
    });
    answerOld("old");
    await oldDone;
    expect(state).toBe("new");
  });

  it("cancel leaves no load current", () => {
    const loads = new LatestLoad();
    const one = loads.start();
    loads.cancel();
    expect(one.isLatest()).toBe(false);
    expect(one.signal.aborted).toBe(true);
    loads.cancel(); // nothing in flight: harmless
  });

  it("stops a page walk between pages once superseded", async () => {
    const loads = new LatestLoad();
    const { signal } = loads.start();
    const asked: (string | null)[] = [];
    const fetchPage = async (cursor: string | null): Promise<Page<number>> => {
      signal.throwIfAborted();
      asked.push(cursor);
      if (cursor === null) loads.start(); // a reload while the first page is on its way
      return { items: [asked.length], next_cursor: String(asked.length) };
    };
    await expect(fetchAllPages(fetchPage, wide)).rejects.toMatchObject({ name: "AbortError" });
    expect(asked).toEqual([null]);
  });
});
