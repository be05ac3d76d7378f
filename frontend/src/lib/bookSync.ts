/**
 * Order book synchronisation: a snapshot plus contiguous sequenced updates (absolute level quantities,
 * "0" removes a level). The caller feeds every `book:SYM` message to `apply`; when it answers "resync" the
 * caller re-subscribes (or refetches a snapshot) and the book waits for the next snapshot.
 *
 * An update may merge several engine updates (the server coalesces them, Binance diff-depth style): it
 * covers `first_seq..seq` (`first_seq` absent = `seq`). It applies when it covers the next seq
 * (`first_seq <= current + 1 <= seq`): normally `first_seq == current + 1`; one that starts earlier
 * (straddling a REST snapshot) is still safe because its levels are absolute quantities.
 *
 * - Updates that arrive before the snapshot are buffered and replayed after it (those with seq <= the
 *   snapshot's seq are already contained in it and are dropped).
 * - Duplicates and stale updates (seq <= current) are ignored.
 * - A reordering window for feeds that may reorder: an update from the future is held until the missing
 *   ones arrive; when more than `reorderWindow` are held, the gap is real and the book asks for a resync.
 *   One WebSocket delivers in order, so the terminal uses a window of 0: the first gap resyncs.
 * - A crossed book after an update (best bid >= best ask) also asks for a resync.
 */
import { cmp, dec, isZero, parse, strip, toPlain, add, type Dec } from "./money";

export type RawLevel = readonly [string, string] | readonly [string, string, ...unknown[]];

export interface BookMessage {
  type: "snapshot" | "update";
  /** The first engine update merged into this message (updates only; absent = `seq`). */
  first_seq?: number;
  seq: number;
  bids: readonly RawLevel[];
  asks: readonly RawLevel[];
}

export type ApplyResult = "applied" | "buffered" | "ignored" | "resync";

export interface Level {
  price: string;
  qty: string;
  /** Sum of quantities from the best level down to this one. */
  cumulative: string;
}

type Side = Map<string, { price: Dec; qty: string }>;

export class BookSync {
  seq = -1;
  synced = false;
  private bids: Side = new Map();
  private asks: Side = new Map();
  private pending = new Map<number, BookMessage>();

  constructor(private readonly reorderWindow = 3) {}

  /** Forget everything and wait for a snapshot. */
  reset(): void {
    this.seq = -1;
    this.synced = false;
    this.bids.clear();
    this.asks.clear();
    this.pending.clear();
  }

  /**
   * Keep the levels on screen but treat them as stale until the next snapshot (connection lost or
   * re-subscribing): updates are buffered meanwhile and the snapshot replaces everything.
   */
  expectSnapshot(): void {
    this.synced = false;
    this.pending.clear();
  }

  apply(msg: BookMessage): ApplyResult {
    if (msg.type === "snapshot") return this.applySnapshot(msg);
    if (!this.synced) {
      this.pending.set(msg.seq, msg);
      if (this.pending.size > 1000) return this.fail();
      return "buffered";
    }
    if (msg.seq <= this.seq) return "ignored";
    if (firstSeq(msg) <= this.seq + 1) {
      if (!this.applyUpdate(msg)) return this.fail();
      return this.drain() ? "applied" : this.fail();
    }
    this.pending.set(msg.seq, msg);
    if (this.pending.size > this.reorderWindow) return this.fail();
    return "buffered";
  }

  private applySnapshot(msg: BookMessage): ApplyResult {
    this.bids.clear();
    this.asks.clear();
    setLevels(this.bids, msg.bids);
    setLevels(this.asks, msg.asks);
    this.seq = msg.seq;
    this.synced = true;
    for (const s of [...this.pending.keys()]) if (s <= this.seq) this.pending.delete(s);
    if (!this.drain()) return this.fail();
    // updates held beyond a gap after the snapshot mean we missed something
    if (this.pending.size > this.reorderWindow) return this.fail();
    return "applied";
  }

  private applyUpdate(msg: BookMessage): boolean {
    setLevels(this.bids, msg.bids);
    setLevels(this.asks, msg.asks);
    this.seq = msg.seq;
    return !this.crossed();
  }

  /** Apply held updates that now cover the next seq. False if the book became inconsistent. */
  private drain(): boolean {
    for (;;) {
      let next: BookMessage | undefined;
      for (const [seq, msg] of this.pending) {
        if (seq <= this.seq) this.pending.delete(seq);
        else if (firstSeq(msg) <= this.seq + 1) next = msg;
      }
      if (!next) return true;
      this.pending.delete(next.seq);
      if (!this.applyUpdate(next)) return false;
    }
  }

  private fail(): ApplyResult {
    this.reset();
    return "resync";
  }

  private crossed(): boolean {
    const bid = best(this.bids, -1);
    const ask = best(this.asks, 1);
    return bid !== null && ask !== null && cmp(bid, ask) >= 0;
  }

  /** Sorted levels (bids high to low, asks low to high), at most `depth`, with cumulative quantity. */
  levels(side: "bids" | "asks", depth = 50): Level[] {
    const map = side === "bids" ? this.bids : this.asks;
    const dir = side === "bids" ? -1 : 1;
    const sorted = [...map.values()].sort((a, b) => dir * cmp(a.price, b.price)).slice(0, depth);
    let total: Dec = dec("0");
    return sorted.map((l) => {
      total = add(total, dec(l.qty));
      return { price: toPlain(l.price), qty: l.qty, cumulative: toPlain(total) };
    });
  }

  bestBid(): string | null {
    const b = best(this.bids, -1);
    return b ? toPlain(b) : null;
  }

  bestAsk(): string | null {
    const a = best(this.asks, 1);
    return a ? toPlain(a) : null;
  }
}

function firstSeq(msg: BookMessage): number {
  return msg.first_seq ?? msg.seq;
}

function setLevels(side: Side, levels: readonly RawLevel[]): void {
  for (const level of levels) {
    const price = parse(String(level[0]));
    const qty = parse(String(level[1]));
    if (!price || !qty) continue;
    const key = toPlain(strip(price));
    if (isZero(qty)) side.delete(key);
    else side.set(key, { price: strip(price), qty: String(level[1]) });
  }
}

function best(side: Side, dir: 1 | -1): Dec | null {
  let out: Dec | null = null;
  for (const { price } of side.values()) {
    if (out === null || dir * cmp(price, out) < 0) out = price;
  }
  return out;
}

/** How long a book may wait for its snapshot on an open connection before it subscribes again. */
export const SNAPSHOT_WAIT_MS = 10_000;
const SNAPSHOT_WAIT_MAX_MS = 60_000;

/**
 * Tells a book that waits for its snapshot on an open connection when to subscribe again: a snapshot (or
 * the subscription itself) that never came must not leave "syncing…" on screen for good. The wait doubles
 * at each try (up to a minute), so a server that refuses for a while is not pressed harder; it starts over
 * once the book is in sync or the connection closes (a reconnection subscribes anyway).
 */
export class SnapshotWatch {
  private since: number | null = null;
  private wait: number;

  constructor(private readonly firstWaitMs = SNAPSHOT_WAIT_MS) {
    this.wait = firstWaitMs;
  }

  /** Called now and then with the book's and the connection's state; true: subscribe again now. */
  overdue(synced: boolean, open: boolean, now: number): boolean {
    if (synced || !open) {
      this.since = null;
      this.wait = this.firstWaitMs;
      return false;
    }
    if (this.since === null) this.since = now;
    if (now - this.since < this.wait) return false;
    this.since = now;
    this.wait = Math.min(this.wait * 2, SNAPSHOT_WAIT_MAX_MS);
    return true;
  }
}
