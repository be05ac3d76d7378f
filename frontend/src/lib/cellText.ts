/** How the account tables write times and statuses in their cells: short, so a row fits the panel. */

/** A time the API sent (ms since the epoch, as a number or digits, or an ISO string), or null. */
export function timeOf(v: unknown): Date | null {
  if (v === null || v === undefined || v === "") return null;
  const n = typeof v === "number" ? v : /^\d+$/.test(String(v)) ? Number(v) : Date.parse(String(v));
  return Number.isFinite(n) ? new Date(n) : null;
}

/** A table cell's time, in local time: "15:03:47" today, "11-26 15:03:47" (month-day) on another day, "—"
 * for none; the full time, with the year, is the cell's tooltip (`fullTime`). */
export function compactTime(v: unknown, now: Date = new Date(), locale?: string): string {
  const d = timeOf(v);
  if (!d) return v === null || v === undefined || v === "" ? "—" : String(v);
  const time = d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const today = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  if (today) return time;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** The date and time to the second, with the year, for a cell's tooltip; undefined for none. */
export function fullTime(v: unknown, locale?: string): string | undefined {
  return timeOf(v)?.toLocaleString(locale, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
}

/** An order status as a table cell shows it ("partial" for `partially_filled`) and in full for its tooltip. */
export function statusText(status: unknown): { short: string; full: string } {
  const full = String(status).replace(/_/g, " ");
  return { short: status === "partially_filled" ? "partial" : full, full };
}
