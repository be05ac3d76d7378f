/**
 * The chart's time labels in the trader's own time zone, as the rest of the terminal shows times (the tape,
 * the order tables). lightweight-charts labels its UTC timestamps in UTC unless told otherwise; shifting the
 * timestamps by the zone's offset instead would make a day's bars collide where clocks go back (DST), which
 * the library refuses, so only the labels change. Daily candles open at 00:00 UTC: their dates stay in UTC,
 * else a 1d bar would carry the previous day's date west of Greenwich.
 */

/** What a label shows: a tick mark's unit (the year, the month, the day, the minute, the second) or the
 * crosshair's full date and time. The tick kinds follow lightweight-charts' TickMarkType order 0..4. */
export type TimeLabel = "year" | "month" | "day" | "time" | "seconds" | "crosshair";
export const TICK_LABELS: readonly TimeLabel[] = ["year", "month", "day", "time", "seconds"];

const OPTIONS: Record<TimeLabel, Intl.DateTimeFormatOptions> = {
  year: { year: "numeric" },
  month: { month: "short" },
  day: { day: "numeric", month: "short" },
  time: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
  seconds: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
  crosshair: { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
};

const formats = new Map<string, Intl.DateTimeFormat>();

/** The label of `seconds` (a bar's UTC timestamp in seconds) as `kind`, in `timeZone` (the browser's own
 * when undefined); the daily chart passes "UTC". */
export function chartTimeLabel(seconds: number, kind: TimeLabel, timeZone?: string): string {
  const key = `${kind}|${timeZone ?? ""}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { ...OPTIONS[kind], timeZone });
    formats.set(key, f);
  }
  return f.format(new Date(seconds * 1000)).replace(",", "");
}
