/**
 * The one money module: every price, quantity, amount and fee in the terminal goes through here.
 *
 * Values travel as decimal strings (the API contract) and are computed as scaled BigInts (`Dec`), never as
 * JavaScript floats. The only float conversions are for the chart: `toChartNumber` to plot values, and
 * `formatChartNumber` to label its axis.
 */

/** A decimal number: `coef * 10^-scale`. */
export interface Dec {
  readonly coef: bigint;
  readonly scale: number;
}

const DECIMAL_RE = /^([+-])?(\d*)(?:\.(\d*))?$/;

/** Parse a decimal string ("12.50", "-0.3", ".5", "7"). Returns null for anything else (no exponents). */
export function parse(text: string | null | undefined): Dec | null {
  if (text == null) return null;
  const s = String(text).trim();
  const m = DECIMAL_RE.exec(s);
  if (!m) return null;
  const [, sign, intPart = "", fracPart = ""] = m;
  if (intPart === "" && fracPart === "") return null;
  const coef = BigInt((intPart || "0") + fracPart);
  return { coef: sign === "-" ? -coef : coef, scale: fracPart.length };
}

// a number grouped as the terminal displays it: "59,000.5", "-1,234,567.", " 1,000.25 "; or with two
// separators or more and no point, "1,000,000": a decimal comma comes once, so these can only be grouping
const GROUPED_RE = /^\s*[+-]?\d{1,3}(?:(?:,\d{3})+\.\d*|(?:,\d{3}){2,})\s*$/;

// grouped by spaces (also the no-break and narrow no-break spaces many locales print): "60 000",
// "1 234 567,89" (with a decimal comma) or "1 234.5"
const SPACED_RE = /^\s*[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d*)?\s*$/;

// one comma then exactly three digits, "12,000": a thousands separator to some, a decimal comma to others
const AMBIGUOUS_RE = /^\s*[+-]?[1-9]\d{0,2},\d{3}\s*$/;

/** Whether `text` is a number whose comma could mean either a thousands separator or a decimal comma
 * ("12,000": twelve thousand, or 12). */
export function ambiguousComma(text: string): boolean {
  return AMBIGUOUS_RE.test(text);
}

/** The question for an ambiguous comma ("12,000"): which one is meant? */
export function commaQuestion(text: string): string {
  const t = text.trim();
  return `Write ${t.replace(",", "")} or ${t.replace(",", ".")}: is the comma a thousands separator?`;
}

/** What the user typed into a decimal field, with a decimal comma made a point ("1,5" -> "1.5"). A number
 * grouped as the terminal displays it, commas and a point ("59,000.5"), or by two commas or more
 * ("1,000,000"), or by spaces ("60 000", "1 234,5"), loses its thousands separators ("59000.5"). "12,000"
 * stays as typed, which `parse` refuses: read either way it would be off 1,000 times for the other reading
 * (`ambiguousComma`). Otherwise only the first comma is replaced: text with more than
 * one ("1,000,5") or with a comma after the point ("1.000,5") stays text that `parse` refuses. */
export function typedDecimal(text: string): string {
  if (GROUPED_RE.test(text)) return text.replace(/,/g, "");
  if (SPACED_RE.test(text)) return text.trim().replace(/[ \u00a0\u202f]/g, "").replace(",", ".");
  if (AMBIGUOUS_RE.test(text)) return text;
  return text.replace(",", ".");
}

/** Parse or throw (for values the server sent, which must be valid). */
export function dec(text: string | Dec | number | bigint): Dec {
  if (typeof text === "object") return text;
  if (typeof text === "bigint") return { coef: text, scale: 0 };
  if (typeof text === "number") {
    if (!Number.isInteger(text)) throw new Error(`not an integer: ${text}`);
    return { coef: BigInt(text), scale: 0 };
  }
  const d = parse(text);
  if (!d) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  return d;
}

export const ZERO: Dec = { coef: 0n, scale: 0 };

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Re-express `d` with `scale` fraction digits (exact when scale grows; truncates toward zero otherwise). */
export function rescale(d: Dec, scale: number): Dec {
  if (scale === d.scale) return d;
  if (scale > d.scale) return { coef: d.coef * pow10(scale - d.scale), scale };
  return { coef: d.coef / pow10(d.scale - scale), scale };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [rescale(a, scale).coef, rescale(b, scale).coef, scale];
}

