import { describe, expect, it } from "vitest";
import { BookSync, SnapshotWatch, type BookMessage } from "./bookSync";

const snap = (seq: number, bids: [string, string][], asks: [string, string][]): BookMessage => ({
  type: "snapshot", seq, bids, asks,
});
const upd = (seq: number, bids: [string, string][] = [], asks: [string, string][] = []): BookMessage => ({
  type: "update", seq, bids, asks,
});

const merged = (first: number, seq: number, bids: [string, string][] = [], asks: [string, string][] = []): BookMessage => ({
  type: "update", first_seq: first, seq, bids, asks,
});

function fresh(): BookSync {
  const b = new BookSync();
  expect(b.apply(snap(10, [["100", "1"], ["99", "2"]], [["101", "1.5"], ["102", "3"]]))).toBe("applied");
  return b;
}

describe("BookSync", () => {
  it("builds sorted levels with cumulative depth from a snapshot", () => {
    const b = fresh();
    expect(b.levels("bids")).toEqual([
      { price: "100", qty: "1", cumulative: "1" },
      { price: "99", qty: "2", cumulative: "3" },
    ]);
    expect(b.levels("asks").map((l) => l.cumulative)).toEqual(["1.5", "4.5"]);
    expect(b.bestBid()).toBe("100");
    expect(b.bestAsk()).toBe("101");
  });

  it("applies contiguous updates with absolute quantities and removes zero levels", () => {
    const b = fresh();
    expect(b.apply(upd(11, [["100", "5"]], [["101", "0"]]))).toBe("applied");
    expect(b.apply(upd(12, [["99.5", "1"]]))).toBe("applied");
    expect(b.levels("bids").map((l) => [l.price, l.qty])).toEqual([["100", "5"], ["99.5", "1"], ["99", "2"]]);
    expect(b.bestAsk()).toBe("102");
    expect(b.seq).toBe(12);
  });

  it("treats equal prices written differently as one level", () => {
    const b = fresh();
    b.apply(upd(11, [["100.00", "7"]]));
    expect(b.levels("bids")[0]).toEqual({ price: "100", qty: "7", cumulative: "7" });
  });

  it("ignores duplicate and stale updates", () => {
    const b = fresh();
    expect(b.apply(upd(10, [["100", "9"]]))).toBe("ignored");
    expect(b.apply(upd(11, [["100", "2"]]))).toBe("applied");
    expect(b.apply(upd(11, [["100", "9"]]))).toBe("ignored");
    expect(b.levels("bids")[0].qty).toBe("2");
  });

  it("reorders a briefly out-of-order update", () => {
    const b = fresh();
    expect(b.apply(upd(12, [["98", "1"]]))).toBe("buffered");
    expect(b.seq).toBe(10);
    expect(b.apply(upd(11, [["100", "0"]]))).toBe("applied");
    expect(b.seq).toBe(12);
    expect(b.levels("bids").map((l) => l.price)).toEqual(["99", "98"]);
  });

  it("asks for a resync on a real gap and waits for a new snapshot", () => {
    const b = fresh();
    const results = [13, 14, 15, 16].map((s) => b.apply(upd(s, [["90", String(s)]])));
    expect(results.at(-1)).toBe("resync");
    expect(b.synced).toBe(false);
    expect(b.levels("bids")).toEqual([]);
    expect(b.apply(upd(17))).toBe("buffered");
    expect(b.apply(snap(16, [["95", "1"]], [["96", "1"]]))).toBe("applied");
    expect(b.seq).toBe(17);
    expect(b.levels("bids")).toEqual([{ price: "95", qty: "1", cumulative: "1" }]);
  });

  it("without a reordering window (one in-order WebSocket) the first gap asks for a resync", () => {
    const b = new BookSync(0);
    expect(b.apply(snap(10, [["100", "1"]], [["101", "1"]]))).toBe("applied");
    expect(b.apply(upd(12, [["99", "1"]]))).toBe("resync"); // 11 was lost: the book is stale now
    expect(b.synced).toBe(false);
  });

  it("replays updates buffered before the snapshot and drops those it already contains", () => {
    const b = new BookSync();
    expect(b.apply(upd(4, [["10", "4"]]))).toBe("buffered");
    expect(b.apply(upd(5, [["10", "5"]]))).toBe("buffered");
    expect(b.apply(upd(6, [["11", "1"]]))).toBe("buffered");
    expect(b.apply(snap(5, [["10", "5"]], [["12", "1"]]))).toBe("applied");
    expect(b.seq).toBe(6);
    expect(b.levels("bids").map((l) => [l.price, l.qty])).toEqual([["11", "1"], ["10", "5"]]);
  });

  it("asks for a resync when an update crosses the book", () => {
    const b = fresh();
    expect(b.apply(upd(11, [["101", "1"]]))).toBe("resync");
    expect(b.synced).toBe(false);
  });

  it("a later snapshot replaces the whole book", () => {
    const b = fresh();
    b.apply(upd(11, [["98", "1"]]));
    expect(b.apply(snap(50, [["1", "1"]], [["2", "1"]]))).toBe("applied");
    expect(b.levels("bids").map((l) => l.price)).toEqual(["1"]);
    expect(b.apply(upd(51, [], [["3", "1"]]))).toBe("applied");
    expect(b.levels("asks").map((l) => l.price)).toEqual(["2", "3"]);
  });

  it("keeps stale levels visible until the next snapshot replaces them", () => {
    const b = fresh();
    b.expectSnapshot();
    expect(b.synced).toBe(false);
    expect(b.levels("bids").map((l) => l.price)).toEqual(["100", "99"]);
    expect(b.apply(upd(30, [["1", "1"]]))).toBe("buffered");
    expect(b.apply(snap(29, [["50", "2"]], [["60", "1"]]))).toBe("applied");
    expect(b.levels("bids").map((l) => l.price)).toEqual(["50", "1"]);
    expect(b.seq).toBe(30);
  });

  it("limits the number of levels returned", () => {
    const b = new BookSync();
    const bids: [string, string][] = Array.from({ length: 30 }, (_, i) => [String(100 - i), "1"]);
    b.apply(snap(1, bids, []));
    expect(b.levels("bids", 5).map((l) => l.price)).toEqual(["100", "99", "98", "97", "96"]);
    expect(b.levels("bids", 5).at(-1)?.cumulative).toBe("5");
  });
  it("applies merged updates that start at the next seq", () => {
    const b = fresh();
    expect(b.apply(merged(11, 13, [["100", "4"]], [["101", "0"]]))).toBe("applied");
    expect(b.seq).toBe(13);
    expect(b.apply(merged(14, 14, [["99", "0"]]))).toBe("applied");
    expect(b.levels("bids").map((l) => [l.price, l.qty])).toEqual([["100", "4"]]);
    expect(b.bestAsk()).toBe("102");
  });

  it("applies a merged update straddling the snapshot and ignores one it already contains", () => {
    const b = fresh();
    expect(b.apply(merged(8, 10, [["100", "1"]]))).toBe("ignored");
    expect(b.apply(merged(9, 12, [["100", "3"]]))).toBe("applied");
    expect(b.seq).toBe(12);
    expect(b.levels("bids")[0]).toEqual({ price: "100", qty: "3", cumulative: "3" });
  });

  it("treats a merged update that starts after the next seq as a gap", () => {
    const b = fresh();
    expect(b.apply(merged(12, 15))).toBe("buffered");
    expect(b.apply(merged(11, 11, [["100", "2"]]))).toBe("applied");
    expect(b.seq).toBe(15);
    expect(b.apply(merged(20, 21))).toBe("buffered");
    expect(b.apply(merged(22, 22))).toBe("buffered");
    expect(b.apply(merged(23, 23))).toBe("buffered");
    expect(b.apply(merged(24, 24))).toBe("resync");
  });

  it("replays merged updates buffered before the snapshot", () => {
    const b = new BookSync();
    expect(b.apply(merged(3, 5, [["100", "9"]]))).toBe("buffered");
    expect(b.apply(merged(6, 7, [["99", "1"]]))).toBe("buffered");
    expect(b.apply(snap(4, [["100", "1"]], [["101", "1"]]))).toBe("applied");
    expect(b.seq).toBe(7);
    expect(b.levels("bids").map((l) => [l.price, l.qty])).toEqual([["100", "9"], ["99", "1"]]);
  });
});

