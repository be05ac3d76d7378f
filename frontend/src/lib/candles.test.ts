import { describe, expect, it } from "vitest";
import type { Candle } from "../api/types";
import { applyLive, liveAction, normalize, olderPageEnd, prependOlder } from "./candles";

const c = (t: number, close = "1"): Candle => ({ t, o: "1", h: "1", l: "1", c: close, v: "0" });

describe("candles", () => {
  it("normalizes history: ascending, unique times, the later duplicate wins", () => {
    const out = normalize([c(3000), c(1000), c(2000, "a"), c(2000, "b")]);
    expect(out.map((x) => x.t)).toEqual([1000, 2000, 3000]);
    expect(out[1].c).toBe("b");
  });

  it("never feeds the chart an older bar", () => {
    const data = [c(1000), c(2000)];
    expect(liveAction(data, c(1000))).toBe("ignore");
    expect(applyLive(data, c(500))).toBe("ignore");
    expect(data.map((x) => x.t)).toEqual([1000, 2000]);
  });

  it("updates the current bar and appends a new one", () => {
    const data = [c(1000), c(2000)];
    expect(applyLive(data, c(2000, "9"))).toBe("replace");
    expect(data[1].c).toBe("9");
    expect(applyLive(data, c(3000))).toBe("append");
    expect(data.map((x) => x.t)).toEqual([1000, 2000, 3000]);
    expect(applyLive([], c(5))).toBe("append");
  });

  it("prepends only strictly older bars when scrolling back", () => {
    const { data, added } = prependOlder([c(3000), c(4000)], [c(1000), c(2000), c(3000, "dup")]);
    expect(added).toBe(2);
    expect(data.map((x) => x.t)).toEqual([1000, 2000, 3000, 4000]);
    expect(data[2].c).toBe("1");
    expect(olderPageEnd(data)).toBe(1000);
    expect(olderPageEnd([])).toBeNull();
  });
});