export function add(a: Dec, b: Dec): Dec {
  const [x, y, scale] = align(a, b);
  return { coef: x + y, scale };
}

export function sub(a: Dec, b: Dec): Dec {
  const [x, y, scale] = align(a, b);
  return { coef: x - y, scale };
}

/** Exact product. */
export function mul(a: Dec, b: Dec): Dec {
  return { coef: a.coef * b.coef, scale: a.scale + b.scale };
}

/** -1, 0 or 1. */
export function cmp(a: Dec, b: Dec): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(d: Dec): boolean {
  return d.coef === 0n;
}

export function isPositive(d: Dec): boolean {
  return d.coef > 0n;
}

export type Rounding = "down" | "up" | "nearest";

function divRound(n: bigint, d: bigint, mode: Rounding): bigint {
  // d > 0
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  const neg = n < 0n;
  if (mode === "down") return neg ? q - 1n : q; // floor
  if (mode === "up") return neg ? q : q + 1n; // ceil
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= d) return neg ? q - 1n : q + 1n; // half away from zero
  return q;
}

/** a / b rounded to `scale` fraction digits. Throws on division by zero. */
export function div(a: Dec, b: Dec, scale: number, mode: Rounding = "down"): Dec {
  if (b.coef === 0n) throw new Error("division by zero");
  // a/b = (a.coef / 10^a.scale) / (b.coef / 10^b.scale); result coef = that * 10^scale
  let n = a.coef * pow10(scale + b.scale);
  let d = b.coef * pow10(a.scale);
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  return { coef: divRound(n, d, mode), scale };
}

/** Number of fraction digits needed to write a step such as "0.01" (2) or "5" (0). */
export function decimalsOf(step: string | Dec): number {
  const d = strip(dec(step));
  return Math.max(0, d.scale);
}

/** Remove trailing fraction zeros. */
export function strip(d: Dec): Dec {
  let { coef, scale } = d;
  while (scale > 0 && coef % 10n === 0n) {
    coef /= 10n;
    scale -= 1;
  }
  return { coef, scale };
}

/** Snap `value` to a multiple of `step` ("down" = toward zero for quantities, default). */
export function snap(value: Dec | string, step: Dec | string, mode: Rounding = "down"): Dec {
  const v = dec(value);
  const s = strip(dec(step));
  if (s.coef <= 0n) throw new Error("step must be positive");
  const [x, y, scale] = align(v, s);
  const n = divRound(x, y, mode);
  return strip({ coef: n * y, scale });
}

/** True when `value` is an exact multiple of `step`. */
export function isMultiple(value: Dec | string, step: Dec | string): boolean {
  const [x, y] = align(dec(value), strip(dec(step)));
  return y !== 0n && x % y === 0n;
}

/** Plain decimal string with exactly `decimals` fraction digits (rounded half away from zero), or as-is. */
export function toFixed(value: Dec | string, decimals?: number): string {
  let d = dec(value);
  if (decimals !== undefined) {
    d = d.scale > decimals ? roundTo(d, decimals) : rescale(d, decimals);
  }
  const neg = d.coef < 0n;
  const digits = (neg ? -d.coef : d.coef).toString().padStart(d.scale + 1, "0");
  const intPart = digits.slice(0, digits.length - d.scale);
  const frac = d.scale > 0 ? "." + digits.slice(digits.length - d.scale) : "";
  return (neg ? "-" : "") + intPart + frac;
}

function roundTo(d: Dec, decimals: number): Dec {
  return { coef: divRound(d.coef, pow10(d.scale - decimals), "nearest"), scale: decimals };
}

/** `value` with exactly `decimals` fraction digits: exact where it has no more, else rounded as `mode` says
 * ("down": toward minus infinity, "up": toward plus infinity, "nearest": half away from zero).
 * quantize("30.1765", 6, "up") -> 30.176500; quantize("0.0603531", 6, "up") -> 0.060354. */
export function quantize(value: Dec | string, decimals: number, mode: Rounding): Dec {
  const d = dec(value);
  if (d.scale <= decimals) return rescale(d, decimals);
  return { coef: divRound(d.coef, pow10(d.scale - decimals), mode), scale: decimals };
}

