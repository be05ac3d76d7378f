/**
 * The account tables' filters (order history, fills) as the API's query parameters, the CSV export's file
 * name, and which sorts make sense with them. Pure: the components (AccountPanel.tsx) hold the state.
 */
import type { SortKey, SortOrder } from "../api/types";

/** "all" or one market's symbol. */
export type MarketFilter = "all" | string;
export type SideFilter = "all" | "buy" | "sell";
/** The API's `status` filter (`all` is its default). */
export type StatusFilter = "all" | "open" | "closed";

export interface HistoryFilters {
  market: MarketFilter;
  side: SideFilter;
  status: StatusFilter;
}

export const NO_FILTERS: HistoryFilters = { market: "all", side: "all", status: "all" };

export interface HistorySort {
  key: SortKey;
  dir: SortOrder;
}

export const DEFAULT_SORT: HistorySort = { key: "created_at", dir: "desc" };

/** Sorts that compare values across markets only by accident (50,000 BTC-USDT beside 5 DOT-USDT): the API
 * sorts prices as ticks and amounts as lots, so they are offered only with one market chosen. */
const ONE_MARKET_SORTS: ReadonlySet<SortKey> = new Set<SortKey>(["price", "qty"]);

/** Whether the table may be sorted by `key` with this market filter. */
export function sortAllowed(key: SortKey, market: MarketFilter): boolean {
  return market !== "all" || !ONE_MARKET_SORTS.has(key);
}

/** The sort to keep once the market filter is `market`: the same one where it still makes sense, else the
 * default (newest first). */
export function sortFor(sort: HistorySort, market: MarketFilter): HistorySort {
  return sortAllowed(sort.key, market) ? sort : DEFAULT_SORT;
}

/** The filters' query parameters (`undefined` for "all", which the request leaves out; `status=all` is
 * sent, the API's default, so the request says what the table shows). */
function filterQuery(f: HistoryFilters): { symbol?: string; side?: "buy" | "sell"; status: StatusFilter } {
  return {
    symbol: f.market === "all" ? undefined : f.market,
    side: f.side === "all" ? undefined : f.side,
    status: f.status,
  };
}

/** `GET /api/orders` for one page of the order history table. */
export function ordersQuery(f: HistoryFilters, sort: HistorySort, limit: number, cursor: string | null) {
  const s = sortFor(sort, f.market);
  return { ...filterQuery(f), sort: s.key, order: s.dir, limit, cursor: cursor ?? undefined };
}

/** `GET /api/orders/export.csv`: the table's filters and order, every page. */
export function exportQuery(f: HistoryFilters, sort: HistorySort) {
  const s = sortFor(sort, f.market);
  return { ...filterQuery(f), sort: s.key, order: s.dir };
}

/** `GET /api/fills` for one page of the fills table. */
export function fillsQuery(market: MarketFilter, limit: number, cursor: string | null) {
  return { symbol: market === "all" ? undefined : market, limit, cursor: cursor ?? undefined };
}

/** The export's file name, naming what it holds: "orders.csv", "orders-BTC-USDT.csv",
 * "orders-BTC-USDT-buy-open.csv" (only characters safe in a file name are kept from the symbol). */
export function exportFileName(f: HistoryFilters): string {
  const parts = ["orders"];
  if (f.market !== "all") parts.push(f.market.replace(/[^A-Za-z0-9._-]/g, "_"));
  if (f.side !== "all") parts.push(f.side);
  if (f.status !== "all") parts.push(f.status);
  return `${parts.join("-")}.csv`;
}

/** The market filter's choices: "all", then the listed markets by symbol; a chosen market that is no longer
 * listed stays a choice, so the select still shows what the table is filtered by. */
export function marketChoices(symbols: readonly string[], chosen: MarketFilter): string[] {
  const list = [...new Set(symbols)].sort();
  if (chosen !== "all" && !list.includes(chosen)) list.push(chosen);
  return list;
}
