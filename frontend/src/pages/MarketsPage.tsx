import { useMemo, useState } from "react";
import type { Ticker } from "../api/types";
import { FavoriteStar } from "../components/FavoriteStar";
import { SortHeader, type SortDir } from "../components/SortHeader";
import { useFavorites, useMarkets, usePref, useTickers } from "../lib/hooks";
import { compareStrings, decimalsOf, format, formatPct, sign } from "../lib/money";
import { useRowOrderHold } from "../lib/rowOrderHold";
import { PREF_KEYS } from "../lib/prefs";
import { symbolMatches } from "../lib/userText";

const VIEWS = ["all", "favorites"] as const;

type Key = "symbol" | "last" | "change_24h_pct" | "high_24h" | "low_24h" | "volume_24h" | "quote_volume_24h";

export function MarketsPage() {
  const { markets, error } = useMarkets();
  const tickers = useTickers();
  const [query, setQuery] = useState("");
  const [view, setView] = usePref(PREF_KEYS.marketsView, VIEWS, "all");
  const [favorites] = useFavorites();
  const [sort, setSort] = useState<{ key: Key; dir: SortDir }>({ key: "symbol", dir: "asc" });

  const sorted = useMemo(() => {
    const list = markets
      .filter((m) => symbolMatches(m.symbol, query) && (view === "all" || favorites.includes(m.symbol)))
      .map((m) => ({ m, t: tickers.get(m.symbol) as Ticker | undefined }));
    const dir = sort.dir === "asc" ? 1 : -1;
    list.sort((a, b) => {
      if (sort.key === "symbol") return dir * a.m.symbol.localeCompare(b.m.symbol);
      return dir * compareStrings(a.t?.[sort.key] as string, b.t?.[sort.key] as string);
    });
    return list;
  }, [markets, tickers, query, sort, view, favorites]);
  // sorted by a live column the rows would swap every few seconds: they hold still under the pointer or a
  // finger (and a moment after), while their figures keep updating
  const { order, handlers, resort } = useRowOrderHold(useMemo(() => sorted.map((r) => r.m.symbol), [sorted]));
  const rows = useMemo(() => {
    const bySymbol = new Map(sorted.map((r) => [r.m.symbol, r]));
    return order.flatMap((symbol) => bySymbol.get(symbol) ?? []);
  }, [sorted, order]);

  // a sort or a search the trader asked for applies at once, held or not
  const onSort = (key: Key) => {
    resort();
    setSort((s) => ({ key, dir: s.key === key ? (s.dir === "asc" ? "desc" : "asc") : key === "symbol" ? "asc" : "desc" }));
  };
  const open = (symbol: string) => (window.location.hash = `/trade/${symbol}`);

  return (
    <div className="page markets-page">
      <div className="page-head">
        <h1>Markets</h1>
        <div className="seg" role="group" aria-label="Which pairs">
          {VIEWS.map((v) => (
            <button
              key={v}
              type="button"
              className={view === v ? "active" : ""}
              aria-pressed={view === v}
              onClick={() => {
                resort();
                setView(v);
              }}
            >
              {v === "all" ? "All" : `Favorites${favorites.length ? ` (${favorites.length})` : ""}`}
            </button>
          ))}
        </div>
        <input
          className="search"
          type="search"
          placeholder="Search pairs"
          aria-label="Search markets"
          value={query}
          onChange={(e) => {
            resort();
            setQuery(e.target.value);
          }}
        />
      </div>
      {error && <p className="form-error">Cannot load markets: {error}</p>}
      <div className="card table-scroll">
        <table className="table markets-table" data-testid="markets-table" {...handlers}>
          <thead>
            <tr>
              <SortHeader label="Pair" k="symbol" sort={sort} onSort={onSort} align="left" />
              <SortHeader label="Last" k="last" sort={sort} onSort={onSort} />
              <SortHeader label="24h change" k="change_24h_pct" sort={sort} onSort={onSort} />
              <SortHeader label="24h high" k="high_24h" sort={sort} onSort={onSort} />
              <SortHeader label="24h low" k="low_24h" sort={sort} onSort={onSort} />
              <SortHeader label="24h volume" k="volume_24h" sort={sort} onSort={onSort} />
              <SortHeader label="Quote volume" k="quote_volume_24h" sort={sort} onSort={onSort} />
            </tr>
          </thead>
          <tbody>
            {rows.map(({ m, t }) => {
              const pd = decimalsOf(m.tick_size);
              const qd = decimalsOf(m.lot_size);
              const s = sign(t?.change_24h_pct);
              return (
                <tr
                  key={m.symbol}
                  className="clickable"
                  tabIndex={0}
                  data-symbol={m.symbol}
                  onClick={() => open(m.symbol)}
                  onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), open(m.symbol))}
                >
                  <td className="sym">
                    <FavoriteStar symbol={m.symbol} label={`${m.base}/${m.quote}`} />
                    <a href={`#/trade/${m.symbol}`} tabIndex={-1}>
                      {m.base}
                      <span className="muted">/{m.quote}</span>
                    </a>
                  </td>
                  <td className="num" data-testid="last-price">
                    {format(t?.last, pd)}
                  </td>
                  <td className={`num ${s > 0 ? "up" : s < 0 ? "down" : ""}`}>{formatPct(t?.change_24h_pct)}</td>
                  <td className="num">{format(t?.high_24h, pd)}</td>
                  <td className="num">{format(t?.low_24h, pd)}</td>
                  <td className="num">{format(t?.volume_24h, qd)}</td>
                  <td className="num">{format(t?.quote_volume_24h, 2)}</td>
                </tr>
              );
            })}
            {rows.length === 0 && (
              <tr>
                <td colSpan={7} className="muted center">
                  {!markets.length
                    ? "Loading markets…"
                    : view === "favorites" && !favorites.length
                      ? "No favorites yet: star a pair (☆) to keep it here"
                      : "No pair matches your search"}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}