/** Display string at a fixed number of decimals, whatever the value, rounded as `mode` says where it is
 * finer, with thousands separators: ("100000", 6, "down") -> "100,000.000000", ("0.0603531", 6, "up") ->
 * "0.060354". Unlike `formatAmount` it never trims zeros, so a figure keeps its width from one value to
 * the next; "—" for no value or one that is not a number. */
export function formatFixed(value: Dec | string | null | undefined, decimals: number, mode: Rounding): string {
  if (value == null || value === "") return "—";
  const d = typeof value === "string" ? parse(value) : value;
  if (!d) return "—";
  return format(quantize(d, decimals, mode), decimals);
}

/** Canonical string without trailing zeros ("1.500" -> "1.5", "2.0" -> "2"): what we send to the API. */
export function toPlain(value: Dec | string): string {
  return toFixed(strip(dec(value)));
}

/** Display string: fixed decimals and thousands separators ("1234.5", 2 -> "1,234.50"). */
export function format(value: Dec | string | null | undefined, decimals?: number): string {
  if (value == null || value === "") return "—";
  const d = typeof value === "string" ? parse(value) : value;
  if (!d) return "—";
  const s = toFixed(d, decimals);
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const [i, f] = body.split(".");
  const grouped = i.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + grouped + (f !== undefined ? "." + f : "");
}

/** An amount of an asset as the terminal shows it: its digits as far as they go (up to `maxDecimals`, the
 * asset's, rounded half up beyond), no trailing zeros past the second decimal, thousands separators:
 * "50.000000" -> "50.00", "99930.25579" -> "99,930.25579", "7" -> "7.00". */
export function formatAmount(value: Dec | string | null | undefined, maxDecimals?: number): string {
  if (value == null || value === "") return "—";
  const d = typeof value === "string" ? parse(value) : value;
  if (!d) return "—";
  const rounded = maxDecimals !== undefined && d.scale > maxDecimals ? dec(toFixed(d, maxDecimals)) : d;
  const trimmed = strip(rounded);
  const least = Math.min(2, maxDecimals ?? 2);
  return format(trimmed, Math.max(trimmed.scale, least));
}

/** One amount of a column written by `alignAmounts`: its text (exact, grouped) and the invisible figures
 * that follow it ("00", or "." and zeros for a whole number), which keep the decimal points in line. */
export interface AlignedAmount {
  text: string;
  pad: string;
}

/**
 * A column of amounts of several assets (the balances table), each exact at its own asset's decimals, written
 * so that, right-aligned in tabular figures with each `pad` after it as invisible digits, their decimal points
 * line up and the eye can scan them.
 *
 * The rule: the column shows one number of decimals, the fewest that writes every amount in it exactly (at
 * least `minDecimals`, "100,000.00"), so an asset of 8 decimals shows them all only where some amount needs
 * them. An amount of an asset with fewer decimals than that shows its own, never figures it does not have
 * ("12.345678" USDT beside "0.12345678" BTC), and the rest of the column's decimals become its `pad`. Trailing
 * zeros past what any amount of the column needs are trimmed: every BTC digit on all rows (and "2.00000000"
 * beside "100,000.000000") made the table too wide for a phone. `decimals`: the asset's (`GET /api/assets`);
 * unknown, the amount's own as sent. An amount with more decimals than its asset has is rounded half up, as
 * `formatAmount` does; one that is not a number is "—".
 */
export function alignAmounts(
  cells: readonly { value: string | null | undefined; decimals?: number }[],
  minDecimals = 2,
): AlignedAmount[] {
  const parsed = cells.map(({ value, decimals }) => {
    const d = value == null ? null : parse(value);
    if (!d) return null;
    const most = decimals ?? Infinity;
    const exact = d.scale > most ? dec(toFixed(d, most)) : d;
    // the decimals this amount needs: its digits, at least minDecimals, at most its asset's
    const needs = Math.min(Math.max(strip(exact).scale, minDecimals), most);
    return { exact, most, needs };
  });
  const column = Math.max(0, ...parsed.map((c) => (c ? c.needs : 0)));
  return parsed.map((c) => {
    if (!c) return { text: "—", pad: "" };
    const shown = Math.min(column, c.most);
    const pad = (shown === 0 && column > 0 ? "." : "") + "0".repeat(column - shown);
    return { text: format(c.exact, shown), pad };
  });
}

