/**
 * A market's two assets. The market's listing (`GET /api/markets`: `base`, `quote`) names them; the symbol
 * is only a name, so an asset whose own symbol holds a dash ("BTC-2X-USDT"), or a market listed under
 * another symbol, still names the right assets. Only while the listing is not loaded yet are they guessed
 * from the symbol.
 */
import type { Market } from "../api/types";

export interface MarketAssets {
  base: string;
  quote: string;
}

/** The base and quote assets of `symbol`: its listing's when known, else guessed from the symbol. */
export function marketAssets(symbol: string, listing?: Pick<Market, "base" | "quote"> | null): MarketAssets {
  if (listing?.base && listing.quote) return { base: listing.base, quote: listing.quote };
  return guessAssets(symbol);
}

/** The assets a symbol suggests, "BASE-QUOTE", split at its last dash: quote assets are a handful of
 * settlement currencies (USDT, USDC, BTC) that do not hold a dash, while base assets are many and some do
 * ("BTC-2X-USDT" -> BTC-2X, USDT). A symbol without a dash is all base, with no quote known (""). */
export function guessAssets(symbol: string): MarketAssets {
  const at = symbol.lastIndexOf("-");
  return at < 0 ? { base: symbol, quote: "" } : { base: symbol.slice(0, at), quote: symbol.slice(at + 1) };
}
