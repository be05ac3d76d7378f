/**
 * Candles + volume for one market. History comes from REST, live bars from `candles:SYM:INTERVAL`;
 * scrolling to the left edge loads older bars with `end=`. A live bar older than the last one shown is
 * dropped (lightweight-charts throws on it).
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef, useState } from "react";
import type { Candle } from "../api/types";
import { applyLive, normalize, olderPageEnd, prependOlder } from "../lib/candles";
import { chartTimeLabel, TICK_LABELS } from "../lib/chartTime";
import { loadPerSubscription, usePref } from "../lib/hooks";
import { api, ApiError } from "../lib/http";
import { errorText } from "../lib/userText";
import { cmp, dec, div, format, formatChartNumber, formatPct, isZero, mul, sub, toChartNumber, toPlain } from "../lib/money";
import { PREF_KEYS } from "../lib/prefs";
import { ws } from "../lib/ws";

export const INTERVALS = ["1m", "5m", "15m", "1h", "4h", "1d"] as const;
export type Interval = (typeof INTERVALS)[number];

const PAGE = 300;
const RETRY_MS = 10_000; // after a failed history read

function toBar(c: Candle) {
  return {
    time: Math.floor(Number(c.t) / 1000) as UTCTimestamp,
    open: toChartNumber(c.o),
    high: toChartNumber(c.h),
    low: toChartNumber(c.l),
    close: toChartNumber(c.c),
  };
}

function toVol(c: Candle) {
  const up = cmp(dec(c.c), dec(c.o)) >= 0;
  return {
    time: Math.floor(Number(c.t) / 1000) as UTCTimestamp,
    value: toChartNumber(c.v),
    color: up ? "rgba(38,166,154,0.45)" : "rgba(239,83,80,0.45)",
  };
}

/** The candle's change from its open, in percent ("+0.25%"), or null for an open of 0. */
function candleChange(c: Candle): string | null {
  const o = dec(c.o);
  if (isZero(o)) return null;
  return formatPct(toPlain(div(mul(sub(dec(c.c), o), dec(100)), o, 2, "nearest")), 2);
}

/** The open, high, low, close and volume of the candle under the pointer (else the latest), as trading
 * charts show them above the chart. */
function Ohlc({ c, pricePrecision }: { c: Candle | null; pricePrecision: number }) {
  if (!c) return <span className="chart-ohlc muted small" data-testid="chart-ohlc" />;
  const up = cmp(dec(c.c), dec(c.o)) >= 0;
  const p = (v: string) => format(v, pricePrecision);
  return (
    <span className="chart-ohlc small" data-testid="chart-ohlc" data-t={c.t}>
      <span className="muted">O</span> <span className={up ? "up" : "down"}>{p(c.o)}</span>{" "}
      <span className="muted">H</span> <span className={up ? "up" : "down"}>{p(c.h)}</span>{" "}
      <span className="muted">L</span> <span className={up ? "up" : "down"}>{p(c.l)}</span>{" "}
      <span className="muted">C</span> <span className={up ? "up" : "down"}>{p(c.c)}</span>{" "}
      <span className={up ? "up" : "down"}>{candleChange(c) ?? ""}</span>{" "}
      <span className="ohlc-vol">
        <span className="muted">V</span> <span>{format(c.v)}</span>
      </span>
    </span>
  );
}

