/** The account's tables: open orders, order history, fills, positions, balances and the devices logged in (sessions). */
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { Balance, FillPage, Market, Order, OrderPage, Position, SortKey, SortOrder, TransferPage } from "../api/types";
import { accountValue, isZeroBalance, valueMarkets } from "../lib/accountValue";
import { compactTime, fullTime, statusText } from "../lib/cellText";
import { useAssetDecimals, useHashRoute, useMarkets, usePref, useSession, useTickers } from "../lib/hooks";
import {
  DEFAULT_SORT,
  exportFileName,
  exportQuery,
  fillsQuery,
  marketChoices,
  NO_FILTERS,
  ordersQuery,
  sortAllowed,
  sortFor,
  type HistoryFilters,
  type MarketFilter,
  type SideFilter,
  type StatusFilter,
} from "../lib/historyQuery";
import { api, ApiError, authFetch, errorFrom, withQuery } from "../lib/http";
import {
  add,
  alignAmounts,
  compareStrings,
  formatAmount,
  formatPrice,
  formatQty,
  formatSigned,
  mul,
  parse,
  sign,
  decimalsOf,
  format,
  toPlain,
  type AlignedAmount,
} from "../lib/money";
import { authHref } from "../lib/nextRoute";
import { PREF_KEYS } from "../lib/prefs";
import { askCancelAll, errorText } from "../lib/userText";
import { BULK_CANCEL_QUIET_MS, OPEN_ORDERS_LIMITS, useAccount } from "./Account";
import { Sessions } from "./Sessions";
import { SortHeader, type SortDir } from "./SortHeader";
import { useToasts } from "./Toasts";

type Tab = "open" | "history" | "fills" | "positions" | "balances" | "sessions";
/** Each tab's name, and the short one it shows where they would not all fit in full (phones). */
const TABS: [Tab, string, string][] = [
  ["open", "Open orders", "Open"],
  ["history", "Order history", "History"],
  ["fills", "Fills", "Fills"],
  ["positions", "Positions", "Positions"],
  ["balances", "Balances", "Balances"],
  ["sessions", "Devices", "Devices"],
];
const TAB_KEYS = TABS.map(([k]) => k);

/** A status cell: short ("partial"), with the full words as its tooltip where they differ. */
function StatusCell({ status, className }: { status: unknown; className?: string }) {
  const { short, full } = statusText(status);
  return (
    <td className={className} title={short === full ? undefined : full}>
      {short}
    </td>
  );
}

/** The Open tab's count: "12", or "2,000+" when the account has more open orders than the terminal loads. */
function openOrderCount(n: number, complete: boolean): string {
  return `${n.toLocaleString("en-US")}${complete ? "" : "+"}`;
}

/** What a table with no rows says: still loading, not loaded (its error shows above it), or `none`. */
function emptyText(body: unknown, error: string | null, none: string): string {
  return body ? none : error ? "Not loaded" : "Loading…";
}

/** The single row a table shows when it has nothing to list. */
function EmptyRow({ cols, text }: { cols: number; text: string }) {
  return (
    <tr>
      <td colSpan={cols} className="muted center">
        {text}
      </td>
    </tr>
  );
}

export function AccountPanel({ symbol }: { symbol: string }) {
  const session = useSession();
  const route = useHashRoute(); // the auth links return here
  const [tab, setTab] = usePref<Tab>(PREF_KEYS.accountTab, TAB_KEYS, "open"); // kept across reloads
  const { openOrders, openOrdersComplete } = useAccount();
  const bar = useRef<HTMLDivElement>(null);
  // where the tab bar still scrolls sideways (a very narrow phone), the chosen tab scrolls into sight
  useEffect(() => {
    const b = bar.current;
    const el = b?.querySelector<HTMLElement>(`#tab-${tab}`);
    if (!b || !el) return;
    const r = el.getBoundingClientRect();
    const box = b.getBoundingClientRect();
    if (r.left < box.left) b.scrollLeft -= box.left - r.left;
    else if (r.right > box.right) b.scrollLeft += r.right - box.right;
  }, [tab]);
  // the WAI-ARIA tabs pattern: one tab stop, arrows (and Home/End) move between the tabs
  const onTabKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const at = TABS.findIndex(([k]) => k === tab);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const [k] = TABS[(to + TABS.length) % TABS.length];
    setTab(k);
    document.getElementById(`tab-${k}`)?.focus();
  };
  return (
    <div className={session ? "card account-card" : "card account-card account-card-anon"}>
      <div className="tabs" role="tablist" aria-label="Account" onKeyDown={onTabKey} ref={bar}>
        {TABS.map(([k, label, short]) => (
          <button
            key={k}
            role="tab"
            id={`tab-${k}`}
            aria-selected={tab === k}
            aria-controls={`panel-${k}`}
            tabIndex={tab === k ? 0 : -1}
            className={tab === k ? "active" : ""}
            onClick={() => setTab(k)}
          >
            {label === short ? (
              label
            ) : (
              <>
                <span className="tab-long">{label}</span>
                <span className="tab-short" aria-hidden="true">
                  {short}
                </span>
              </>
            )}
            {/* its room is kept whatever the number (up to 3 digits): the tabs to its right never move under
                the finger as orders are placed or filled elsewhere. Logged out there is no count, nor room */}
            {k === "open" && session && (
              <>
                {" "}
                <span className="tab-count">({openOrderCount(openOrders.length, openOrdersComplete)})</span>
              </>
            )}
          </button>
        ))}
      </div>
      {/* keyed by the account: another account's login (in this tab or another) starts every view afresh,
          with nothing of the previous account's rows, pages or sorting */}
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-body" key={session?.email ?? ""}>
        {!session ? (
          <p className="muted center pad">
            <a href={authHref("login", route)}>Log in</a> or <a href={authHref("signup", route)}>sign up</a> to trade.
          </p>
        ) : tab === "open" ? (
          <OpenOrders symbol={symbol} />
        ) : tab === "history" ? (
          <History />
        ) : tab === "fills" ? (
          <Fills />
        ) : tab === "positions" ? (
          <Positions />
        ) : tab === "balances" ? (
          <Balances />
        ) : (
          <Sessions />
        )}
      </div>
    </div>
  );
}

