/**
 * Choices of the trader's that a reload keeps (the chart's interval, the order form's side, the account
 * panel's tab, whether the balances hide zero ones), in localStorage. Only a value from the caller's list
 * comes back: anything else stored (an older version's value, a hand edit) reads as the default. Storage that refuses (private mode, full, off)
 * only means the choice is not kept.
 */

export type PrefStorage = Pick<Storage, "getItem" | "setItem">;

export const PREF_KEYS = {
  chartInterval: "exchange.chartInterval",
  orderSide: "exchange.orderSide",
  accountTab: "exchange.accountTab",
  lastMarket: "exchange.lastMarket",
  favorites: "exchange.favorites",
  marketsView: "exchange.marketsView",
  hideZeroBalances: "exchange.hideZeroBalances",
} as const;

function defaultStorage(): PrefStorage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // the property itself can throw where storage is blocked
  }
}

/** The stored choice under `key` when it is one of `allowed`, else `fallback`. */
export function loadPref<T extends string>(
  key: string,
  allowed: readonly T[],
  fallback: T,
  storage: PrefStorage | null = defaultStorage(),
): T {
  try {
    const v = storage?.getItem(key);
    return v !== null && v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

/** Keep `value` under `key` (quietly not, where storage refuses). */
export function savePref(key: string, value: string, storage: PrefStorage | null = defaultStorage()): void {
  try {
    storage?.setItem(key, value);
  } catch {
    // not kept: the choice still holds until the reload
  }
}

/** The market the header's "Trade" opens when none was viewed yet (or the stored one is malformed). */
export const DEFAULT_MARKET = "BTC-USDT";
const SYMBOL_RE = /^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$/;

/** The most pairs the favorites keep (a stored list longer than this is cut: a hand edit, another tab). */
export const MAX_FAVORITES = 200;

/** The starred pairs, in the order they were starred; anything malformed stored reads as none of it. */
export function loadFavorites(storage: PrefStorage | null = defaultStorage()): string[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(PREF_KEYS.favorites) ?? "[]");
    if (!Array.isArray(parsed)) return [];
    const valid = parsed.filter((v): v is string => typeof v === "string" && SYMBOL_RE.test(v));
    return [...new Set(valid)].slice(0, MAX_FAVORITES);
  } catch {
    return [];
  }
}

/** The favorites with `symbol` starred or unstarred (a new star goes last). */
export function toggleFavorite(favorites: readonly string[], symbol: string): string[] {
  return favorites.includes(symbol) ? favorites.filter((s) => s !== symbol) : [...favorites, symbol].slice(-MAX_FAVORITES);
}

export function saveFavorites(favorites: readonly string[], storage: PrefStorage | null = defaultStorage()): void {
  savePref(PREF_KEYS.favorites, JSON.stringify(favorites), storage);
}

/** The last market viewed, for the header's "Trade" link (a market since delisted opens its page, which
 * says it is unknown and links to the list). */
export function loadLastMarket(storage: PrefStorage | null = defaultStorage()): string {
  try {
    const v = storage?.getItem(PREF_KEYS.lastMarket);
    return v && SYMBOL_RE.test(v) ? v : DEFAULT_MARKET;
  } catch {
    return DEFAULT_MARKET;
  }
}
