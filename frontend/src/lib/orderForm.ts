/**
 * Order-form rules, independent of React: snapping inputs to the market's tick and lot, the amount for a
 * percentage of the available balance, the estimated total and fee, and the reason (if any) the order
 * cannot be submitted yet.
 */
import type { Market, Order, SideEstimate, SpendEstimate } from "../api/types";
import {
  ambiguousComma, cmp, commaQuestion, dec, decimalsOf, div, estimate, format, formatFixed, formatPrice, isMultiple, isPositive, mul, parse,
  percentOf, snap, sub, toPlain, add, type Dec,
} from "./money";

export type Side = "buy" | "sell";
export type OrderType = "limit" | "market";
/** A limit order's time in force: good till cancelled, immediate or cancel, fill or kill. */
export type Tif = "gtc" | "ioc" | "fok";
export const TIFS: readonly Tif[] = ["gtc", "ioc", "fok"];
/** Each time in force as the form's list names it, and what it does. */
export const TIF_TEXT: Record<Tif, [string, string]> = {
  gtc: ["GTC", "Good till cancelled: the rest of the order stays on the book"],
  ioc: ["IOC", "Immediate or cancel: fill what the book has at this price or better now, cancel the rest"],
  fok: ["FOK", "Fill or kill: fill all of it now at this price or better, or none of it"],
};

export interface FormInput {
  side: Side;
  type: OrderType;
  price: string;
  qty: string;
  tif: Tif;
  postOnly: boolean;
}

export interface Check {
  reason: string | null;
  total: Dec | null;
  fee: Dec | null;
}

/** Fees are charged in whole minor units of the quote asset. */
export function feeDecimals(m: Market): number {
  return m.quote_decimals;
}

/** An amount the order form shows: what the trader has to spend, the order's total, its fee, or the amount of
 * the base asset it would get. */
export type FormAmount = "available" | "total" | "fee" | "amount";

/**
 * An amount of the order form as it shows it, with its asset ("99,969.763147 USDT").
 *
 * The rule: each amount at its asset's own decimals (the market's `base_decimals` / `quote_decimals`, known
 * with the market: no second request whose answer would change the figures once it came), all of them
 * whatever the value, as Binance shows a fixed precision per asset: "100,000.000000 USDT" then
 * "99,969.763147 USDT", never 2 decimals at one render and 6 at the next, and a Total and its fee alike.
 * Balances and fees are whole minor units, so they show exactly. An amount finer than its asset's minor unit
 * (a BTC-USDT total: 0.01 x 0.00001 = 0.0000001 USDT) is rounded against the trader, so the form never
 * promises more than the order gives nor asks less than it takes: what they have (Available) and what they
 * get (a sell's total, the amount a market buy gets) down, what they pay (a buy's total, every fee) up.
 * `side`: the form's; Available is of the asset that side spends (the quote for a buy, the base for a sell).
 */
export function formAmountText(m: Market, what: FormAmount, side: Side, value: Dec | string | null | undefined): string {
  const inBase = what === "amount" || (what === "available" && side === "sell");
  const pays = what === "fee" || (what === "total" && side === "buy");
  const text = formatFixed(value, inBase ? m.base_decimals : m.quote_decimals, pays ? "up" : "down");
  return `${text} ${inBase ? m.base : m.quote}`;
}

/**
 * The price on the tick, never worse for the trader than what they entered: a buy down to the tick (it never
 * bids more than they said), a sell up (it never asks less). Used wherever the form takes a price it did not
 * have typed key by key (leaving the field after a paste, a price picked in the book): rounding to the
 * nearest tick moved a buy of 2500.005 up to 2500.01. A buy under one tick stays as typed (snapped, it would
 * read 0), so the form can say the minimum.
 */
export function snapPrice(m: Market, side: Side, price: string): string {
  const p = parse(price);
  if (!p || !isPositive(p)) return price;
  const snapped = snap(p, m.tick_size, side === "buy" ? "down" : "up");
  return isPositive(snapped) ? toPlain(snapped) : price;
}