/** Each market's listing, to show its figures as the book and the order form do: prices at the tick's
 * decimals (`formatPrice`), amounts of the base at the lot's (`formatQty`), and of the quote (totals, fees,
 * PnL) at the quote asset's, each column at one number of decimals (`quoteColumn`). */
function useListings(): Map<string, Market> {
  const { markets } = useMarkets();
  return useMemo(() => new Map(markets.map((m) => [m.symbol, m])), [markets]);
}

/**
 * A column of amounts of the quote asset (a table's totals, fees or PnL), written as the balances are
 * (`alignAmounts`): each exact, at one number of decimals for the whole column (the fewest that writes every
 * amount of it exactly, at least 2, at most the asset's), so the rows read alike and their decimal points line
 * up ("0.16191" beside "0.294079" was "0.161910" beside "0.294079"). `decimals`: the row's amount's asset's
 * (undefined while unknown: the amount's own, as sent).
 */
function quoteColumn<T>(
  rows: readonly T[],
  value: (row: T) => string | null | undefined,
  decimals: (row: T) => number | undefined,
): AlignedAmount[] {
  return alignAmounts(rows.map((r) => ({ value: value(r), decimals: decimals(r) })));
}

/** The decimals of `asset` (the market's quote or base, else from `GET /api/assets`); undefined while unknown. */
function decimalsOfAsset(asset: string, listing: Market | undefined, assets: ReadonlyMap<string, number>): number | undefined {
  if (listing?.quote === asset) return listing.quote_decimals;
  if (listing?.base === asset) return listing.base_decimals;
  return assets.get(asset);
}

/** An amount of an aligned column: its figures, then the invisible ones that line its decimal point up with
 * the column's (drawn by CSS from data-pad, so neither copied nor read out). */
function Aligned({ amount }: { amount: AlignedAmount }) {
  return (
    <span className="amount" data-pad={amount.pad || undefined}>
      {amount.text}
    </span>
  );
}

/** An order's time in force and post-only, where they say more than a plain limit order ("Post", "IOC",
 * "FOK"; good-till-cancelled, what every resting order is unless said, says nothing), with their words. */
function orderTerms(o: Pick<Order, "time_in_force" | "post_only">): { tag: string; title: string }[] {
  const out: { tag: string; title: string }[] = [];
  if (o.post_only) out.push({ tag: "Post", title: "Post-only: it only adds to the book, never takes from it" });
  const tif = String(o.time_in_force ?? "").toLowerCase();
  if (tif === "ioc") out.push({ tag: "IOC", title: "Immediate or cancel: what does not fill at once expires" });
  if (tif === "fok") out.push({ tag: "FOK", title: "Fill or kill: fills whole at once, or not at all" });
  return out;
}

/** An order's terms as small tags, each with its words as its tooltip. */
function Tags({ order }: { order: Order }) {
  return (
    <>
      {orderTerms(order).map((t) => (
        <span key={t.tag} className="order-tag" title={t.title} data-testid="order-tag">
          {t.tag}
        </span>
      ))}
    </>
  );
}

/** An open order's type with its terms as small tags ("limit Post"). */
function TypeText({ order }: { order: Order }) {
  return (
    <>
      {order.type}
      <Tags order={order} />
    </>
  );
}

/** An order's price × amount (its whole amount, filled or not), plain; null without a price. */
function orderTotal(o: Pick<Order, "price" | "qty">): string | null {
  const [price, qty] = [parse(o.price), parse(o.qty)];
  return price && qty ? toPlain(mul(price, qty)) : null;
}

