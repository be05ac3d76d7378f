/** The live order book: snapshot + contiguous (possibly merged) updates from `book:SYM`, re-subscribing on
 * any gap. */
import { useEffect, useMemo, useRef, useState, type MouseEvent, type PointerEvent, type RefObject } from "react";
import type { Market } from "../api/types";
import { groupDecimals, groupLevels, groupSteps } from "../lib/bookGroup";
import { BookSync, SnapshotWatch, type BookMessage, type Level } from "../lib/bookSync";
import { marketAssets } from "../lib/marketAssets";
import { levelKey, ownLabel, ownLevels, type OwnLevel } from "../lib/ownOrders";
import { add, cmp, dec, div, format, mul, sub, toFixed, ZERO } from "../lib/money";
import { ws } from "../lib/ws";
import { useAccount } from "./Account";

// levels a side at least; more where a taller book has room for them (useFitRows)
const DEPTH = 14;
const MAX_DEPTH = 80;
// levels read per side when grouping, per bucket shown: enough for buckets of 1000 ticks in a demo-like book
// (400 levels for DEPTH buckets)
const GROUP_SOURCE_PER_ROW = Math.ceil(400 / DEPTH);
const ROW_PX = 20; // a .book-row: 16 px of line and 2 px of padding above and below

/** How many book rows a side's box holds whole (at least DEPTH, at most MAX_DEPTH): the book lists that
 * many levels, so a taller book (a desktop window's height) shows more of them instead of empty room. */
function useFitRows(side: RefObject<HTMLDivElement | null>): number {
  const [rows, setRows] = useState(DEPTH);
  useEffect(() => {
    const el = side.current;
    if (!el) return;
    const fit = () => {
      const row = el.querySelector<HTMLElement>(".book-row")?.getBoundingClientRect().height || ROW_PX;
      setRows(Math.min(MAX_DEPTH, Math.max(DEPTH, Math.floor(el.clientHeight / row) + 1)));
    };
    fit();
    const watch = new ResizeObserver(fit);
    watch.observe(el);
    return () => watch.disconnect();
  }, [side]);
  return rows;
}

export interface BookView {
  bids: Level[];
  asks: Level[];
  seq: number;
  synced: boolean;
}