/**
 * The price field's text after an edit from `before` to `after`, as Binance keeps it: a key (`key`: one
 * character typed) that would give the price more decimals than the tick has is refused (the field keeps
 * `before`: the key does nothing, so the price never changes behind the trader's back). Text that arrives
 * whole (a paste, autofill) is kept as it came; the form then says it is not a multiple of the tick, and
 * leaving the field snaps it the trader's way (`snapPrice`). Text that is not a number yet passes (the form
 * says why).
 */
export function editPrice(m: Market, before: string, after: string, key: boolean): string {
  const p = parse(after);
  return key && p && p.scale > decimalsOf(m.tick_size) ? before : after;
}

/** The amount down to the lot; an amount under one lot stays as typed (snapped, it would read 0), so the
 * form can say the minimum. */
export function snapQty(m: Market, qty: string): string {
  const q = parse(qty);
  if (!q || !isPositive(q)) return qty;
  const snapped = snap(q, m.lot_size, "down");
  return isPositive(snapped) ? toPlain(snapped) : qty;
}

/** How far a limit price may be worse than the last trade price before the form asks: 5% (half the seed
 * markets' price band, beyond which the engine refuses it: a question before the wall). */
const FAR_FROM_LAST = 5;

/**
 * The question to ask before a limit order whose price is more than 5% worse than the last trade price for
 * the trader (a buy above last x 1.05, a sell below last x 0.95): "Price is 1,400% above the last price
 * (60,000.00). Place the order?". Null when there is nothing to ask: a market order, no last price known,
 * a price that is not a number, or one within 5%.
 */
export function priceWarning(
  m: Market,
  f: Pick<FormInput, "side" | "type" | "price">,
  last: string | null | undefined,
): string | null {
  if (f.type !== "limit") return null;
  const p = parse(f.price);
  const l = parse(last ?? "");
  if (!p || !isPositive(p) || !l || !isPositive(l)) return null;
  const limit = div(mul(l, dec(f.side === "buy" ? 100 + FAR_FROM_LAST : 100 - FAR_FROM_LAST)), dec(100), l.scale + 2);
  const worse = f.side === "buy" ? cmp(p, limit) > 0 : cmp(p, limit) < 0;
  if (!worse) return null;
  const gap = f.side === "buy" ? sub(p, l) : sub(l, p);
  const pct = div(mul(gap, dec(100)), l, 0, "nearest");
  const where = f.side === "buy" ? "above" : "below";
  return `Price is ${format(pct, 0)}% ${where} the last price (${format(l, decimalsOf(m.tick_size))}). Place the order?`;
}

/**
 * The furthest price the market's band lets a limit order reach from the best price on the other side (the
 * engine refuses one beyond it: PRICE_OUT_OF_BAND, docs/engine.md): for a buy best ask x (1 + band) rounded
 * down to the tick, for a sell best bid x (1 - band) rounded up. Null without a band or a best price.
 */
export function bandLimit(m: Market, side: Side, touch: string | null): Dec | null {
  const t = parse(touch ?? "");
  const band = parse(m.price_band ?? "0");
  if (!t || !isPositive(t) || !band || !isPositive(band)) return null;
  const one = dec(1);
  const raw = mul(t, side === "buy" ? add(one, band) : sub(one, band));
  const tick = dec(m.tick_size);
  const ticks = div(raw, tick, 0, side === "buy" ? "down" : "up");
  return mul(ticks, tick);
}

/**
 * What the engine holds per lot of a buy at `price`: price x lot x (1 + taker fee), rounded up to the quote
 * asset's minor unit (lua/place.lua `hold_for`: the worst-case taker fee, rounded against the payer).
 */
export function perLotHold(m: Market, price: Dec): Dec {
  const cost = mul(mul(price, dec(m.lot_size)), add(dec(1), dec(m.taker_fee)));
  return div(cost, dec(1), m.quote_decimals, "up");
}

/** The engine's hold for a limit buy of `qty` (a multiple of the lot) at `price`: per-lot hold x lots. */
export function buyHold(m: Market, price: Dec, qty: Dec): Dec {
  return mul(perLotHold(m, price), div(qty, dec(m.lot_size), 0, "up"));
}

/**
 * Amount for `pct` % of the available balance: sells spend the base asset; buys spend the quote asset at
 * `price`: as many lots as the engine's hold for them fits in the budget.
 */
