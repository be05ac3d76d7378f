/** Shared data hooks: session, connection state, reference data, the live tickers and a market's trades. */
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import type { Asset, Market, Ticker, Trade } from "../api/types";
import { api } from "./http";
import { mergeTrades } from "./lastPrice";
import { loadFavorites, loadPref, PREF_KEYS, saveFavorites, savePref, toggleFavorite } from "./prefs";
import { getSession, subscribeSession, type Session } from "./session";
import { ws, type ConnState } from "./ws";

export function useSession(): Session | null {
  return useSyncExternalStore(subscribeSession, getSession);
}

export function useConnState(): ConnState {
  return useSyncExternalStore(
    (l) => ws.onState(l),
    () => ws.state,
  );
}

/** How long the markets list is reused: a status change (halted, cancel only) shows within this. */
export const MARKETS_TTL_MS = 30_000;
let marketsCache: Promise<Market[]> | null = null;
let marketsAt = 0;

export function loadMarkets(): Promise<Market[]> {
  if (!marketsCache || Date.now() - marketsAt >= MARKETS_TTL_MS) {
    marketsAt = Date.now();
    marketsCache = api<Market[]>("GET", "/api/markets", { auth: false }).catch((e) => {
      marketsCache = null;
      throw e;
    });
  }
  return marketsCache;
}

export function useMarkets(): { markets: Market[]; error: string | null } {
  const [markets, setMarkets] = useState<Market[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      loadMarkets().then(
        (m) => {
          if (!alive) return;
          // the same list again keeps its identity: nothing downstream re-renders or re-subscribes
          setMarkets((prev) => (JSON.stringify(prev) === JSON.stringify(m) ? prev : m));
          setError(null);
          retry = setTimeout(load, MARKETS_TTL_MS);
        },
        (e: Error) => {
          if (!alive) return;
          setError(e.message);
          retry = setTimeout(load, 2000);
        },
      );
    void load();
    return () => {
      alive = false;
      if (retry) clearTimeout(retry);
    };
  }, []);
  return { markets, error };
}

// the assets and their decimals (`GET /api/assets`): fixed once an asset exists, so read once per page load
let assetsCache: Promise<Asset[]> | null = null;

export function loadAssets(): Promise<Asset[]> {
  assetsCache ??= api<Asset[]>("GET", "/api/assets", { auth: false }).catch((e) => {
    assetsCache = null; // the next caller asks again
    throw e;
  });
  return assetsCache;
}

/** Each asset's decimals (its smallest unit is 10^-decimals); empty until they are loaded, and while they
 * cannot be (tried again every few seconds). */
export function useAssetDecimals(): ReadonlyMap<string, number> {
  const [decimals, setDecimals] = useState<ReadonlyMap<string, number>>(new Map());
  useEffect(() => {
    let alive = true;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      loadAssets().then(
        (list) => alive && setDecimals(new Map(list.map((a) => [a.symbol, a.decimals]))),
        () => void (alive && (retry = setTimeout(load, 5_000))),
      );
    void load();
    return () => {
      alive = false;
      if (retry) clearTimeout(retry);
    };
  }, []);
  return decimals;
}

/** Every market's ticker: the REST list first, then the WebSocket `tickers` channel. */
export function useTickers(): Map<string, Ticker> {
  const [tickers, setTickers] = useState<Map<string, Ticker>>(new Map());
  useEffect(() => {
    let alive = true;
    const merge = (list: Ticker[]) =>
      setTickers((prev) => {
        const next = new Map(prev);
        for (const t of list) if (t && t.symbol) next.set(t.symbol, t);
        return next;
      });
    api<Ticker[]>("GET", "/api/tickers", { auth: false }).then(
      (list) => alive && merge(list),
      () => undefined,
    );
    const off = ws.subscribe("tickers", (msg) => {
      const data = msg.data;
      merge((Array.isArray(data) ? data : [data]) as Ticker[]);
    });
    return () => {
      alive = false;
      off();
    };
  }, []);
  return tickers;
}

/** How long a view waits for the server to confirm its channel before it loads what it shows anyway (ms). */
export const SUBSCRIBED_WAIT_MS = 2_000;

/** What `loadPerSubscription` needs of the WebSocket client (lib/ws.ts `WsClient`). */
export interface SubscriptionSource {
  onSubscribed(channel: string, listener: () => void): () => void;
}

