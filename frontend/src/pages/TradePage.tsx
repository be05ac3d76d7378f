import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { AccountPanel } from "../components/AccountPanel";
import { Chart } from "../components/Chart";
import { OrderBook } from "../components/OrderBook";
import { OrderForm } from "../components/OrderForm";
import { TradesTape } from "../components/TradesTape";
import { VolumePrices } from "../components/VolumePrices";
import { FavoriteStar } from "../components/FavoriteStar";
import { useMarkets, useTickers, useTrades } from "../lib/hooks";
import { liveTicker } from "../lib/lastPrice";
import { marketAssets } from "../lib/marketAssets";
import { decimalsOf, format, formatPct, sign } from "../lib/money";
import { PREF_KEYS, savePref } from "../lib/prefs";

export function TradePage({ symbol }: { symbol: string }) {
  const { markets, error } = useMarkets();
  const tickers = useTickers();
  const market = markets.find((m) => m.symbol === symbol);
  const trades = useTrades(market ? symbol : null);
  // the ticker's 24h fields with the newest trade's price: the header moves with the tape, not a second later
  const t = liveTicker(symbol, tickers.get(symbol), trades[0]);
  const [picked, setPicked] = useState<{ price: string; n: number } | null>(null);
  const onPick = useCallback((price: string) => setPicked((p) => ({ price, n: (p?.n ?? 0) + 1 })), []);
  const [best, setBest] = useState<{ bid: string | null; ask: string | null; synced: boolean }>({
    bid: null,
    ask: null,
    synced: false,
  });
  const onBest = useCallback(
    (bid: string | null, ask: string | null, synced: boolean) => setBest({ bid, ask, synced }),
    [],
  );
  const grid = useRef<HTMLDivElement>(null);
  const loaded = market !== undefined;
  // on a desktop the grid fills the window under what lies above it (header, notice, ticker bar): its top on
  // the page, kept as --grid-top for styles.css, follows those as they change height (the ticker bar wraps)
  useLayoutEffect(() => {
    const el = grid.current;
    if (!el) return;
    const place = () => {
      const top = `${Math.round(el.getBoundingClientRect().top + window.scrollY)}px`;
      if (el.style.getPropertyValue("--grid-top") !== top) el.style.setProperty("--grid-top", top);
    };
    place();
    const watch = new ResizeObserver(place);
    watch.observe(document.body);
    if (el.previousElementSibling) watch.observe(el.previousElementSibling);
    return () => watch.disconnect();
  }, [loaded]);
  const last = t?.last;
  const unknown = !market && markets.length > 0;
  const { base, quote } = marketAssets(symbol, market);
  useEffect(() => {
    // as exchanges do: the price and the pair in the tab's title
    document.title = unknown ? "Unknown market · Exchange" : `${last ? `${format(last)} · ` : ""}${base}/${quote} · Exchange`;
    return () => void (document.title = "Exchange");
  }, [base, quote, last, unknown]);
  useEffect(() => {
    if (market) savePref(PREF_KEYS.lastMarket, market.symbol); // the header's "Trade" comes back here
  }, [market]);
  if (!market) {
    return (
      <div className="page">
        <p className="muted pad" data-testid="trade-missing">
          {error ? `Cannot load markets: ${error}` : unknown ? `Unknown market ${symbol}. ` : "Loading…"}
          {unknown && <a href="#/markets">See every market</a>}
        </p>
      </div>
    );
  }
  const pd = decimalsOf(market.tick_size);
  const qd = decimalsOf(market.lot_size);
  const s = sign(t?.change_24h_pct);
  // the live book's best prices (an empty side: none); the ticker's until the book is in sync
  const bestBid = best.synced ? best.bid : (t?.best_bid ?? null);
  const bestAsk = best.synced ? best.ask : (t?.best_ask ?? null);
  return (
    <div className="trade-page">
      <div className="ticker-bar card">
        <FavoriteStar symbol={symbol} label={`${market.base}/${market.quote}`} />
        <label className="market-switch">
          <span className="sr-only">Market</span>
          <select value={symbol} onChange={(e) => (window.location.hash = `/trade/${e.target.value}`)} aria-label="Market">
            {markets.map((m) => (
              <option key={m.symbol} value={m.symbol}>
                {m.base}/{m.quote}
              </option>
            ))}
          </select>
        </label>
        <div className={`big ${s > 0 ? "up" : s < 0 ? "down" : ""}`} data-testid="ticker-last">
          {format(t?.last, pd)}
        </div>
        <Stat label="24h change" value={formatPct(t?.change_24h_pct)} cls={s > 0 ? "up" : s < 0 ? "down" : ""} />
        <Stat label="24h high" value={format(t?.high_24h, pd)} />
        <Stat label="24h low" value={format(t?.low_24h, pd)} />
        <Stat label={`24h vol (${market.base})`} value={format(t?.volume_24h, qd)} />
        {market.status !== "trading" && <span className="badge warn">{String(market.status).replace("_", " ")}</span>}
      </div>
      <div className="trade-grid" ref={grid}>
        <div className="area-chart">
          <Chart symbol={symbol} pricePrecision={pd} />
        </div>
        <div className="area-book">
          <OrderBook symbol={symbol} listing={market} onBest={onBest} priceDecimals={pd} qtyDecimals={qd} tickSize={market.tick_size} onPick={onPick} />
        </div>
        {/* the order form with the trades tape under it in one column on a tall desktop window; elsewhere
            (display: contents) each has a place of its own in the grid */}
        <div className="area-side">
          <div className="area-form">
            <div className="form-stack">
              <OrderForm market={market} picked={picked} bestBid={bestBid} bestAsk={bestAsk} last={t?.last ?? null} />
              <VolumePrices market={market} />
            </div>
          </div>
          <div className="area-trades">
            <TradesTape trades={trades} priceDecimals={pd} qtyDecimals={qd} />
          </div>
        </div>
        <div className="area-account">
          <AccountPanel symbol={symbol} />
        </div>
      </div>
    </div>
  );
}

function Stat({ label, value, cls = "" }: { label: string; value: string; cls?: string }) {
  return (
    <div className="stat">
      <span className="muted small">{label}</span>
      <span className={cls}>{value}</span>
    </div>
  );
}