export function amountForPercent(m: Market, side: Side, pct: number, available: string, price: string | null): string {
  const avail = parse(available);
  if (!avail || !isPositive(avail)) return "0";
  const scale = decimalsOf(m.lot_size) + 2;
  if (side === "sell") return toPlain(snap(percentOf(avail, pct, scale), m.lot_size, "down"));
  const p = parse(price ?? "");
  if (!p || !isPositive(p)) return "";
  const perLot = perLotHold(m, p);
  if (!isPositive(perLot)) return "";
  const lots = div(percentOf(avail, pct, 18), perLot, 0, "down");
  return toPlain(mul(lots, dec(m.lot_size)));
}

/**
 * Whether an order would likely pay the maker or the taker fee: a post-only order, and a GTC limit order
 * whose price does not cross the best opposite price (a buy below the best ask, a sell above the best bid,
 * or either with that side of the book empty), rest on the book: maker. A limit order that crosses takes
 * (taker; the rest of it, if any, then rests), and so do market orders and IOC/FOK orders, which never rest
 * (an IOC/FOK that does not cross pays nothing: it expires).
 */
export function feeRole(
  f: Pick<FormInput, "side" | "type" | "price" | "tif" | "postOnly">,
  bestBid: string | null,
  bestAsk: string | null,
): "maker" | "taker" {
  if (f.type !== "limit") return "taker";
  if (f.postOnly) return "maker";
  if (f.tif !== "gtc") return "taker";
  const p = parse(f.price);
  if (!p || !isPositive(p)) return "taker";
  const touch = parse((f.side === "buy" ? bestAsk : bestBid) ?? "");
  if (!touch || !isPositive(touch)) return "maker";
  const crosses = f.side === "buy" ? cmp(p, touch) >= 0 : cmp(p, touch) <= 0;
  return crosses ? "taker" : "maker";
}

/**
 * The price the % buttons size a buy by: the limit price typed; with no price typed (or in Market mode) the
 * best opposite price (the best ask for a buy, the best bid for a sell). Null when there is none: a limit
 * price that is not a number yet, or an empty side of the book.
 */
export function percentRef(
  f: Pick<FormInput, "side" | "type" | "price">,
  bestBid: string | null,
  bestAsk: string | null,
): string | null {
  if (f.type === "limit" && f.price.trim()) {
    const p = parse(f.price);
    return p && isPositive(p) && !ambiguousComma(f.price) ? toPlain(p) : null;
  }
  const touch = parse((f.side === "buy" ? bestAsk : bestBid) ?? "");
  return touch && isPositive(touch) ? toPlain(touch) : null;
}

/**
 * What a % button does to the amount: the amount for `pct` % of the available balance (`amountForPercent`),
 * or, when a buy has no price to size it by (`percentRef`), the reason, and the amount typed stays.
 */
export function percentAmount(
  m: Market,
  f: Pick<FormInput, "side" | "type" | "price">,
  pct: number,
  available: string,
  best: { bestBid: string | null; bestAsk: string | null },
): { qty: string; reason: null } | { qty: null; reason: string } {
  if (f.side === "sell") return { qty: amountForPercent(m, "sell", pct, available, null), reason: null };
  const ref = percentRef(f, best.bestBid, best.bestAsk);
  const qty = ref ? amountForPercent(m, "buy", pct, available, ref) : "";
  if (qty) return { qty, reason: null };
  if (f.type === "market") return { qty: null, reason: "No asks in the book to size the amount by" };
  return { qty: null, reason: f.price.trim() ? "Enter a valid price to use %" : "Enter a price to use %" };
}