/** The live book of `symbol`, `depth` levels a side. */
export function useBook(symbol: string, depth = DEPTH): BookView {
  const [view, setView] = useState<BookView>({ bids: [], asks: [], seq: -1, synced: false });
  // another depth (a price grouping chosen) re-reads the levels kept, without subscribing again
  const depthRef = useRef(depth);
  depthRef.current = depth;
  const rerender = useRef(() => {});
  useEffect(() => {
    const b = new BookSync(0); // one WebSocket delivers in order: a gap is real, resync at once
    let frame = 0;
    const render = () => {
      frame = 0;
      const d = depthRef.current;
      setView({ bids: b.levels("bids", d), asks: b.levels("asks", d), seq: b.seq, synced: b.synced });
    };
    rerender.current = render;
    render(); // another market: start empty, not with the previous market's levels
    const channel = `book:${symbol}`;
    const off = ws.subscribe(channel, (msg) => {
      const data = (msg.type ? msg : (msg.data as Record<string, unknown>)) ?? msg;
      const m: BookMessage = {
        type: (data.type as string) === "snapshot" ? "snapshot" : "update",
        seq: Number(data.seq),
        first_seq: data.first_seq === undefined ? undefined : Number(data.first_seq),
        bids: (data.bids as BookMessage["bids"]) ?? [],
        asks: (data.asks as BookMessage["asks"]) ?? [],
      };
      if (b.apply(m) === "resync") {
        b.expectSnapshot();
        ws.resubscribe(channel);
      }
      if (!frame) frame = requestAnimationFrame(render);
    });
    // while disconnected the levels stay visible but stale; the snapshot after re-subscribing replaces them
    const offState = ws.onState((s) => {
      if (s !== "open") {
        b.expectSnapshot();
        render();
      }
    });
    // a snapshot that never comes (a refused or lost subscription) is asked for again, not waited for forever
    const watch = new SnapshotWatch();
    const watchdog = setInterval(() => {
      if (watch.overdue(b.synced, ws.state === "open", Date.now())) ws.resubscribe(channel);
    }, 1_000);
    return () => {
      off();
      offState();
      clearInterval(watchdog);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [symbol]);
  useEffect(() => rerender.current(), [depth]);
  return view;
}

/** The live book of one market. `onBest` hears its best bid and ask (null: that side is empty) and whether
 * the book is in sync, only when they change, so the order form prices from the book without the whole page
 * re-rendering at each update. */
export function OrderBook(props: {
  symbol: string;
  /** the market's listing (`GET /api/markets`), which names its assets; null while it is not loaded */
  listing: Pick<Market, "base" | "quote"> | null;
  onBest?: (bestBid: string | null, bestAsk: string | null, synced: boolean) => void;
  priceDecimals: number;
  qtyDecimals: number;
  tickSize: string;
  onPick: (price: string) => void;
}) {
  const steps = groupSteps(props.tickSize);
  const [step, setStep] = useState(steps[0]);
  useEffect(() => setStep(groupSteps(props.tickSize)[0]), [props.symbol, props.tickSize]); // another market: its tick
  const grouped = step !== steps[0] && steps.includes(step);
  // The price of the row a press started on: the book moves under a finger many times a second, and a row
  // that slid away before the press ended made the click land on no row at all (a tap picked nothing); a
  // row whose level went (the market maker requoting) takes the click with it, as the browser fires none.
  // So a pointer's press and release inside the card pick the price pressed, wherever the release lands and
  // whatever happened to the row; the click that follows is then the pointer's and picks nothing more. A
  // click without a pointer (keyboard, or a synthetic one: detail 0) picks the row it is on. A press that
  // turns into a scroll (pointercancel) picks nothing.
  const pressed = useRef<string | null>(null);
  const rowPrice = (target: EventTarget | null) =>
    target instanceof Element ? (target.closest<HTMLElement>(".book-row")?.dataset.price ?? null) : null;
  const onPress = (e: PointerEvent<HTMLDivElement>) => void (pressed.current = e.button === 0 ? rowPrice(e.target) : null);
  const onUnpress = () => void (pressed.current = null);
  const onRelease = () => {
    const price = pressed.current;
    pressed.current = null;
    if (price !== null) props.onPick(price);
  };
  const onCardClick = (e: MouseEvent<HTMLDivElement>) => {
    if (e.detail > 0) return; // a pointer's click: its release picked already
    const price = rowPrice(e.target);
    if (price !== null) props.onPick(price);
  };
  const bidsBox = useRef<HTMLDivElement>(null);
  const depth = useFitRows(bidsBox);
  const raw = useBook(props.symbol, grouped ? GROUP_SOURCE_PER_ROW * depth : depth);
  const { synced } = raw;
  const stale = !synced && raw.bids.length + raw.asks.length > 0; // levels on screen that may be out of date
  const bids = grouped ? groupLevels(raw.bids, step, "bids", depth) : raw.bids;
  const asks = grouped ? groupLevels(raw.asks, step, "asks", depth) : raw.asks;
  // the account's own resting orders, marked on their levels (or the buckets holding them)
  const { openOrders } = useAccount();
  const ownBids = useMemo(() => ownLevels(openOrders, props.symbol, "bids", grouped ? step : null), [openOrders, props.symbol, grouped, step]);
  const ownAsks = useMemo(() => ownLevels(openOrders, props.symbol, "asks", grouped ? step : null), [openOrders, props.symbol, grouped, step]);
  const rowDecimals = grouped ? Math.min(props.priceDecimals, groupDecimals(step)) : props.priceDecimals;
  const maxCum = [bids.at(-1)?.cumulative, asks.at(-1)?.cumulative].reduce<string>(
    (m, x) => (x && cmp(dec(x), dec(m)) > 0 ? x : m),
    "0",
  );
  // the real best prices (not the buckets'): the spread and the order form price from them
  const bestBid = raw.bids[0]?.price;
  const bestAsk = raw.asks[0]?.price;
  const { onBest } = props;
  useEffect(() => onBest?.(bestBid ?? null, bestAsk ?? null, synced), [onBest, synced, bestBid, bestAsk]);
  let spread = "—";
  if (bestBid && bestAsk) {
    const diff = sub(dec(bestAsk), dec(bestBid));
    const mid = div(add(dec(bestAsk), dec(bestBid)), dec(2), props.priceDecimals + 1);
    const pct = cmp(mid, ZERO) > 0 ? div(mul(diff, dec(100)), mid, 3) : ZERO;
    spread = `${format(diff, props.priceDecimals)} (${format(pct, 3)}%)`;
  }

  const { base, quote } = marketAssets(props.symbol, props.listing);
  const row = (l: Level, side: "bid" | "ask") => {
    const own: OwnLevel | undefined = (side === "bid" ? ownBids : ownAsks).get(levelKey(l.price));
    const mine = own ? ownLabel(own, base) : undefined;
    const width = cmp(dec(maxCum), ZERO) > 0 ? `${toFixed(div(mul(dec(l.cumulative), dec(100)), dec(maxCum), 0))}%` : "0%";
    return (
      <button
        key={`${side}${l.price}`}
        className={`book-row ${side}`}
        data-price={l.price}
        data-qty={l.qty}
        tabIndex={-1} // a mouse shortcut for the price field: keyboard users type it, without 25 stops on the way
        data-own={own?.qty}
        title={mine}
        aria-label={`${side === "bid" ? "Bid" : "Ask"} ${l.price}, amount ${l.qty}${mine ? `, ${mine}` : ""}`}
      >
        <span className="depth" style={{ width }} />
        <span className="price">
          {/* a dot just before the price, taking no room (absolutely placed where it would stand): the row
              keeps its height and its figures their places whether it shows or not */}
          {own && <span className="own-mark" data-testid="own-mark" title={mine} aria-hidden="true" />}
          {format(l.price, rowDecimals)}
        </span>
        <span className="qty">{format(l.qty, props.qtyDecimals)}</span>
        <span className="cum">{format(l.cumulative, props.qtyDecimals)}</span>
      </button>
    );
  };

  return (
    <div
      className="card book-card"
      data-testid="order-book"
      data-synced={synced ? "1" : "0"}
      onPointerDown={onPress}
      onPointerUp={onRelease}
      onPointerCancel={onUnpress}
      onClick={onCardClick}
    >
      <div className="card-head">
        <h2>Order book</h2>
        {/* short, on the head's one line (cut with an ellipsis where even that does not fit, the whole of it
            the tooltip): "stale — resyncing…" wrapped the title to two lines, and every row moved down */}
        {!synced && (
          <span className="muted small book-state" data-testid="book-state" title={stale ? "Stale: resyncing with the server" : "Syncing with the server"}>
            {stale ? "stale, syncing…" : "syncing…"}
          </span>
        )}
        <select
          className="book-grouping"
          aria-label="Price grouping"
          data-testid="book-grouping"
          title="Group the price levels"
          value={step}
          onChange={(e) => setStep(e.target.value)}
        >
          {steps.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div className="book-cols muted small">
        <span title={`Price in ${quote}`}>Price({quote})</span>
        <span title={`Amount at the price, in ${base}`}>Amount({base})</span>
        <span title={`Amounts from the best price to this one, in ${base}`}>Sum</span>
      </div>
      {/* best first in both; the CSS stacks the asks upwards from the spread, and a row that does not fit
          whole wraps out of sight instead of showing cut in half */}
      <div className="book-side asks" data-testid="book-asks">
        {asks.map((l) => row(l, "ask"))}
      </div>
      <div className="book-spread" data-testid="book-spread">
        <span className="up">{bestBid ? format(bestBid, props.priceDecimals) : "—"}</span>
        {/* the word is the tooltip: "spread 96.36 (0.160%)" wrapped between two prices in a 280 px book */}
        <span className="muted small book-spread-gap" title="spread: best ask − best bid">
          {spread}
        </span>
        <span className="down">{bestAsk ? format(bestAsk, props.priceDecimals) : "—"}</span>
      </div>
      <div className="book-side bids" data-testid="book-bids" ref={bidsBox}>
        {bids.map((l) => row(l, "bid"))}
      </div>
    </div>
  );
}
