/**
 * The order form's draft: what the trader set in it for one market (side, type, price, amount or total,
 * time in force, post-only, amount by base or by total), kept in sessionStorage so a reload, a tab closed by
 * accident and reopened in the same session, or a switch to another market and back finds it as it was.
 *
 * sessionStorage, never localStorage: it is per tab and gone with the tab, so a draft order never comes back
 * days later. Nothing else of the form is kept: no client order id (a draft restored is a new order, see
 * lib/clientOrderId.ts), no warning or error, no state of the % buttons.
 *
 * What is read back is checked field by field: a draft with a field it does not know, a field missing or of
 * the wrong type, or a price/amount that is not a decimal number as typed, reads as no draft (never a crash).
 * Storage that refuses (blocked, private mode, quota) only means the draft is not kept.
 */
import { TIFS, type OrderType, type Side, type Tif } from "./orderForm";

export type DraftStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface FormDraft {
  side: Side;
  type: OrderType;
  /** the price field's text */
  price: string;
  /** the amount field's text (in the base asset) */
  qty: string;
  /** a market order by total: the total field's text (in the quote asset) */
  total: string;
  /** a market order gives its total (the quote asset) instead of its amount */
  byTotal: boolean;
  tif: Tif;
  postOnly: boolean;
}

/** The version of the stored form: a draft stored in another shape (an older terminal's) reads as none. */
const VERSION = 1;
const PREFIX = "exchange.orderDraft.";
/** Longer text than this in a field is not a trader's price or amount. */
const MAX_TEXT = 64;
/** A number as the form holds it while it is typed: digits with at most one point ("12", "12.", ".5") or
 * one comma (the "12,000" the form asks about: lib/money.ts typedDecimal); no sign, no exponent. */
const TYPED_NUMBER_RE = /^(?:\d+[.,]?\d*|[.,]\d+)$/;

const SIDES: readonly string[] = ["buy", "sell"];
const TYPES: readonly string[] = ["limit", "market"];
const FIELDS = ["v", "side", "type", "price", "qty", "total", "byTotal", "tif", "postOnly"] as const;

/** The storage key of `symbol`'s draft. */
export function draftKey(symbol: string): string {
  return PREFIX + symbol;
}

function defaultStorage(): DraftStorage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null; // the property itself can throw where storage is blocked
  }
}

/** Whether `text` may be kept as a price or amount: empty, or a number as typed (see TYPED_NUMBER_RE). */
export function isDraftNumber(text: unknown): text is string {
  return typeof text === "string" && (text === "" || (text.length <= MAX_TEXT && TYPED_NUMBER_RE.test(text)));
}

/** A stored draft's text as a draft, or null for anything else: not JSON, not an object, another version, a
 * field unknown or missing, a value of the wrong type or out of its choices, a price or amount that is not a
 * number as typed, post-only with a time in force other than GTC (the form never holds that). */
export function parseFormDraft(text: string | null | undefined): FormDraft | null {
  if (typeof text !== "string" || text.length > 1_000) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== FIELDS.length || !keys.every((k) => (FIELDS as readonly string[]).includes(k))) return null;
  if (o.v !== VERSION) return null;
  if (typeof o.side !== "string" || !SIDES.includes(o.side)) return null;
  if (typeof o.type !== "string" || !TYPES.includes(o.type)) return null;
  if (typeof o.tif !== "string" || !(TIFS as readonly string[]).includes(o.tif)) return null;
  if (typeof o.byTotal !== "boolean" || typeof o.postOnly !== "boolean") return null;
  if (o.postOnly && o.tif !== "gtc") return null;
  if (!isDraftNumber(o.price) || !isDraftNumber(o.qty) || !isDraftNumber(o.total)) return null;
  return {
    side: o.side as Side,
    type: o.type as OrderType,
    price: o.price,
    qty: o.qty,
    total: o.total,
    byTotal: o.byTotal,
    tif: o.tif as Tif,
    postOnly: o.postOnly,
  };
}

/** The draft as it is stored. A price or amount that is not a number (text the form says it cannot read) is
 * kept empty: a draft read back never holds what `parseFormDraft` refuses. */
export function formDraftText(d: FormDraft): string {
  const num = (t: string) => (isDraftNumber(t) ? t : "");
  const stored: Record<(typeof FIELDS)[number], unknown> = {
    v: VERSION,
    side: d.side,
    type: d.type,
    price: num(d.price),
    qty: num(d.qty),
    total: num(d.total),
    byTotal: d.byTotal,
    tif: d.tif,
    postOnly: d.postOnly && d.tif === "gtc",
  };
  return JSON.stringify(stored);
}

/** `symbol`'s draft, or null when there is none, what is stored is not a draft, or storage refuses. */
export function readFormDraft(symbol: string, storage: DraftStorage | null = defaultStorage()): FormDraft | null {
  try {
    return parseFormDraft(storage?.getItem(draftKey(symbol)));
  } catch {
    return null;
  }
}

/** Keep `draft` as `symbol`'s (quietly not, where storage refuses). */
export function writeFormDraft(symbol: string, draft: FormDraft, storage: DraftStorage | null = defaultStorage()): void {
  try {
    storage?.setItem(draftKey(symbol), formDraftText(draft));
  } catch {
    // not kept: the form still holds it until the reload
  }
}

/** Forget `symbol`'s draft (quietly not, where storage refuses). */
export function clearFormDraft(symbol: string, storage: DraftStorage | null = defaultStorage()): void {
  try {
    storage?.removeItem(draftKey(symbol));
  } catch {
    // nothing to do: storage that refuses keeps nothing of ours either
  }
}