export function checkOrder(
  m: Market,
  f: FormInput,
  balances: { base: string | null; quote: string | null },
  opts: {
    loggedIn: boolean;
    bestAsk?: string | null;
    bestBid?: string | null;
    /** A market order's side of `GET /estimate` for this qty: the book walked with the engine's rounding. */
    estimate?: SideEstimate | null;
  },
): Check {
  const out = (reason: string | null, total: Dec | null = null, fee: Dec | null = null): Check => ({ reason, total, fee });
  if (m.status && m.status !== "trading") return out(`Market is ${String(m.status).replace(/_/g, " ")}`);
  let price: Dec | null = null;
  if (f.type === "limit") {
    price = parse(f.price);
    if (!f.price.trim()) return out("Enter a price");
    if (ambiguousComma(f.price)) return out(commaQuestion(f.price));
    if (!price) return out("Price is not a number");
    if (!isPositive(price)) return out("Price must be a positive number");
    // the smallest price is one tick (a price under it would snap to 0)
    if (cmp(price, dec(m.tick_size)) < 0) return out(`Minimum price is ${toPlain(m.tick_size)} ${m.quote}`);
    if (!isMultiple(price, m.tick_size)) return out(`Price must be a multiple of ${m.tick_size}`);
    if (m.max_price && cmp(price, dec(m.max_price)) > 0) {
      return out(`Maximum price is ${format(toPlain(m.max_price))} ${m.quote}`);
    }
    const band = bandLimit(m, f.side, (f.side === "buy" ? opts.bestAsk : opts.bestBid) ?? null);
    if (band && (f.side === "buy" ? cmp(price, band) > 0 : cmp(price, band) < 0)) {
      const [most, where] = f.side === "buy" ? ["Maximum", "above the best ask"] : ["Minimum", "below the best bid"];
      const pct = toPlain(mul(dec(m.price_band), dec(100)));
      return out(`${most} price is ${format(band, decimalsOf(m.tick_size))} ${m.quote} (${pct}% ${where})`);
    }
  }
  const qty = parse(f.qty);
  if (!f.qty.trim()) return out("Enter an amount");
  if (ambiguousComma(f.qty)) return out(commaQuestion(f.qty));
  if (!qty) return out("Amount is not a number");
  if (!isPositive(qty)) return out("Amount must be a positive number");
  // the minimum before the lot: an amount under it (0.000001 with a lot of 0.00001) is told the minimum
  const minQty = m.min_qty && cmp(dec(m.min_qty), dec(m.lot_size)) > 0 ? m.min_qty : m.lot_size;
  if (cmp(qty, dec(minQty)) < 0) return out(`Minimum amount is ${toPlain(minQty)} ${m.base}`);
  if (!isMultiple(qty, m.lot_size)) return out(`Amount must be a multiple of ${m.lot_size}`);
  if (m.max_qty && cmp(qty, dec(m.max_qty)) > 0) return out(`Maximum amount is ${m.max_qty} ${m.base}`);

  const touch = f.type === "market" ? parse((f.side === "buy" ? opts.bestAsk : opts.bestBid) ?? "") : null;
  // the engine checks a market order's value at the best price on the other side (the touch): below the
  // minimum it refuses it (NOTIONAL_TOO_SMALL); an empty side is not checked (the order would expire)
  if (touch && m.min_notional && cmp(mul(touch, qty), dec(m.min_notional)) < 0) {
    return out(`Order total must be at least ${m.min_notional} ${m.quote}`);
  }
  const walked = f.type === "market" ? opts.estimate : null;
  if (walked) return checkWalked(m, f.side, qty, walked, balances, opts.loggedIn);
  const refPrice = price ?? parse((f.side === "buy" ? opts.bestAsk : opts.bestBid) ?? "");
  // the fee it would likely pay (the hold below stays the engine's worst case, the taker fee)
  const feeRate = feeRole(f, opts.bestBid ?? null, opts.bestAsk ?? null) === "maker" ? m.maker_fee : m.taker_fee;
  const est = refPrice ? estimate(refPrice, qty, feeRate, feeDecimals(m)) : null;
  if (f.type === "limit" && est && m.min_notional && cmp(est.total, dec(m.min_notional)) < 0) {
    return out(`Order total must be at least ${m.min_notional} ${m.quote}`, est.total, est.fee);
  }
  if (f.type === "market" && !refPrice) return out("No liquidity on the other side", null, null);
  if (!opts.loggedIn) return out("Log in to trade", est?.total ?? null, est?.fee ?? null);
  if (f.side === "sell") {
    const have = parse(balances.base ?? "0") ?? dec(0);
    if (cmp(qty, have) > 0) return out(`Insufficient ${m.base} balance`, est?.total ?? null, est?.fee ?? null);
  } else if (est) {
    const have = parse(balances.quote ?? "0") ?? dec(0);
    // a limit buy holds exactly buyHold (worst-case taker fee); a market buy needs at least the best ask's
    // notional and fee (more if it walks the book: the engine then refuses it, INSUFFICIENT_FUNDS)
    const need = f.type === "limit" ? buyHold(m, refPrice!, qty) : add(est.total, est.fee);
    if (cmp(need, have) > 0) return out(`Insufficient ${m.quote} balance`, est.total, est.fee);
  }
  return out(null, est?.total ?? null, est?.fee ?? null);
}