function OpenOrders({ symbol }: { symbol: string }) {
  const { openOrders, openOrdersComplete, noteOrder, reload, quietCancels } = useAccount();
  const listings = useListings();
  const totals = quoteColumn(openOrders, orderTotal, (o) => listings.get(o.symbol)?.quote_decimals);
  const toasts = useToasts();
  const cancel = async (o: Order) => {
    try {
      noteOrder(await api<Order>("DELETE", `/api/orders/${o.id}`));
    } catch (e) {
      toasts.push("error", "Cancel failed", e instanceof ApiError ? errorText(e) : String(e));
      reload();
    }
  };
  const cancelAll = async (sym?: string) => {
    if (!askCancelAll(openOrders, sym, openOrdersComplete, (q) => window.confirm(q))) return; // declined
    quietCancels(Number.POSITIVE_INFINITY); // one summary below, not a toast per order
    try {
      const r = await api<{ cancelled: number }>("DELETE", "/api/orders", { query: { symbol: sym } });
      const n = r?.cancelled ?? 0;
      toasts.push("info", `Cancelled ${n.toLocaleString("en-US")} ${n === 1 ? "order" : "orders"}`);
    } catch (e) {
      toasts.push("error", "Cancel all failed", e instanceof ApiError ? errorText(e) : String(e));
    }
    quietCancels(Date.now() + BULK_CANCEL_QUIET_MS); // the last notices are still on their way
    reload();
  };
  return (
    <>
      <div className="table-tools">
        <button className="btn btn-small" onClick={() => cancelAll(symbol)} disabled={!openOrders.some((o) => o.symbol === symbol)}>
          Cancel all {symbol}
        </button>
        <button className="btn btn-small" onClick={() => cancelAll()} disabled={openOrders.length === 0}>
          Cancel all
        </button>
        {!openOrdersComplete && (
          <span className="muted" role="status">
            Not every open order is listed: the terminal loads up to {OPEN_ORDERS_LIMITS.maxItems.toLocaleString("en-US")}
          </span>
        )}
      </div>
      <div className="table-scroll">
        <table className="table" data-testid="open-orders">
          <thead>
            <tr>
              <th className="col-roomy">Time</th>
              <th>Market</th>
              <th>Side</th>
              <th className="col-roomy">Type</th>
              <th className="num">Price</th>
              <th className="num">Amount</th>
              <th className="num">Filled</th>
              <th className="num col-roomy col-total" title="Price × amount, in the quote asset (fees apart), as the fills' totals">
                Total
              </th>
              <th className="col-roomy">Status</th>
              <th className="col-action">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {openOrders.map((o, i) => (
              <tr key={o.id} data-order-id={o.id}>
                <td className="col-roomy" title={fullTime(o.created_at)}>
                  {compactTime(o.created_at)}
                </td>
                <td>
                  {o.symbol}
                  {/* where the Time and Type columns do not fit (a phone), under the market and the side */}
                  <span className="cell-more muted small" title={fullTime(o.created_at)}>
                    {compactTime(o.created_at)}
                  </span>
                  {/* its terms on a line of their own under the market, the widest of the folded cells: under
                      the type they widened the side's column and the table no longer fit a phone */}
                  {orderTerms(o).length > 0 && (
                    <span className="cell-more cell-terms">
                      <Tags order={o} />
                    </span>
                  )}
                </td>
                <td className={o.side === "buy" ? "up" : "down"}>
                  {o.side}
                  <span className="cell-more muted small">{o.type}</span>
                </td>
                <td className="col-roomy type-cell" data-testid="order-type">
                  <TypeText order={o} />
                </td>
                <td className="num">{formatPrice(o.price, listings.get(o.symbol)?.tick_size)}</td>
                {/* the total in the tooltip too, for where its column does not fit */}
                <td className="num" title={totals[i].text === "—" ? undefined : `Total ${totals[i].text} ${listings.get(o.symbol)?.quote ?? ""}`.trim()}>
                  {formatQty(o.qty, listings.get(o.symbol)?.lot_size)}
                </td>
                <td className="num">{formatQty(o.filled_qty, listings.get(o.symbol)?.lot_size)}</td>
                <td className="num col-roomy col-total" data-testid="order-total">
                  <Aligned amount={totals[i]} />
                </td>
                <StatusCell status={o.status} className="col-roomy" />
                <td className="col-action">
                  <button className="btn btn-small" onClick={() => cancel(o)} aria-label={`Cancel order ${o.id}`}>
                    Cancel
                  </button>
                </td>
              </tr>
            ))}
            {openOrders.length === 0 && <EmptyRow cols={10} text="No open orders" />}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** The sort keys the history endpoint supports (`sort=...&order=asc|desc`, keyset `cursor`). */
type HKey = SortKey;
/** Rows a page of order history or fills holds. */
const PAGE = 10;

/** The cursor of each page visited (keyset paging: `next_cursor` forward, the list of cursors back). */
function useCursors() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const page = cursors.length - 1;
  return {
    page,
    cursor: cursors[page],
    back: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    forward: (next: string) => setCursors((c) => [...c, next]),
    reset: () => setCursors([null]),
  };
}

/** ‹ Prev, "Page n", Next ›. Next waits for the page on screen to have loaded, so that a quick second
 * click never follows the previous page's cursor again. */
function Pager(props: { pages: ReturnType<typeof useCursors>; next: string | null; loading: boolean; testId: string }) {
  const { pages, next, loading } = props;
  return (
    <span className="pager">
      <button className="btn btn-small" disabled={pages.page === 0} onClick={pages.back} aria-label="Previous page">
        ‹ Prev
      </button>
      <span className="muted small" data-testid={props.testId}>
        Page {pages.page + 1}
      </span>
      <button className="btn btn-small" disabled={!next || loading} onClick={() => next && pages.forward(next)} aria-label="Next page">
        Next ›
      </button>
    </span>
  );
}

/** The market filter: all markets, or one of the listed ones. */
function MarketSelect({ value, onChange, testId }: { value: MarketFilter; onChange: (m: MarketFilter) => void; testId: string }) {
  const { markets } = useMarkets();
  const choices = marketChoices(markets.map((m) => m.symbol), value);
  return (
    <select className="filter-select" aria-label="Market" data-testid={testId} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="all">All markets</option>
      {choices.map((s) => (
        <option key={s} value={s}>
          {s}
        </option>
      ))}
    </select>
  );
}

const SORT_NEEDS_MARKET: Partial<Record<HKey, string>> = {
  price: "Choose a market to sort by price",
  qty: "Choose a market to sort by amount",
};

function History() {
  const listings = useListings();
  const toasts = useToasts();
  const [filters, setFilters] = useState<HistoryFilters>(NO_FILTERS);
  const [sort, setSort] = useState<{ key: HKey; dir: SortOrder & SortDir }>(DEFAULT_SORT);
  const pages = useCursors();
  const { body, error, loading } = useList<OrderPage>("/api/orders", ordersQuery(filters, sort, PAGE, pages.cursor));
  const rows = body?.items ?? [];
  const filtered = filters.market !== "all" || filters.side !== "all" || filters.status !== "all";
  const totals = quoteColumn(
    rows,
    (o) => (o.quote_filled && o.quote_filled !== "0" ? o.quote_filled : null),
    (o) => listings.get(o.symbol)?.quote_decimals,
  );

  const filter = (change: Partial<HistoryFilters>) => {
    const f = { ...filters, ...change };
    setFilters(f);
    setSort((s) => sortFor(s, f.market)); // by price or amount only within one market
    pages.reset();
  };

  const onSort = (key: HKey) => {
    setSort((s) => ({ key, dir: s.key === key && s.dir === "desc" ? "asc" : "desc" }));
    pages.reset();
  };

  const exportCsv = async () => {
    try {
      const res = await authFetch("GET", "/api/orders/export.csv", { query: exportQuery(filters, sort) });
      if (!res.ok) throw await errorFrom(res);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = exportFileName(filters);
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      toasts.push("error", "Export failed", e instanceof ApiError ? errorText(e) : String(e));
    }
  };

  const h = (label: string, k: HKey, left = false, className?: string) =>
    sortAllowed(k, filters.market) ? (
      <SortHeader label={label} k={k} sort={sort} onSort={onSort} align={left ? "left" : "right"} className={className} />
    ) : (
      <th className={[left ? "" : "num", className ?? ""].join(" ").trim() || undefined} title={SORT_NEEDS_MARKET[k]}>
        {label}
      </th>
    );
  const byTime = sort.key === "created_at";
  return (
    <>
      <div className="table-tools">
        <div className="table-filters table-filters-row" role="group" aria-label="Filter the order history">
          <MarketSelect value={filters.market} onChange={(market) => filter({ market })} testId="history-market" />
          <select
            className="filter-select"
            aria-label="Side"
            data-testid="history-side"
            value={filters.side}
            onChange={(e) => filter({ side: e.target.value as SideFilter })}
          >
            <option value="all">All sides</option>
            <option value="buy">Buy</option>
            <option value="sell">Sell</option>
          </select>
          <select
            className="filter-select"
            aria-label="Status"
            data-testid="history-status"
            value={filters.status}
            onChange={(e) => filter({ status: e.target.value as StatusFilter })}
          >
            <option value="all">All statuses</option>
            <option value="open">Open</option>
            <option value="closed">Closed</option>
          </select>
        </div>
        <button className="btn btn-small" onClick={exportCsv} data-testid="export-csv" title="Every order these filters show, as CSV">
          Export CSV
        </button>
        <span className="spacer" />
        <Pager pages={pages} next={body?.next_cursor ?? null} loading={loading} testId="history-page" />
      </div>
      {error && <p className="form-error">{error}</p>}
      <div className="table-scroll">
        <table className="table fit-phone" data-testid="order-history">
          <thead>
            <tr>
              {h("Created", "created_at", true, "col-roomy")}
              {h("Updated", "updated_at", true, "col-wide")}
              <th>
                Market
                {/* where the Created column does not fit (a phone): its sort, under the market */}
                <span className="cell-more">
                  <button className="sort-btn small" onClick={() => onSort("created_at")} title="Sort by the time created">
                    Time
                    <span className="sort-mark" aria-hidden="true">
                      {byTime ? (sort.dir === "asc" ? "▲" : "▼") : ""}
                    </span>
                  </button>
                </span>
              </th>
              <th>Side</th>
              <th className="col-roomy">Type</th>
              {h("Price", "price")}
              {h("Amount", "qty")}
              <th className="num col-roomy">Filled</th>
              <th className="num col-roomy" title="The average price of the order's trades">
                Avg price
              </th>
              <th className="num col-roomy" title="What the trades came to, in the quote asset (fees apart)">
                Total
              </th>
              {h("Status", "status", true)}
            </tr>
          </thead>
          <tbody>
            {rows.map((o, i) => {
              const m = listings.get(o.symbol);
              const tick = m?.tick_size;
              const when = `Created ${fullTime(o.created_at) ?? "—"}, updated ${fullTime(o.updated_at) ?? "—"}`;
              return (
                <tr key={o.id} data-order-id={o.id}>
                  <td className="col-roomy" title={when}>
                    {compactTime(o.created_at)}
                  </td>
                  <td className="col-wide">{compactTime(o.updated_at)}</td>
                  <td>
                    {o.symbol}
                    {/* on a phone the columns that do not fit go under the cells they belong with */}
                    <span className="cell-more muted small" title={when}>
                      {compactTime(o.created_at)}
                    </span>
                  </td>
                  <td className={o.side === "buy" ? "up" : "down"}>
                    {o.side}
                    <span className="cell-more muted small">{o.type}</span>
                  </td>
                  <td className="col-roomy">{o.type}</td>
                  <td className="num" data-testid="order-price">
                    {o.type === "market" && !o.price ? "—" : formatPrice(o.price, tick)}
                    {o.avg_price && <span className="cell-more muted small">avg {formatPrice(o.avg_price, tick)}</span>}
                  </td>
                  <td className="num">
                    {formatQty(o.qty, m?.lot_size)}
                    {/* what the status does not say already (filled: all of it) */}
                    {compareStrings(o.filled_qty, o.qty) !== 0 && (
                      <span className="cell-more muted small">{formatQty(o.filled_qty, m?.lot_size)} filled</span>
                    )}
                  </td>
                  <td className="num col-roomy">{formatQty(o.filled_qty, m?.lot_size)}</td>
                  <td className="num col-roomy" data-testid="avg-price">
                    {o.avg_price ? formatPrice(o.avg_price, tick) : "—"}
                  </td>
                  <td className="num col-roomy"><Aligned amount={totals[i]} /></td>
                  <StatusCell status={o.status} />
                </tr>
              );
            })}
            {rows.length === 0 && (
              <EmptyRow cols={11} text={emptyText(body, error, filtered ? "No orders match these filters" : "No orders yet")} />
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

type Query = Parameters<typeof withQuery>[1];

/** What the API serves at `path` with `query` (a page of a listing, or a whole list), reloaded after order
 * changes (`historyVersion`) and, given `everyMs`, also on a timer while it is on screen (positions: their
 * last price and unrealized PnL follow the market). `loading` is true until the answer for the current
 * `path` and `query` has come; until then `body` is the previous one (the table does not blink empty). */
function useList<B>(path: string, query?: Query, everyMs?: number): { body: B | null; error: string | null; loading: boolean } {
  const { historyVersion } = useAccount();
  const url = withQuery(path, query);
  const [got, setGot] = useState<{ url: string; body: B } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(() => setTick((t) => t + 1), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  useEffect(() => {
    let alive = true;
    api<B>("GET", url).then(
      (body) => alive && (setGot({ url, body }), setError(null)),
      (e) => alive && setError(e instanceof ApiError ? errorText(e) : String(e)),
    );
    return () => {
      alive = false;
    };
  }, [url, historyVersion, tick]);
  return { body: got?.body ?? null, error, loading: got?.url !== url };
}

function Fills() {
  const listings = useListings();
  const assets = useAssetDecimals();
  const [market, setMarket] = useState<MarketFilter>("all");
  const pages = useCursors();
  const { body, error, loading } = useList<FillPage>("/api/fills", fillsQuery(market, PAGE, pages.cursor));
  const rows = body?.items ?? [];
  const totals = quoteColumn(rows, (f) => f.quote_qty, (f) => listings.get(f.symbol)?.quote_decimals);
  const fees = quoteColumn(rows, (f) => f.fee, (f) => decimalsOfAsset(f.fee_asset, listings.get(f.symbol), assets));
  return (
    <>
      <div className="table-tools">
        <div className="table-filters" role="group" aria-label="Filter the fills">
          <MarketSelect
            value={market}
            onChange={(m) => {
              setMarket(m);
              pages.reset();
            }}
            testId="fills-market"
          />
        </div>
        <span className="spacer" />
        <Pager pages={pages} next={body?.next_cursor ?? null} loading={loading} testId="fills-page" />
      </div>
      {error && <p className="form-error">{error}</p>}
      <div className="table-scroll">
        <table className="table fit-phone" data-testid="fills">
          <thead>
            <tr>
              <th className="col-roomy">Time</th>
              <th>Market</th>
              <th>Side</th>
              <th className="num">Price</th>
              <th className="num">Amount</th>
              <th className="num col-roomy">Total</th>
              <th className="num">Fee</th>
              <th className="col-roomy">Role</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f, i) => (
              <tr key={`${f.trade_id}-${f.order_id}`} data-trade-id={f.trade_id}>
                <td className="col-roomy" title={fullTime(f.ts)}>
                  {compactTime(f.ts)}
                </td>
                <td>
                  {f.symbol}
                  <span className="cell-more muted small" title={fullTime(f.ts)}>
                    {compactTime(f.ts)}
                  </span>
                </td>
                <td className={f.side === "buy" ? "up" : "down"}>
                  {f.side}
                  <span className="cell-more muted small">{f.liquidity}</span>
                </td>
                <td className="num">{formatPrice(f.price, listings.get(f.symbol)?.tick_size)}</td>
                <td className="num">{formatQty(f.qty, listings.get(f.symbol)?.lot_size)}</td>
                <td className="num col-roomy">
                  <Aligned amount={totals[i]} />
                </td>
                <td className="num" data-testid="fill-fee">
                  <Aligned amount={fees[i]} /> {f.fee_asset}
                </td>
                <td className="col-roomy">{f.liquidity}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <EmptyRow cols={8} text={emptyText(body, error, market !== "all" ? `No fills in ${market}` : "No fills yet")} />
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** What `GET /api/positions` computes (PositionCalc in exchange/api/history.py: average cost over the fills
 * in trade order), said where the figures are shown. */
const REALIZED_HINT =
  "Realized PnL is net of fees: what closing fills gave over the average entry (amount closed × price difference), " +
  "minus every fee paid on the market's fills, the opening ones included (so it dips by the fee as soon as a position opens).";
const UNREALIZED_HINT = "Unrealized PnL is (last price − average entry) × position, before fees; the average entry leaves fees out.";
/** What the Positions tab's amount is on a spot exchange: the net of the account's trades on the market, not
 * a holding (deposits are left out) and never a short (a spot account cannot borrow to sell). */
const NET_HINT =
  "Net bought: bought minus sold on the market since the account opened (spot: a negative figure is more sold " +
  "than bought, from funds deposited, not a short position).";

/** "up", "down" or "" by the sign of an amount. */
function signClass(v: string): string {
  const s = sign(v);
  return s > 0 ? "up" : s < 0 ? "down" : "";
}

function Positions() {
  const { body, error } = useList<Position[]>("/api/positions", undefined, 5_000);
  const rows = Array.isArray(body) ? body : [];
  const listings = useListings();
  const assets = useAssetDecimals();
  const quoteOf = (p: Position) => decimalsOfAsset(p.quote, listings.get(p.symbol), assets);
  const realized = quoteColumn(rows, (p) => p.realized_pnl, quoteOf);
  const unrealized = quoteColumn(rows, (p) => p.unrealized_pnl, quoteOf);
  const fees = quoteColumn(rows, (p) => p.fees, quoteOf);
  return (
    <div className="table-scroll">
      {error && <p className="form-error">{error}</p>}
      <table className="table fit-phone" data-testid="positions">
        <thead>
          <tr>
            <th>Market</th>
            <th className="num" title={NET_HINT}>
              Net bought
            </th>
            <th className="num col-roomy">Avg entry</th>
            <th className="num col-roomy">Last</th>
            <th className="num col-roomy" title={REALIZED_HINT}>
              Realized PnL
            </th>
            <th className="num" title={UNREALIZED_HINT}>
              Unrealized PnL
            </th>
            <th className="num col-roomy" title="Every fee paid on the market's fills (fees are in the quote asset)">
              Fees
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p, i) => {
            const m = listings.get(p.symbol);
            const tick = m?.tick_size;
            // the API gives the average entry 4 decimals finer than the tick: in full on hover
            const avgTitle = p.avg_entry_price ? `Average entry ${p.avg_entry_price}` : undefined;
            return (
              <tr key={p.symbol} data-symbol={p.symbol}>
                <td>
                  {p.symbol}
                  {/* on a phone the columns that do not fit go under the cells they belong with */}
                  <span className="cell-more muted small">last {formatPrice(p.last_price, tick)}</span>
                </td>
                <td className="num" title={NET_HINT} data-testid="net-bought">
                  {formatSigned(p.position, m?.lot_size ? decimalsOf(m.lot_size) : undefined)} {p.base}
                  <span className="cell-more muted small" title={avgTitle}>
                    avg {formatPrice(p.avg_entry_price, tick)}
                  </span>
                </td>
                <td className="num col-roomy" title={avgTitle}>
                  {formatPrice(p.avg_entry_price, tick)}
                </td>
                <td className="num col-roomy">{formatPrice(p.last_price, tick)}</td>
                <td className={`num col-roomy ${signClass(p.realized_pnl)}`}>
                  <Aligned amount={realized[i]} /> {p.quote}
                </td>
                <td className={`num ${signClass(p.unrealized_pnl)}`}>
                  <Aligned amount={unrealized[i]} /> {p.quote}
                  <span className="cell-more muted small" title={REALIZED_HINT}>
                    realized {realized[i].text}
                  </span>
                </td>
                <td className="num col-roomy">
                  <Aligned amount={fees[i]} /> {p.quote}
                </td>
              </tr>
            );
          })}
          {rows.length === 0 && <EmptyRow cols={7} text={emptyText(body, error, "No positions yet")} />}
        </tbody>
      </table>
      <p className="muted small table-note" data-testid="pnl-note">
        {NET_HINT} {REALIZED_HINT} {UNREALIZED_HINT}
      </p>
    </div>
  );
}

/** One amount of the balances table: its figures, then the invisible ones that line its decimal point up
 * with the column's (`alignAmounts`; drawn by CSS from data-pad, so neither copied nor read out). */
function AmountCell({ amount, className }: { amount: AlignedAmount; className?: string }) {
  return (
    <td className={className ? `num ${className}` : "num"}>
      <Aligned amount={amount} />
    </td>
  );
}

/** Each asset's available, in orders and total, at its own decimals, each column's decimal points in line
 * (`alignAmounts` says the rule), the three columns at one number of decimals, so a row reads alike across
 * ("2,000.000000" available beside a total of "2,000.00" read as two different figures). The total is where
 * there is room: a phone shows the two it adds up. */
/** The asset the balances' estimated total is in. */
const VALUE_ASSET = "USDT";

function Balances() {
  const { balances } = useAccount();
  const decimals = useAssetDecimals();
  const [hideZero, setHideZero] = usePref<"0" | "1">(PREF_KEYS.hideZeroBalances, ["0", "1"], "0"); // kept across reloads
  const everyAsset = [...balances.values()].sort((a, b) => a.asset.localeCompare(b.asset));
  const list = hideZero === "1" ? everyAsset.filter((b) => !isZeroBalance(b)) : everyAsset;
  const hidden = everyAsset.length - list.length;
  const cell = (amount: (b: Balance) => string | null) => list.map((b) => ({ value: amount(b), decimals: decimals.get(b.asset) }));
  const all = alignAmounts([
    ...cell((b) => b.available),
    ...cell((b) => b.held),
    ...cell((b) => {
      const [a, h] = [parse(b.available), parse(b.held)];
      return a && h ? toPlain(add(a, h)) : null;
    }),
  ]);
  const n = list.length;
  const [available, held, total] = [all.slice(0, n), all.slice(n, 2 * n), all.slice(2 * n)];
  return (
    <>
      <div className="table-tools balances-tools">
        <label className="check-label">
          <input
            type="checkbox"
            data-testid="hide-zero"
            checked={hideZero === "1"}
            onChange={(e) => setHideZero(e.target.checked ? "1" : "0")}
          />
          Hide zero balances
        </label>
        <span className="spacer" />
        <EstimatedValue balances={everyAsset} />
      </div>
      <div className="table-scroll">
        <table className="table balances-table" data-testid="balances">
          <thead>
            <tr>
              <th>Asset</th>
              <th className="num">Available</th>
              <th className="num">In orders</th>
              <th className="num col-roomy" title="Available + in orders">
                Total
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((b, i) => (
              <tr key={b.asset} data-asset={b.asset}>
                <td>{b.asset}</td>
                <AmountCell amount={available[i]} />
                <AmountCell amount={held[i]} />
                <AmountCell amount={total[i]} className="col-roomy" />
              </tr>
            ))}
            {list.length === 0 && (
              <EmptyRow cols={4} text={hidden > 0 ? "Every balance is zero (hidden)" : balances.size ? "No balances" : "Loading…"} />
            )}
          </tbody>
        </table>
      </div>
      <Transfers />
    </>
  );
}

/** The balances' estimated value in USDT: each asset's total at the last price of its USDT market (the
 * tickers), USDT at 1; an asset with no such price is left out and named. */
function EstimatedValue({ balances }: { balances: readonly Balance[] }) {
  const tickers = useTickers();
  const { markets } = useMarkets();
  const decimals = useAssetDecimals();
  const bySymbol = useMemo(() => valueMarkets(markets, VALUE_ASSET), [markets]);
  if (balances.length === 0 || markets.length === 0) return null;
  const totals = balances.map((b) => {
    const [a, h] = [parse(b.available), parse(b.held)];
    return { asset: b.asset, total: a && h ? toPlain(add(a, h)) : null };
  });
  const { value, unpriced } = accountValue(totals, (asset) => tickers.get(bySymbol.get(asset) ?? "")?.last, VALUE_ASSET);
  const shown = Math.min(2, decimals.get(VALUE_ASSET) ?? 2);
  return (
    <span className="account-value" data-testid="account-value">
      <span className="muted" title={`Each asset's total valued at its ${VALUE_ASSET} market's last price (${VALUE_ASSET} at 1)`}>
        Est. total value
      </span>{" "}
      <span className="num" data-testid="account-value-amount">
        ≈ {format(value, shown)} {VALUE_ASSET}
      </span>
      {unpriced.length > 0 && (
        <span className="muted small" data-testid="account-value-unpriced">
          {" "}
          (not counted, no {VALUE_ASSET} price: {unpriced.join(", ")})
        </span>
      )}
    </span>
  );
}

/** How often the deposits and withdrawals are read again while shown: no live notice tells of a new one. */
const TRANSFERS_EVERY_MS = 15_000;

/** Under the balances: the account's deposits and withdrawals, newest first (`GET /api/transfers`). */
function Transfers() {
  const { balances } = useAccount();
  const [asset, setAsset] = useState("all");
  const [type, setType] = useState<"all" | "deposit" | "withdrawal">("all");
  const pages = useCursors();
  const assets = [...new Set([...balances.keys(), ...(asset === "all" ? [] : [asset])])].sort();
  const query = {
    asset: asset === "all" ? undefined : asset,
    type: type === "all" ? undefined : type,
    limit: PAGE,
    cursor: pages.cursor ?? undefined,
  };
  const { body, error, loading } = useList<TransferPage>("/api/transfers", query, TRANSFERS_EVERY_MS);
  const rows = body?.items ?? [];
  return (
    <section className="transfers" aria-labelledby="transfers-title">
      <div className="table-tools">
        <h3 id="transfers-title" className="section-title">
          Deposits and withdrawals
        </h3>
        <div className="table-filters" role="group" aria-label="Filter the deposits and withdrawals">
          <select
            className="filter-select"
            aria-label="Asset"
            data-testid="transfers-asset"
            value={asset}
            onChange={(e) => {
              setAsset(e.target.value);
              pages.reset();
            }}
          >
            <option value="all">All assets</option>
            {assets.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
          <select
            className="filter-select"
            aria-label="Type"
            data-testid="transfers-type"
            value={type}
            onChange={(e) => {
              setType(e.target.value as typeof type);
              pages.reset();
            }}
          >
            <option value="all">Both</option>
            <option value="deposit">Deposits</option>
            <option value="withdrawal">Withdrawals</option>
          </select>
        </div>
        <span className="spacer" />
        <Pager pages={pages} next={body?.next_cursor ?? null} loading={loading} testId="transfers-page" />
      </div>
      {error && <p className="form-error">{error}</p>}
      <div className="table-scroll">
        <table className="table fit-phone" data-testid="transfers">
          <thead>
            <tr>
              <th>Time</th>
              <th>Type</th>
              <th>Asset</th>
              <th className="num">Amount</th>
              <th className="col-roomy">Reference</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.id} data-transfer-id={t.id} data-asset={t.asset}>
                <td title={fullTime(t.ts)}>{compactTime(t.ts)}</td>
                <td className={t.type === "deposit" ? "up" : "down"}>{t.type}</td>
                <td>
                  {t.asset}
                  {/* where the Reference column does not fit (a phone), under the asset */}
                  <span className="cell-more muted small">{t.ref}</span>
                </td>
                <td className={`num ${t.type === "deposit" ? "up" : "down"}`}>
                  {/* the sign says it where colour cannot: a withdrawal took the amount out */}
                  {t.type === "deposit" ? "+" : "−"}
                  {formatAmount(t.amount)}
                </td>
                <td className="col-roomy muted">{t.ref}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={5} className="muted center">
                  {emptyText(body, error, asset !== "all" || type !== "all" ? "None match the filters" : "No deposits or withdrawals yet")}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