/**
 * Runs `load`, which reads over REST what `channel` then keeps up to date (a market's candles or trades, the
 * account's balances or open orders), once per subscription: each time the server confirms the channel (the
 * first time, and again after every reconnection), since from then on the channel pushes every change and a
 * snapshot read after that misses none (one read before could miss a change made before the subscription took
 * effect). Not also at once when the view mounts: that read needed this one after it anyway, and every page
 * load fetched each data set twice. Where no confirmation comes within `waitMs` (the connection down or
 * slow, the subscription refused for a while), it loads anyway, for a first paint, and again once the
 * confirmation comes. Call it with `ws.subscribe(channel, ...)`, which sends the subscription; the channel
 * must be one no other view subscribes already (the server confirms a subscription once, to whoever asked).
 * Returns the cleanup.
 */
export function loadPerSubscription(
  channel: string,
  load: () => void,
  waitMs: number = SUBSCRIBED_WAIT_MS,
  source: SubscriptionSource = ws,
): () => void {
  let confirmed = false;
  const first = setTimeout(() => {
    if (!confirmed) load();
  }, waitMs);
  const off = source.onSubscribed(channel, () => {
    confirmed = true;
    clearTimeout(first);
    load();
  });
  return () => {
    clearTimeout(first);
    off();
  };
}

/** How many recent trades the trade page keeps (the tape's rows). */
export const TRADES_KEPT = 60;

/** A market's recent trades, newest first: the last REST page, read once per subscription of the
 * `trades:SYM` channel (`loadPerSubscription`: the first, and after every reconnection), then the channel.
 * The trade page's tape and its header's last price (lib/lastPrice.ts) both read it, so they render the
 * same trade in the same commit. Another symbol's trades are never returned, not even
 * in the render that switches markets. `null`: none (an unknown market). */
export function useTrades(symbol: string | null): Trade[] {
  const [state, setState] = useState<{ symbol: string | null; trades: Trade[] }>({ symbol, trades: [] });
  useEffect(() => {
    if (!symbol) return; // no market (yet): nothing to ask for
    let alive = true;
    setState({ symbol, trades: [] });
    const merge = (incoming: Trade[]) =>
      setState((prev) => ({
        symbol,
        trades: mergeTrades(prev.symbol === symbol ? prev.trades : [], incoming, TRADES_KEPT),
      }));
    const load = () =>
      api<Trade[]>("GET", `/api/markets/${symbol}/trades`, { query: { limit: TRADES_KEPT }, auth: false }).then(
        (list) => alive && merge(list),
        () => undefined,
      );
    const off = ws.subscribe(`trades:${symbol}`, (msg) => {
      const d = msg.data;
      merge((Array.isArray(d) ? d : [d]) as Trade[]);
    });
    // once the server confirms the channel (each connection): a trade between a load made before and the
    // subscription taking effect would be missing from the tape (and the header's price)
    const offSubscribed = loadPerSubscription(`trades:${symbol}`, () => void load());
    return () => {
      alive = false;
      off();
      offSubscribed();
    };
  }, [symbol]);
  return symbol && state.symbol === symbol ? state.trades : [];
}

/** Re-render when the page's hash route changes. */
export function useHashRoute(): string {
  return useSyncExternalStore(
    (l) => {
      window.addEventListener("hashchange", l);
      return () => window.removeEventListener("hashchange", l);
    },
    () => window.location.hash.replace(/^#/, "") || "/markets",
  );
}

/** A choice a reload keeps (lib/prefs.ts): the stored one when it is one of `allowed`, else `fallback`. */
export function usePref<T extends string>(key: string, allowed: readonly T[], fallback: T): [T, (value: T) => void] {
  const [value, setValue] = useState<T>(() => loadPref(key, allowed, fallback));
  const set = useCallback(
    (v: T) => {
      setValue(v);
      savePref(key, v);
    },
    [key],
  );
  return [value, set];
}

// the starred pairs, shared by every view that shows stars (the markets list, the trade page's header) and
// kept in step with other tabs of the terminal (their change arrives as a `storage` event)
let favoritesNow: readonly string[] = loadFavorites();
const favoriteListeners = new Set<() => void>();

function subscribeFavorites(listener: () => void): () => void {
  favoriteListeners.add(listener);
  const fromOtherTab = (e: StorageEvent) => {
    if (e.key !== PREF_KEYS.favorites) return;
    favoritesNow = loadFavorites();
    listener();
  };
  window.addEventListener("storage", fromOtherTab);
  return () => {
    favoriteListeners.delete(listener);
    window.removeEventListener("storage", fromOtherTab);
  };
}

/** The starred pairs and a toggle of one (kept in localStorage). */
export function useFavorites(): [readonly string[], (symbol: string) => void] {
  const favorites = useSyncExternalStore(subscribeFavorites, () => favoritesNow);
  const toggle = useCallback((symbol: string) => {
    favoritesNow = toggleFavorite(favoritesNow, symbol);
    saveFavorites(favoritesNow);
    for (const l of favoriteListeners) l();
  }, []);
  return [favorites, toggle];
}