/** A market order checked against the server's walk of the book for its amount: the total and fee of
 * what would fill now (a buy needs their sum; what the book cannot fill expires, see `marketShortfall`). */
function checkWalked(
  m: Market,
  side: Side,
  qty: Dec,
  e: SideEstimate,
  balances: { base: string | null; quote: string | null },
  loggedIn: boolean,
): Check {
  const total = dec(e.notional);
  const fee = dec(e.fee);
  const out = (reason: string | null): Check => ({ reason, total, fee });
  if (!isPositive(dec(e.filled_qty))) return { reason: "No liquidity on the other side", total: null, fee: null };
  if (!loggedIn) return out("Log in to trade");
  if (side === "sell") {
    const have = parse(balances.base ?? "0") ?? dec(0); // a sell holds all of its amount
    return cmp(qty, have) > 0 ? out(`Insufficient ${m.base} balance`) : out(null);
  }
  const have = parse(balances.quote ?? "0") ?? dec(0); // a buy holds the exact cost of what fills
  return cmp(dec(e.total), have) > 0 ? out(`Insufficient ${m.quote} balance`) : out(null);
}

/** The estimate's `capped`: the engine would stop one order at its cap on resting orders matched. */
export const CAPPED =
  "This meets more resting orders than one order may match: part would fill and the rest expire (then send the rest again)";

/** What a market order of `qty` would leave unfilled now, as a warning ("only 0.2 ETH in the book: the
 * rest expires"), or null when the book fills it all. */
export function marketShortfall(m: Market, e: SideEstimate | null | undefined): string | null {
  if (e?.capped) return CAPPED;
  if (!e || e.complete) return null;
  return `Only ${formAmountText(m, "amount", "buy", e.filled_qty)} in the book now: the rest would expire`;
}

/** The amount as `GET /estimate` takes it, or null while it is not a valid amount for this market. */
export function walkableQty(m: Market, qty: string): string | null {
  const q = parse(qty);
  if (!q || !isPositive(q) || !isMultiple(q, m.lot_size) || (m.max_qty && cmp(q, dec(m.max_qty)) > 0)) return null;
  return toPlain(q);
}

/** The quote amount of a market order by total (`quote_qty`: what a buy spends, or what a sell sells the
 * base worth of), as `GET /estimate/buy` / `/estimate/sell` and the API take it, or null while it is not a
 * valid amount (not a positive number of whole quote minor units). */
export function spendableTotal(m: Market, total: string): string | null {
  const t = parse(total);
  if (!t || !isPositive(t) || !isMultiple(t, quoteStep(m))) return null;
  return toPlain(t);
}

/** The quote asset's minor unit (0.000001 USDT): the step of a total. */
function quoteStep(m: Market): Dec {
  return { coef: 1n, scale: m.quote_decimals };
}

/** `pct` % of the available quote asset, down to its minor unit: the total of a market buy by total (the
 * engine holds exactly that total, fees included, and returns what it does not spend). */
export function totalForPercent(m: Market, pct: number, available: string): string {
  const avail = parse(available);
  if (!avail || !isPositive(avail)) return "0";
  return toPlain(percentOf(avail, pct, m.quote_decimals));
}

/**
 * The % buttons of a market sell by total, first step: `pct` % of the available base asset, down to the lot
 * and at most the market's maximum amount (what `GET /estimate?qty=` takes), or null when that is not one
 * lot. The total is then the value of that amount at the current bids (`sellTotalForEstimate`).
 */