/** A price as the book shows it: the market's price decimals (its tick's, rounded half up) with thousands
 * separators ("56912.4", "0.01" -> "56,912.40"); with no tick known, as sent, grouped. */
export function formatPrice(value: Dec | string | null | undefined, tickSize: string | null | undefined): string {
  return format(value, tickSize && parse(tickSize) ? decimalsOf(tickSize) : undefined);
}

/** A quantity as the book shows it: the market's lot decimals ("0.00001" -> 5), so that a column of amounts of
 * one market reads alike ("0.001", "0.00123" and "0" -> "0.00100", "0.00123", "0.00000"), with thousands
 * separators; with no lot known, as sent, grouped. Quantities lie on the lot, so this is exact (a finer one
 * would be rounded half up). */
export function formatQty(value: Dec | string | null | undefined, lotSize: string | null | undefined): string {
  return format(value, lotSize && parse(lotSize) ? decimalsOf(lotSize) : undefined);
}

/** Signed percentage for 24h change ("2.5" -> "+2.50%"). */
export function formatPct(value: string | null | undefined, decimals = 2): string {
  const d = parse(value ?? "");
  if (!d) return "—";
  const s = format(d, decimals);
  return (d.coef > 0n ? "+" : "") + s + "%";
}

/** Sign of a decimal string: -1, 0, 1 (0 for invalid). */
export function sign(value: string | null | undefined): number {
  const d = parse(value ?? "");
  if (!d || d.coef === 0n) return 0;
  return d.coef > 0n ? 1 : -1;
}

/** `part` percent of `whole` (e.g. 25% of the available balance), truncated to `scale` digits. */
export function percentOf(whole: Dec | string, pct: number, scale: number): Dec {
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new Error("pct must be an integer 0..100");
  return div(mul(dec(whole), dec(pct)), dec(100), scale, "down");
}

/** Estimated order total and fee: `price * qty`, fee = `total * rate` rounded up (against the payer). */
export function estimate(
  price: Dec | string,
  qty: Dec | string,
  feeRate: Dec | string,
  quoteDecimals: number,
): { total: Dec; fee: Dec } {
  const total = mul(dec(price), dec(qty));
  const fee = div(mul(total, dec(feeRate)), dec(1), quoteDecimals, "up");
  return { total, fee };
}

/**
 * Plot-only conversion for the chart library, which needs numbers. Never used for arithmetic,
 * comparisons or anything sent to the server.
 */
export function toChartNumber(value: string | Dec): number {
  return Number(toFixed(dec(value)));
}

/** A number the chart plotted, back as text for its axis and crosshair labels: `decimals` fraction digits and
 * thousands separators, as the book shows prices (56912.4, 2 -> "56,912.40"). Display only, like
 * `toChartNumber`; a value that is not finite is "—". */
export function formatChartNumber(value: number, decimals: number): string {
  if (!Number.isFinite(value)) return "—";
  const fixed = value.toFixed(decimals); // exact enough for a label: the chart's values came from decimals
  return format(/^-0(\.0+)?$/.test(fixed) ? fixed.slice(1) : fixed); // never "-0.00"
}

/** Compare two decimal strings (for sorting tables); invalid values sort first. */
export function compareStrings(a: string | null | undefined, b: string | null | undefined): number {
  const x = parse(a ?? "");
  const y = parse(b ?? "");
  if (!x || !y) return (x ? 1 : 0) - (y ? 1 : 0);
  return cmp(x, y);
}

/** A signed quantity with its sign always written, a true minus sign (U+2212) for a negative one, so the
 * direction reads without colour: ("0.5", 5) -> "+0.50000", ("-0.2", 5) -> "−0.20000", zero unsigned;
 * `decimals` undefined: as sent. "—" for no value or one that is not a number. */
export function formatSigned(value: string | null | undefined, decimals?: number): string {
  const d = parse(value ?? "");
  if (!d) return "—";
  const text = format(d, decimals);
  if (/^-?[0,.]*$/.test(text)) return text.replace(/^-/, ""); // zero, or rounded to it: no sign
  return text.startsWith("-") ? `\u2212${text.slice(1)}` : `+${text}`;
}
