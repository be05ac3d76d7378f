import { describe, expect, it } from "vitest";
import { groupDecimals, groupLevels, groupSteps } from "./bookGroup";
import type { Level } from "./bookSync";

const lv = (price: string, qty: string): Level => ({ price, qty, cumulative: "0" });

describe("order book price grouping", () => {
  it("offers the tick and 10, 100 and 1000 times it", () => {
    expect(groupSteps("0.01")).toEqual(["0.01", "0.1", "1", "10"]);
    expect(groupSteps("0.0001")).toEqual(["0.0001", "0.001", "0.01", "0.1"]);
    expect(groupDecimals("0.1")).toBe(1);
    expect(groupDecimals("10")).toBe(0);
  });

  it("merges bids down and asks up to the step, summing amounts, best first, cumulative recomputed", () => {
    const bids = [lv("60010.55", "0.5"), lv("60009.99", "0.25"), lv("60000", "1"), lv("59999.99", "2")];
    expect(groupLevels(bids, "10", "bids", 10)).toEqual([
      { price: "60010", qty: "0.5", cumulative: "0.5" },
      { price: "60000", qty: "1.25", cumulative: "1.75" },
      { price: "59990", qty: "2", cumulative: "3.75" },
    ]);
    const asks = [lv("60010.01", "0.1"), lv("60019.99", "0.2"), lv("60020", "0.3"), lv("60020.01", "0.4")];
    expect(groupLevels(asks, "10", "asks", 10)).toEqual([
      { price: "60020", qty: "0.6", cumulative: "0.6" },
      { price: "60030", qty: "0.4", cumulative: "1" },
    ]);
  });

  it("gives the levels back at the tick and stops at the depth", () => {
    const bids = [lv("1.01", "1"), lv("1", "2"), lv("0.99", "3")];
    expect(groupLevels(bids, "0.01", "bids", 2)).toEqual([
      { price: "1.01", qty: "1", cumulative: "1" },
      { price: "1", qty: "2", cumulative: "3" },
    ]);
  });
});
