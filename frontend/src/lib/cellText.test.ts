import { describe, expect, it } from "vitest";
import { compactTime, fullTime, statusText, timeOf } from "./cellText";

// local times, so the tests read the same in any time zone
const now = new Date(2026, 10, 26, 18, 0, 0);
const at = (...a: [number, number, number, number, number, number]) => new Date(...a).getTime();

describe("compactTime", () => {
  it("shows only the time, to the second, for today", () => {
    expect(compactTime(at(2026, 10, 26, 15, 3, 47), now, "en-US")).toBe("15:03:47");
    expect(compactTime(at(2026, 10, 26, 0, 0, 5), now, "en-US")).toBe("00:00:05"); // never "24:00:05"
  });

  it("shows month-day and the time to the second for another day", () => {
    expect(compactTime(at(2026, 10, 25, 23, 59, 59), now, "en-US")).toBe("11-25 23:59:59");
    expect(compactTime(at(2026, 0, 2, 2, 58, 4), now, "en-US")).toBe("01-02 02:58:04");
    expect(compactTime(at(2025, 10, 26, 15, 3, 47), now, "en-US")).toBe("11-26 15:03:47"); // a year ago today
    expect(compactTime(at(2026, 10, 27, 0, 0, 1), now, "en-US")).toBe("11-27 00:00:01"); // past local midnight
  });

  it("tells today from yesterday by the local date, with \"now\" just after midnight", () => {
    const justAfter = new Date(2026, 10, 26, 0, 0, 30);
    expect(compactTime(at(2026, 10, 26, 0, 0, 10), justAfter, "en-US")).toBe("00:00:10");
    expect(compactTime(at(2026, 10, 25, 23, 59, 50), justAfter, "en-US")).toBe("11-25 23:59:50");
  });

  it("takes ms as a number, as digits or an ISO string, and a dash for none", () => {
    const ms = at(2026, 10, 26, 9, 8, 7);
    expect(compactTime(String(ms), now, "en-US")).toBe("09:08:07");
    expect(compactTime(new Date(ms).toISOString(), now, "en-US")).toBe("09:08:07");
    expect(compactTime(null, now)).toBe("—");
    expect(compactTime("", now)).toBe("—");
    expect(compactTime("soon", now)).toBe("soon");
    expect(timeOf("soon")).toBeNull();
  });
});

describe("fullTime", () => {
  it("gives the year and the seconds for the tooltip", () => {
    expect(fullTime(at(2025, 0, 2, 3, 4, 5), "en-US")).toBe("01/02/2025, 03:04:05");
    expect(fullTime(undefined)).toBeUndefined();
  });
});

describe("statusText", () => {
  it("shortens only partially filled, and keeps the full words for the tooltip", () => {
    expect(statusText("partially_filled")).toEqual({ short: "partial", full: "partially filled" });
    expect(statusText("cancelled")).toEqual({ short: "cancelled", full: "cancelled" });
  });
});