export function sellQtyForPercent(m: Market, pct: number, available: string): string | null {
  const q = parse(amountForPercent(m, "sell", pct, available, null));
  if (!q || !isPositive(q)) return null;
  const max = m.max_qty ? snap(dec(m.max_qty), m.lot_size, "down") : null;
  return toPlain(max && isPositive(max) && cmp(q, max) > 0 ? max : q);
}

/**
 * The % buttons of a market sell by total, second step: the total for selling the amount of
 * `sellQtyForPercent`, from the bids' side of `GET /estimate?qty=` for it: its notional (the value before the
 * fee), down to the quote's minor unit, or null when the bids take none of it.
 *
 * A sell by total walks the bids best first as a sell by amount does and stops at the first lot its amount
 * left is not worth (docs/engine.md), and both count each level's notional the same way (rounded down per
 * level): at the book the estimate read, this total sells at most that amount, never more base than the
 * percentage of the balance (a total valued at the best bid alone would: the walk sells lower). The book
 * moves: the order's own estimate (`GET /estimate/sell`) is checked against the balance (`checkSpend`).
 */
export function sellTotalForEstimate(m: Market, e: SideEstimate | null | undefined): string | null {
  if (!e || !isPositive(dec(e.filled_qty))) return null;
  const t = snap(dec(e.notional), quoteStep(m), "down");
  return isPositive(t) ? toPlain(t) : null;
}

/**
 * A market order by total (`quote_qty`): the reason it cannot be sent yet, and its figures by the server's
 * walk of the book for that total, when known.
 * - A buy (`GET /estimate/buy`) spends the total, fees included: `total` is what it would spend, `available`
 *   the quote asset's balance (the engine holds the whole total).
 * - A sell (`GET /estimate/sell`, `side: "sell"`) sells the base the total is worth at the bids (the fills'
 *   value before the fee, at most the total): `total` is what the trader would receive (that value less the
 *   fee), `available` the base asset's balance, which must cover the base the walk sells (the engine holds
 *   exactly that, or refuses the order: INSUFFICIENT_FUNDS). Until the estimate comes, a balance under one lot
 *   is already too little.
 */
export function checkSpend(
  m: Market,
  total: string,
  available: string | null,
  opts: { loggedIn: boolean; side?: Side; bestAsk?: string | null; bestBid?: string | null; estimate?: SpendEstimate | null },
): Check {
  const sell = opts.side === "sell";
  const e = opts.estimate;
  const out = (reason: string | null): Check => ({ reason, total: e ? dec(e.total) : null, fee: e ? dec(e.fee) : null });
  if (m.status && m.status !== "trading") return { reason: `Market is ${String(m.status).replace(/_/g, " ")}`, total: null, fee: null };
  const t = parse(total);
  if (!total.trim()) return out("Enter a total");
  if (ambiguousComma(total)) return out(commaQuestion(total));
  if (!t) return out("Total is not a number");
  if (!isPositive(t)) return out("Total must be a positive number");
  if (!isMultiple(t, quoteStep(m))) return out(`Total must be a multiple of ${toPlain(quoteStep(m))} ${m.quote}`);
  if (m.min_notional && cmp(t, dec(m.min_notional)) < 0) return out(`Order total must be at least ${m.min_notional} ${m.quote}`);
  const touch = sell ? opts.bestBid : opts.bestAsk;
  if (!parse(touch ?? "") && !(e && isPositive(dec(e.filled_qty)))) return out("No liquidity on the other side");
  if (e && !isPositive(dec(e.filled_qty))) {
    return out(`${format(t)} ${m.quote} does not ${sell ? "sell" : "buy"} one lot (${m.lot_size} ${m.base})`);
  }
  if (!opts.loggedIn) return out("Log in to trade");
  const have = parse(available ?? "0") ?? dec(0);
  if (sell) {
    const need = e ? dec(e.filled_qty) : dec(m.lot_size);
    return cmp(need, have) > 0 ? out(`Insufficient ${m.base} balance`) : out(null);
  }
  if (cmp(t, have) > 0) return out(`Insufficient ${m.quote} balance`);
  return out(null);
}

