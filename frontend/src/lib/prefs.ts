/**
 * Choices of the trader's that a reload keeps (the chart's interval, the order form's side, the account
 * panel's tab), in localStorage. Only a value from the caller's list comes back: anything else stored (an
 * older version's value, a hand edit) reads as the default. Storage that refuses (private mode, full, off)
 * only means the choice is not kept.
 */

export type PrefStorage = Pick<Storage, "getItem" | "setItem">;

export const PREF_KEYS = {
  chartInterval: "exchange.chartInterval",
  orderSide: "exchange.orderSide",
  accountTab: "exchange.accountTab",
  lastMarket: "exchange.lastMarket",
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