export function Chart({ symbol, pricePrecision }: { symbol: string; pricePrecision: number }) {
  const [interval, setInterval] = usePref<Interval>(PREF_KEYS.chartInterval, INTERVALS, "1m"); // kept across reloads
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState({ bars: 0, last: "" });
  // the candle under the crosshair (null: none, the latest is shown), and the latest
  const [hovered, setHovered] = useState<Candle | null>(null);
  const [latest, setLatest] = useState<Candle | null>(null);
  // why the history could not be read (it is tried again every RETRY_MS), or null
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // times in the trader's zone, as the tape shows them; a daily bar (it opens at 00:00 UTC) dated in UTC
    const zone = interval === "1d" ? "UTC" : undefined;
    const seconds = (t: Time) => (typeof t === "number" ? t : 0); // the bars' times are UTC timestamps
    const chart: IChartApi = createChart(el, {
      autoSize: true,
      localization: { timeFormatter: (t: Time) => chartTimeLabel(seconds(t), "crosshair", zone) },
      layout: { background: { type: ColorType.Solid, color: "#0f141b" }, textColor: "#8b97a8", fontSize: 11 },
      grid: { vertLines: { color: "#1a212b" }, horzLines: { color: "#1a212b" } },
      rightPriceScale: { borderColor: "#232c38" },
      // rightOffset: room after the last bar (as trading charts keep), so its time label is not cut at the price axis
      timeScale: {
        borderColor: "#232c38",
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 6,
        tickMarkFormatter: (t: Time, kind: number) => chartTimeLabel(seconds(t), TICK_LABELS[kind] ?? "time", zone),
      },
      crosshair: { mode: 0 },
    });
    // the TradingView attribution the chart draws (its license asks for it: it stays, visible and clickable) is
    // a link to an outside site, not a stop on the keyboard's way from the intervals to the book's grouping;
    // the chart may draw it after it is created, or again
    const untab = () => {
      for (const a of el.querySelectorAll<HTMLAnchorElement>("a#tv-attr-logo, a[href*='tradingview.com']")) {
        if (a.tabIndex !== -1) a.tabIndex = -1;
      }
    };
    untab();
    const attribution = new MutationObserver(untab);
    attribution.observe(el, { childList: true, subtree: true });
    const minMove = Number(`1e-${pricePrecision}`);
    const candles: ISeriesApi<"Candlestick"> = chart.addSeries(CandlestickSeries, {
      upColor: "#26a69a",
      downColor: "#ef5350",
      borderVisible: false,
      wickUpColor: "#26a69a",
      wickDownColor: "#ef5350",
      // the axis and crosshair label prices as the book does: the market's decimals, thousands separators
      priceFormat: { type: "custom", minMove, formatter: (p: number) => formatChartNumber(p, pricePrecision) },
    });
    const volume: ISeriesApi<"Histogram"> = chart.addSeries(HistogramSeries, {
      priceScaleId: "vol",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    // the candles keep clear of the volume bars at the bottom fifth
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });

    let alive = true;
    let data: Candle[] = []; // ascending by t, unique t
    let loadingOlder = false;
    let exhausted = false;
    let live: Candle[] = []; // bars that arrived before the history
    let historyLoaded = false; // the live bars go to the chart once a history is on it
    let retry = 0; // the timer of the next try after a failed history read

    const publish = () => {
      if (!alive) return;
      setStatus({ bars: data.length, last: data.length ? `${data.at(-1)!.t}:${data.at(-1)!.c}:${data.at(-1)!.v}` : "" });
      setLatest(data.at(-1) ?? null);
    };
    // the readout follows the crosshair: the bar at its time (the bars are ascending by t)
    const onCrosshair = (param: { time?: Time }) => {
      if (!alive) return;
      const t = typeof param.time === "number" ? param.time * 1000 : null;
      setHovered(t === null ? null : (data.find((c) => Number(c.t) === t) ?? null));
    };
    chart.subscribeCrosshairMove(onCrosshair);

    const setAll = () => {
      candles.setData(data.map(toBar));
      volume.setData(data.map(toVol));
      publish();
    };

    const onLive = (c: Candle) => {
      if (applyLive(data, c) === "ignore") return; // never feed the chart an older bar
      candles.update(toBar(c));
      volume.update(toVol(c));
      publish();
    };

    const loadLatest = async () => {
      try {
        const list = await api<Candle[]>("GET", `/api/markets/${symbol}/candles`, {
          query: { interval, limit: PAGE },
          auth: false,
        });
        if (!alive) return;
        data = normalize(list);
        exhausted = list.length < PAGE;
        setAll();
        for (const c of live) onLive(c);
        live = [];
        historyLoaded = true;
        chart.timeScale().scrollToRealTime();
        setProblem(null);
      } catch (e) {
        // said above the chart (a rate limit says when to retry) and tried again shortly, not left empty
        if (!alive) return;
        setProblem(`Chart data unavailable: ${e instanceof ApiError ? errorText(e) : "the server cannot be reached"}`);
        window.clearTimeout(retry);
        retry = window.setTimeout(() => void loadLatest(), RETRY_MS);
      }
    };

    const loadOlder = async () => {
      if (loadingOlder || exhausted || data.length === 0) return;
      loadingOlder = true;
      try {
        const list = await api<Candle[]>("GET", `/api/markets/${symbol}/candles`, {
          query: { interval, limit: PAGE, end: olderPageEnd(data) ?? undefined },
          auth: false,
        });
        if (!alive) return;
        const merged = prependOlder(data, list);
        if (merged.added === 0) {
          exhausted = true;
          return;
        }
        const range = chart.timeScale().getVisibleLogicalRange();
        const added = merged.added;
        data = merged.data;
        candles.setData(data.map(toBar));
        volume.setData(data.map(toVol));
        publish();
        if (range) chart.timeScale().setVisibleLogicalRange({ from: range.from + added, to: range.to + added });
      } catch {
        /* try again on the next scroll */
      } finally {
        loadingOlder = false;
      }
    };

    const onRange = (r: { from: number; to: number } | null) => {
      if (r && r.from < 10) void loadOlder();
    };
    chart.timeScale().subscribeVisibleLogicalRangeChange(onRange);

    const channel = `candles:${symbol}:${interval}`;
    const off = ws.subscribe(channel, (msg) => {
      const d = msg.data ?? msg;
      for (const c of (Array.isArray(d) ? d : [d]) as Candle[]) {
        if (!c || c.t === undefined) continue;
        if (historyLoaded) onLive(c);
        else live.push(c);
      }
    });
    // the history, once the server confirms the channel (each connection, lib/hooks.ts loadPerSubscription):
    // whatever happened before the subscription took effect (while disconnected too) is filled in, and the
    // live bars from then on follow it
    const offOpen = loadPerSubscription(channel, () => void loadLatest());

    return () => {
      alive = false;
      window.clearTimeout(retry);
      setProblem(null);
      off();
      offOpen();
      chart.timeScale().unsubscribeVisibleLogicalRangeChange(onRange);
      chart.unsubscribeCrosshairMove(onCrosshair);
      attribution.disconnect();
      chart.remove();
      setHovered(null);
      setLatest(null);
    };
  }, [symbol, interval, pricePrecision]);

  return (
    <div className="card chart-card">
      <div className="card-head">
        <div className="seg" role="group" aria-label="Candle interval">
          {INTERVALS.map((iv) => (
            <button
              key={iv}
              className={iv === interval ? "active" : ""}
              aria-pressed={iv === interval}
              onClick={() => setInterval(iv)}
            >
              {iv}
            </button>
          ))}
        </div>
        {problem ? (
          <span className="chart-ohlc small down" role="status" data-testid="chart-problem" title={problem}>
            {problem}
          </span>
        ) : (
          <Ohlc c={hovered ?? latest} pricePrecision={pricePrecision} />
        )}
      </div>
      <div
        className="chart-box"
        ref={box}
        data-testid="chart"
        data-interval={interval}
        data-bars={status.bars}
        data-last={status.last}
      />
    </div>
  );
}
