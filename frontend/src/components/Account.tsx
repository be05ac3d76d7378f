/**
 * The logged-in account's live state: balances (REST + `balances` channel), open orders (REST + `orders`
 * channel) and order notifications. `version` increases whenever an order changes. `historyVersion`, what
 * the views that read PostgreSQL (order history, fills, positions) reload on, increases when the `history`
 * channel says the persistence workers have written a change of the account's orders (the engine's `orders`
 * notice comes first, before PostgreSQL has it), and after a reconnect, which may have missed some.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { Balance, Order, OrderPage } from "../api/types";
import { loadMarkets, loadPerSubscription, useSession } from "../lib/hooks";
import { api } from "../lib/http";
import { NoticeBursts } from "../lib/noticeBursts";
import { isOpen, mergeOpenOrders, OrderTracker, type MarketListing } from "../lib/orderEvents";
import { fetchAllPages, LatestLoad } from "../lib/paging";
import { throttle } from "../lib/throttle";
import { isHistoryResync, ws } from "../lib/ws";
import { useToasts } from "./Toasts";

/** `GET /api/orders` page size: the API's maximum (`MAX_LIMIT` in exchange/api/history.py). */
const OPEN_ORDERS_PAGE = 500;
/** How many open orders the terminal loads at most: the engine's cap per account (U.MAX_OPEN_ORDERS in
 * lua/lib/01_util.lua), 4 full pages; `maxPages` guards against short ones. */
export const OPEN_ORDERS_LIMITS = { maxItems: 2_000, maxPages: 10 };
/** After a "cancel all" answers, its orders' own cancellation notices stay quiet this long (ms): the
 * summary toast says it once, instead of hundreds of toasts pushing it out of the stack. */
export const BULK_CANCEL_QUIET_MS = 3_000;
/** The PostgreSQL-backed views reload at most this often (ms), however many `history` notices come. */
export const HISTORY_RELOAD_MIN_MS = 500;

interface AccountState {
  balances: Map<string, Balance>;
  openOrders: Order[];
  /** false when the account has more open orders than the terminal loads (OPEN_ORDERS_LIMITS) */
  openOrdersComplete: boolean;
  version: number;
  /** bumped when PostgreSQL holds new changes of the account's orders (at most every HISTORY_RELOAD_MIN_MS) */
  historyVersion: number;
  noteOrder: (o: Order) => void;
  reload: () => void;
  /** no per-order toast for cancellations until `untilMs` (Date.now() scale): a bulk cancel in progress */
  quietCancels: (untilMs: number) => void;
}

const Ctx = createContext<AccountState>({
  balances: new Map(),
  openOrders: [],
  openOrdersComplete: true,
  version: 0,
  historyVersion: 0,
  noteOrder: () => undefined,
  reload: () => undefined,
  quietCancels: () => undefined,
});

export function useAccount(): AccountState {
  return useContext(Ctx);
}