/** What a market order by total would leave undone now because that side of the book ends (within the price
 * band) first, as a warning, or null when the book takes the whole total: a buy's unspent rest is returned,
 * a sell's rest of the amount is not sold (the order expires). */
export function spendShortfall(m: Market, e: SpendEstimate | null | undefined, side: Side = "buy"): string | null {
  if (e?.capped) return CAPPED;
  if (!e || e.complete || !isPositive(dec(e.filled_qty))) return null;
  const amount = formAmountText(m, "amount", side, e.filled_qty);
  if (side === "sell") {
    const worth = formAmountText(m, "total", side, e.notional);
    return `Only ${amount} (${worth}) can be sold into the bids now: the rest of the total would not be sold`;
  }
  const spent = formAmountText(m, "total", "buy", e.total);
  return `Only ${amount} (${spent}) in the book now: the rest would be returned`;
}

/** How far into the book an order would trade: the worst price of the book's walk for it (`worst`, from
 * `GET /estimate`), a limit order stopping at its own price; a limit order without a walk reaches its price.
 * Null: it trades with nothing (a post-only order never does, a market order without a walk is unknown). */
export function reachPrice(
  f: { side: Side; type: OrderType; price: string; postOnly: boolean },
  worst: string | null | undefined,
): Dec | null {
  const w = parse(worst ?? "");
  if (f.type === "market") return w;
  if (f.postOnly) return null;
  const limit = parse(f.price);
  if (!limit || !isPositive(limit)) return null;
  if (!w) return limit;
  return (f.side === "buy" ? cmp(w, limit) < 0 : cmp(w, limit) > 0) ? w : limit;
}

/** The account's open orders an order would meet on its way to `reach`: the other side of its market at
 * prices it trades at (a buy: sells at or under `reach`). Self-trade prevention (the form sends the default,
 * `cancel_maker`) cancels each of them instead of trading with it. */
export function ownOrdersInReach(symbol: string, side: Side, reach: Dec | null, open: readonly Order[]): Order[] {
  if (!reach) return [];
  return open.filter((o) => {
    const p = parse(o.price ?? "");
    if (o.symbol !== symbol || o.side === side || !p) return false;
    return side === "buy" ? cmp(p, reach) <= 0 : cmp(p, reach) >= 0;
  });
}

/** The warning for `ownOrdersInReach`: "Would cancel your 2 sell orders at 60,000.00–60,100.00 (self-trade
 * prevention: an order never trades with your own)", or null for none. */
export function selfTradeWarning(m: Market, mine: readonly Order[]): string | null {
  if (mine.length === 0) return null;
  const prices = mine.map((o) => dec(o.price ?? "0")).sort(cmp);
  const lo = formatPrice(prices[0], m.tick_size);
  const hi = formatPrice(prices[prices.length - 1], m.tick_size);
  const side = mine[0].side === "buy" ? "buy" : "sell";
  const what = mine.length === 1 ? `your ${side} order` : `your ${mine.length} ${side} orders`;
  return `Would cancel ${what} at ${lo === hi ? lo : `${lo}–${hi}`} (self-trade prevention: an order never trades with your own)`;
}

/** After an order the engine stopped at its cap on resting orders matched in one call (reason `max_makers`),
 * what is left to send: the amount not filled; for a market buy by total what it has not spent (its fills'
 * cost and the fees it paid in the quote asset); for a market sell by total the value not sold (the total
 * less its fills' notional: a seller's fee comes out of the proceeds, not out of the total); null when
 * nothing sendable is left. */
export function leftAfterCap(m: Market, o: Order): { qty: string } | { quoteQty: string } | null {
  if (o.reason !== "max_makers") return null;
  if (o.quote_qty) {
    let spent = dec(o.quote_filled);
    if (o.side !== "sell") for (const f of o.fills) if (f.fee_asset === m.quote) spent = add(spent, dec(f.fee));
    const left = sub(dec(o.quote_qty), spent);
    return isPositive(left) ? { quoteQty: toPlain(left) } : null;
  }
  const left = dec(o.remaining_qty);
  return isPositive(left) && isMultiple(left, m.lot_size) ? { qty: toPlain(left) } : null;
}
