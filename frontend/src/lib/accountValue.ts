/**
 * The balances tab's estimated account value: every asset's total (available + in orders) valued in one
 * asset (USDT) at the last price of its market against that asset, the asset itself at 1. An asset with a
 * balance but no such market or no last price yet is left out, and named, so the figure never pretends to
 * hold it. Exact decimals.
 */
import { add, cmp, mul, parse, ZERO, type Dec } from "./money";

export interface ValueInput {
  asset: string;
  /** the asset's total, available + in orders (plain decimal) */
  total: string | null;
}

export interface AccountValue {
  /** the sum of the priced assets' values, in `valueAsset` */
  value: Dec;
  /** the assets with a balance that have no price in `valueAsset`, alphabetical */
  unpriced: string[];
}

/**
 * `balances` valued in `valueAsset`: `priceOf(asset)` is the last price of the asset's market quoted in
 * `valueAsset` (null where there is none or it has not traded yet). Zero balances count for nothing and
 * need no price.
 */
export function accountValue(
  balances: readonly ValueInput[],
  priceOf: (asset: string) => string | null | undefined,
  valueAsset = "USDT",
): AccountValue {
  let value: Dec = ZERO;
  const unpriced: string[] = [];
  for (const b of balances) {
    const total = parse(b.total);
    if (!total || cmp(total, ZERO) === 0) continue;
    if (b.asset === valueAsset) {
      value = add(value, total);
      continue;
    }
    const price = parse(priceOf(b.asset));
    if (!price || cmp(price, ZERO) <= 0) unpriced.push(b.asset);
    else value = add(value, mul(total, price));
  }
  return { value, unpriced: unpriced.sort() };
}

/** Each base asset's market quoted in `valueAsset` (its symbol), from the markets' listings. */
export function valueMarkets(
  markets: readonly { symbol: string; base: string; quote: string }[],
  valueAsset = "USDT",
): Map<string, string> {
  return new Map(markets.filter((m) => m.quote === valueAsset).map((m) => [m.base, m.symbol]));
}

/** Whether a balance is zero everywhere (nothing available, nothing in orders): what "Hide zero balances"
 * hides. One that cannot be read is not hidden. */
export function isZeroBalance(b: { available: string | null; held: string | null }): boolean {
  const [a, h] = [parse(b.available), parse(b.held)];
  return !!a && !!h && a.coef === 0n && h.coef === 0n;
}