export function AccountProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  // who is logged in, not just whether: logging in as another account must reload everything
  const who = session?.email ?? null;
  const loggedIn = who !== null;
  const toasts = useToasts();
  const [balances, setBalances] = useState<Map<string, Balance>>(new Map());
  const [openOrders, setOpenOrders] = useState<Order[]>([]);
  const [openOrdersComplete, setOpenOrdersComplete] = useState(true);
  const [version, setVersion] = useState(0);
  const [historyVersion, setHistoryVersion] = useState(0);
  // each market's listing, for the notices to say prices at the market's price decimals and name its assets
  const listings = useRef(new Map<string, MarketListing>());
  const tracker = useRef(new OrderTracker((symbol) => listings.current.get(symbol)));
  // a burst of notices (a bot placing 20 orders in a second) becomes one summary toast, not 20
  const bursts = useRef(new NoticeBursts());
  // a newer load, another account or unmounting supersedes the load in flight (aborted, sets nothing): one for
  // the balances, one for the open orders, each loaded once per subscription of its own channel
  const balancesLoad = useRef(new LatestLoad());
  const ordersLoad = useRef(new LatestLoad());
  // order updates the channel brought while the open orders were loading: they win over older pages
  const seenDuringLoad = useRef<Map<string, Order> | null>(null);
  const cancelsQuietUntil = useRef(0);
  const quietCancels = useCallback((untilMs: number) => void (cancelsQuietUntil.current = untilMs), []);

  const loadBalances = useCallback(() => {
    if (who === null) return;
    const { signal, isLatest } = balancesLoad.current.start();
    api<Balance[]>("GET", "/api/balances", { signal }).then(
      (list) => {
        if (isLatest()) setBalances(new Map(list.map((b) => [b.asset, b])));
      },
      () => undefined,
    );
  }, [who]);

  const loadOpenOrders = useCallback(() => {
    if (who === null) return;
    const { signal, isLatest } = ordersLoad.current.start();
    const seen = new Map<string, Order>();
    seenDuringLoad.current = seen;
    fetchAllPages(
      (cursor) => api<OrderPage>("GET", "/api/orders", { query: { status: "open", sort: "id", order: "desc", limit: OPEN_ORDERS_PAGE, cursor }, signal }),
      OPEN_ORDERS_LIMITS,
    ).then(
      ({ items, complete }) => {
        if (!isLatest()) return;
        seenDuringLoad.current = null;
        // known orders: no "accepted" toast on load (the channel already noted the ones it brought)
        for (const o of items) if (!seen.has(String(o.id))) tracker.current.note(o);
        setOpenOrders(mergeOpenOrders(items, seen));
        setOpenOrdersComplete(complete);
      },
      () => {
        if (isLatest()) seenDuringLoad.current = null;
      },
    );
  }, [who]);

  const reload = useCallback(() => {
    loadBalances();
    loadOpenOrders();
  }, [loadBalances, loadOpenOrders]);

  const noteOrder = useCallback(
    (o: Order) => {
      const n = tracker.current.note(o);
      const quiet = o.status === "cancelled" && Date.now() < cancelsQuietUntil.current;
      if (n && !quiet) {
        for (const op of bursts.current.add(n, Date.now())) {
          if (op.op === "show") toasts.push(op.toast.kind, op.toast.title, op.toast.body, op.key);
          else toasts.dismissKey(op.key);
        }
      }
      const seen = seenDuringLoad.current;
      const prior = seen?.get(String(o.id));
      if (seen && !(prior && Number(prior.updated_at ?? 0) > Number(o.updated_at ?? 0))) seen.set(String(o.id), o);
      setOpenOrders((prev) => {
        const rest = prev.filter((x) => String(x.id) !== String(o.id));
        if (!isOpen(o)) return rest;
        const old = prev.find((x) => String(x.id) === String(o.id));
        // never let an older state overwrite a newer one
        if (old && Number(old.updated_at ?? 0) > Number(o.updated_at ?? 0)) return prev;
        return [o, ...rest];
      });
      setVersion((v) => v + 1);
    },
    [toasts],
  );

  useEffect(() => {
    // a new account (or none) starts from nothing: no balance or order of the previous one stays on screen
    setBalances(new Map());
    setOpenOrders([]);
    setOpenOrdersComplete(true);
    tracker.current = new OrderTracker((symbol) => listings.current.get(symbol));
    bursts.current = new NoticeBursts();
    if (!loggedIn) return;
    loadMarkets().then(
      (list) => void (listings.current = new Map(list.map((m) => [m.symbol, m]))),
      () => undefined, // the notices then say prices as sent, and guess the assets from the symbol
    );
    const offOrders = ws.subscribe("orders", (msg) => {
      const data = msg.data;
      for (const o of (Array.isArray(data) ? data : [data]) as Order[]) if (o && o.id !== undefined) noteOrder(o);
    });
    const offBalances = ws.subscribe("balances", (msg) => {
      const data = msg.data;
      setBalances((prev) => {
        const next = new Map(prev);
        for (const b of (Array.isArray(data) ? data : [data]) as Balance[]) if (b && b.asset) next.set(b.asset, b);
        return next;
      });
    });
    // each loaded once the server confirms its channel, which from then on pushes every change: at login (or
    // page load) and again after every reconnect, so nothing missed meanwhile stays missing, and only then
    // (loading at once too read each of them twice per page load; lib/hooks.ts loadPerSubscription)
    const offOrdersLoad = loadPerSubscription("orders", loadOpenOrders);
    const offBalancesLoad = loadPerSubscription("balances", loadBalances);
    return () => {
      offOrders();
      offBalances();
      offOrdersLoad();
      offBalancesLoad();
      // a load of this account still in flight must not land in the next one
      balancesLoad.current.cancel();
      ordersLoad.current.cancel();
    };
  }, [loggedIn, who, loadBalances, loadOpenOrders, noteOrder]);

  useEffect(() => {
    if (!loggedIn) return;
    const bump = throttle(() => setHistoryVersion((v) => v + 1), HISTORY_RELOAD_MIN_MS);
    const offHistory = ws.subscribe("history", (msg) => {
      if (isHistoryResync(msg.data)) reload(); // balances and open orders may have missed notices too
      bump();
    });
    // notices sent while the connection was down are lost: once per subscription of the channel
    const offOpen = ws.onSubscribed("history", bump);
    return () => {
      offHistory();
      offOpen();
      bump.cancel();
    };
  }, [loggedIn, who, reload]);

  const value = useMemo(
    () => ({ balances, openOrders, openOrdersComplete, version, historyVersion, noteOrder, reload, quietCancels }),
    [balances, openOrders, openOrdersComplete, version, historyVersion, noteOrder, reload, quietCancels],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