describe("SnapshotWatch", () => {
  it("says to subscribe again when the snapshot is overdue on an open connection, then waits longer", () => {
    const w = new SnapshotWatch(10_000);
    expect(w.overdue(false, true, 0)).toBe(false);
    expect(w.overdue(false, true, 9_999)).toBe(false);
    expect(w.overdue(false, true, 10_000)).toBe(true);
    expect(w.overdue(false, true, 29_999)).toBe(false); // 20 s after the first try
    expect(w.overdue(false, true, 30_000)).toBe(true);
    expect(w.overdue(false, true, 69_999)).toBe(false);
    expect(w.overdue(false, true, 70_000)).toBe(true);
    expect(w.overdue(false, true, 129_999)).toBe(false); // never more than a minute apart
    expect(w.overdue(false, true, 130_000)).toBe(true);
  });

  it("never fires while the book is in sync or the connection is not open, and starts over after", () => {
    const w = new SnapshotWatch(10_000);
    expect(w.overdue(false, true, 0)).toBe(false);
    expect(w.overdue(false, true, 10_000)).toBe(true);
    expect(w.overdue(true, true, 50_000)).toBe(false);
    expect(w.overdue(false, false, 100_000)).toBe(false); // reconnecting: the new connection subscribes
    expect(w.overdue(false, true, 100_500)).toBe(false);
    expect(w.overdue(false, true, 110_499)).toBe(false);
    expect(w.overdue(false, true, 110_500)).toBe(true); // the first wait again
  });
});
