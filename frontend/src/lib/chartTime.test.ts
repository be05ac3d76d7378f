import { describe, expect, it } from "vitest";
import { chartTimeLabel } from "./chartTime";

// 2026-11-27 10:05:30 UTC
const T = Date.UTC(2026, 10, 27, 10, 5, 30) / 1000;

describe("chart time labels", () => {
  it("show the time in the given zone, as the tape and the order tables do (local time)", () => {
    expect(chartTimeLabel(T, "time", "UTC")).toBe("10:05");
    expect(chartTimeLabel(T, "time", "America/New_York")).toBe("05:05");
    expect(chartTimeLabel(T, "time", "Asia/Tokyo")).toBe("19:05");
    expect(chartTimeLabel(T, "seconds", "Asia/Tokyo")).toBe("19:05:30");
  });

  it("date the day, month and year marks in that zone", () => {
    expect(chartTimeLabel(T, "day", "UTC")).toBe("27 Nov");
    expect(chartTimeLabel(Date.UTC(2026, 10, 27, 20) / 1000, "day", "Asia/Tokyo")).toBe("28 Nov");
    expect(chartTimeLabel(Date.UTC(2026, 11, 31, 23) / 1000, "year", "Asia/Tokyo")).toBe("2027");
    expect(chartTimeLabel(T, "month", "UTC")).toBe("Nov");
  });

  it("give the crosshair the full date and a 24-hour time", () => {
    expect(chartTimeLabel(T, "crosshair", "UTC")).toBe("27 Nov 2026 10:05");
    expect(chartTimeLabel(Date.UTC(2026, 10, 27, 23, 59) / 1000, "crosshair", "UTC")).toBe("27 Nov 2026 23:59");
  });

  it("keep a daily bar's UTC date west of Greenwich when asked for UTC", () => {
    const midnight = Date.UTC(2026, 10, 27) / 1000;
    expect(chartTimeLabel(midnight, "day", "America/New_York")).toBe("26 Nov");
    expect(chartTimeLabel(midnight, "day", "UTC")).toBe("27 Nov");
  });
});
