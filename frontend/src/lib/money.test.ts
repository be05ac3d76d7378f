import { describe, expect, it } from "vitest";
import {
  add, alignAmounts, cmp, compareStrings, dec, decimalsOf, div, estimate, format, formatPct, isMultiple, mul, parse,
  formatAmount, formatChartNumber, formatFixed, formatPrice, formatQty, percentOf, quantize, snap, sub, toFixed, toPlain, typedDecimal, ambiguousComma,
  commaQuestion, formatSigned,
} from "./money";

describe("parse", () => {
  it("accepts plain decimal strings and keeps their scale", () => {
    expect(parse("12.50")).toEqual({ coef: 1250n, scale: 2 });
    expect(parse("-0.3")).toEqual({ coef: -3n, scale: 1 });
    expect(parse(".5")).toEqual({ coef: 5n, scale: 1 });
    expect(parse("7")).toEqual({ coef: 7n, scale: 0 });
  });
  it("rejects exponents, garbage and empty input", () => {
    for (const bad of ["", ".", "1e5", "abc", "1.2.3", "1,000", "--1", null, undefined]) {
      expect(parse(bad as string)).toBeNull();
    }
  });
});

describe("typedDecimal", () => {
  it("turns a decimal comma into a point", () => {
    expect(typedDecimal("1,5")).toBe("1.5");
    expect(typedDecimal(",25")).toBe(".25");
    expect(typedDecimal("3,")).toBe("3.");
    expect(parse(typedDecimal("0,001"))).toEqual({ coef: 1n, scale: 3 });
  });
  it("leaves text without a comma as typed", () => {
    for (const t of ["", "12.50", " 7 ", "abc", "1.2.3"]) expect(typedDecimal(t)).toBe(t);
  });
  it("leaves a comma that could be a thousands separator as typed, which parse refuses", () => {
    for (const t of ["12,000", "1,000", "-999,999", " 25,000 "]) {
      expect(ambiguousComma(t)).toBe(true);
      expect(typedDecimal(t)).toBe(t);
      expect(parse(typedDecimal(t))).toBeNull();
    }
    // not ambiguous: a leading zero, other than three digits after the comma, a point too
    expect(typedDecimal("0,500")).toBe("0.500");
    expect(typedDecimal("12,00")).toBe("12.00");
    expect(typedDecimal("12,0001")).toBe("12.0001");
    expect(typedDecimal("12,000.5")).toBe("12000.5");
    expect(ambiguousComma("12.000")).toBe(false);
  });

  it("replaces only the first comma, so several stay unparseable", () => {
    expect(typedDecimal("1,000,5")).toBe("1.000,5");
    expect(parse(typedDecimal("1,000,5"))).toBeNull();
  });
  it("drops the thousands separators of a number pasted as the terminal displays it", () => {
    expect(typedDecimal("59,000.5")).toBe("59000.5");
    expect(typedDecimal("1,000.5")).toBe("1000.5");
    expect(typedDecimal("1,234,567.89")).toBe("1234567.89");
    expect(typedDecimal("-1,000.")).toBe("-1000.");
    expect(parse(typedDecimal(" 59,000.50 "))).toEqual({ coef: 5900050n, scale: 2 });
  });
  it("drops the separators of a number grouped by two commas or more, or by spaces", () => {
    expect(typedDecimal("1,000,000")).toBe("1000000"); // as the form's own "Maximum price is 1,000,000"
    expect(typedDecimal("-12,345,678")).toBe("-12345678");
    expect(typedDecimal("60 000")).toBe("60000");
    expect(typedDecimal(" 1 234 567,89 ")).toBe("1234567.89");
    expect(typedDecimal("1\u00a0234.5")).toBe("1234.5");
    expect(typedDecimal("1\u202f000")).toBe("1000");
    // not grouping: a group of other than three digits, a space elsewhere
    expect(parse(typedDecimal("1,00,000"))).toBeNull();
    expect(parse(typedDecimal("60 00"))).toBeNull();
    expect(parse(typedDecimal("6 0000"))).toBeNull();
  });
  it("keeps a lone comma a decimal comma, unless it could be a thousands separator", () => {
    expect(typedDecimal("0,5")).toBe("0.5");
    expect(typedDecimal("59,0001")).toBe("59.0001");
    expect(typedDecimal("59,000")).toBe("59,000"); // 59 or 59,000: refused, not guessed
  });
  it("refuses rather than guesses when commas and a point are not grouped thousands", () => {
    for (const t of ["1.000,5", "59,00.5", "1,0000.5", ",000.5"]) expect(parse(typedDecimal(t))).toBeNull();
  });
});

describe("arithmetic is exact where floats are not", () => {
  it("0.1 + 0.2 is 0.3", () => {
    expect(toPlain(add(dec("0.1"), dec("0.2")))).toBe("0.3");
  });
  it("subtracts and multiplies without loss", () => {
    expect(toPlain(sub(dec("1"), dec("0.9")))).toBe("0.1");
    expect(toPlain(mul(dec("1.1"), dec("1.1")))).toBe("1.21");
    expect(toPlain(mul(dec("123456789.123456789"), dec("1000000000")))).toBe("123456789123456789");
  });
  it("divides with an explicit rounding mode", () => {
    expect(toFixed(div(dec("1"), dec("3"), 4, "down"))).toBe("0.3333");
    expect(toFixed(div(dec("2"), dec("3"), 4, "nearest"))).toBe("0.6667");
    expect(toFixed(div(dec("1"), dec("3"), 2, "up"))).toBe("0.34");
    expect(() => div(dec("1"), dec("0"), 2)).toThrow();
  });
  it("compares across scales", () => {
    expect(cmp(dec("1.50"), dec("1.5"))).toBe(0);
    expect(cmp(dec("1.49"), dec("1.5"))).toBe(-1);
    expect(compareStrings("10", "9.99")).toBe(1);
  });
});

describe("snapping to tick and lot", () => {
  it("snaps quantities down to the lot", () => {
    expect(toPlain(snap("1.23456", "0.001"))).toBe("1.234");
    expect(toPlain(snap("0.0009", "0.001"))).toBe("0");
  });
  it("snaps prices to the nearest tick or in a chosen direction", () => {
    expect(toPlain(snap("100.07", "0.05", "nearest"))).toBe("100.05");
    expect(toPlain(snap("100.08", "0.05", "nearest"))).toBe("100.1");
    expect(toPlain(snap("100.01", "0.05", "up"))).toBe("100.05");
    expect(toPlain(snap("100.04", "0.05", "down"))).toBe("100");
  });
  it("handles steps larger than one", () => {
    expect(toPlain(snap("1237", "5"))).toBe("1235");
    expect(toPlain(snap("1238", "5", "nearest"))).toBe("1240");
  });
  it("knows whether a value is already on the grid", () => {
    expect(isMultiple("100.05", "0.05")).toBe(true);
    expect(isMultiple("100.051", "0.05")).toBe(false);
    expect(isMultiple("3", "0.5")).toBe(true);
  });
  it("counts a step's decimals", () => {
    expect(decimalsOf("0.01")).toBe(2);
    expect(decimalsOf("0.010")).toBe(2);
    expect(decimalsOf("1")).toBe(0);
    expect(decimalsOf("0.00000001")).toBe(8);
  });
});

describe("formatting", () => {
  it("formats a price as the book does: the tick's decimals and thousands separators", () => {
    expect(formatPrice("56912.4", "0.01")).toBe("56,912.40");
    expect(formatPrice("59758.039697", "0.01")).toBe("59,758.04"); // an average price, rounded half up
    expect(formatPrice("0.5123", "0.0001")).toBe("0.5123");
    expect(formatPrice("3029.5", "1")).toBe("3,030");
    expect(formatPrice("56912.4", undefined)).toBe("56,912.4"); // no tick known: as sent
    expect(formatPrice(null, "0.01")).toBe("—");
  });

  it("formats a quantity at the lot's decimals, so one market's amounts read alike row after row", () => {
    expect(["0.00123", "0.001", "0"].map((q) => formatQty(q, "0.00001"))).toEqual(["0.00123", "0.00100", "0.00000"]);
    expect(formatQty("98765.4", "0.1")).toBe("98,765.4");
    expect(formatQty("1234.5", "0.01")).toBe("1,234.50");
    expect(formatQty("25", "1")).toBe("25");
    expect(formatQty("0.5", "0.5")).toBe("0.5"); // a lot that is not a power of ten: its decimals
    expect(formatQty("0.0034", undefined)).toBe("0.0034"); // no lot known: as sent
    expect(formatQty(null, "0.00001")).toBe("—");
  });

  it("formats with fixed decimals and thousands separators", () => {
    expect(format("1234567.891", 2)).toBe("1,234,567.89");
    expect(format("0.5", 4)).toBe("0.5000");
    expect(format("-1234.5")).toBe("-1,234.5");
    expect(format("999.995", 2)).toBe("1,000.00");
  });
  it("shows a dash for missing values", () => {
    expect(format(null)).toBe("—");
    expect(format("n/a")).toBe("—");
  });
  it("rounds an average price half up to the market's price decimals, for display", () => {
    // an order's average (quote / qty) can carry more digits than any trade's price
    expect(formatPrice("59758.039697", "0.01")).toBe("59,758.04");
    expect(formatPrice("59758.035", "0.01")).toBe("59,758.04");
    expect(formatPrice("59758.034999", "0.01")).toBe("59,758.03");
    expect(formatPrice("60858.2", "0.01")).toBe("60,858.20");
    expect(formatPrice("0.51234567", "0.0001")).toBe("0.5123");
    expect(formatPrice("3029.5", "1")).toBe("3,030");
    expect(formatPrice("59758.039697", undefined)).toBe("59,758.039697"); // tick not known yet
  });
  it("signs percentages", () => {
    expect(formatPct("2.5")).toBe("+2.50%");
    expect(formatPct("-0.125", 2)).toBe("-0.13%");
    expect(formatPct("0")).toBe("0.00%");
  });
});

describe("order form helpers", () => {
  it("takes a percentage of a balance without floats", () => {
    expect(toPlain(percentOf("10.00000001", 25, 8))).toBe("2.5");
    expect(toPlain(percentOf("0.00000003", 50, 8))).toBe("0.00000001");
    expect(() => percentOf("1", 101, 2)).toThrow();
  });
  it("estimates total and fee, rounding the fee up", () => {
    const { total, fee } = estimate("30000.5", "0.003", "0.001", 6);
    expect(toPlain(total)).toBe("90.0015");
    expect(toPlain(fee)).toBe("0.090002");
  });
});

describe("formatChartNumber", () => {
  it("labels the chart's prices as the book shows them: the market's decimals with thousands separators", () => {
    expect(formatChartNumber(56912.4, 2)).toBe("56,912.40");
    expect(formatChartNumber(1234567, 0)).toBe("1,234,567");
    expect(formatChartNumber(0.1234, 4)).toBe("0.1234");
    expect(formatChartNumber(999.995, 1)).toBe("1,000.0");
  });
  it("never shows a negative zero or a non-number", () => {
    expect(formatChartNumber(-0.0001, 2)).toBe("0.00");
    expect(formatChartNumber(-1234.5, 1)).toBe("-1,234.5");
    expect(formatChartNumber(Number.NaN, 2)).toBe("—");
  });
});

describe("commaQuestion", () => {
  it("offers both readings of an ambiguous comma", () => {
    expect(commaQuestion(" 12,000 ")).toBe("Write 12000 or 12.000: is the comma a thousands separator?");
  });
});

describe("formatAmount", () => {
  it("shows an amount's own digits, at least two decimals, at most the asset's, grouped", () => {
    expect(formatAmount("50.000000", 6)).toBe("50.00");
    expect(formatAmount("99930.25579", 6)).toBe("99,930.25579");
    expect(formatAmount("7", 6)).toBe("7.00");
    expect(formatAmount("1.2", 6)).toBe("1.20");
    expect(formatAmount("0.1234567", 6)).toBe("0.123457");
    expect(formatAmount("12", 0)).toBe("12");
    expect(formatAmount("-1234.5")).toBe("-1,234.50");
    expect(formatAmount(null)).toBe("—");
    expect(formatAmount("x")).toBe("—");
  });
});

describe("quantize and formatFixed", () => {
  it("rounds to a fixed number of decimals the way asked, exact where there are no more digits", () => {
    expect(toFixed(quantize("30.1765", 6, "up"))).toBe("30.176500");
    expect(toFixed(quantize("0.0603531", 6, "up"))).toBe("0.060354");
    expect(toFixed(quantize("0.0603531", 6, "down"))).toBe("0.060353");
    expect(toFixed(quantize("0.0603535", 6, "nearest"))).toBe("0.060354");
    expect(toFixed(quantize("0.0603530000", 6, "up"))).toBe("0.060353"); // zeros are not a remainder
    expect(toFixed(quantize("-1.0000001", 6, "down"))).toBe("-1.000001"); // toward minus infinity
    expect(toFixed(quantize("-1.0000001", 6, "up"))).toBe("-1.000000");
    expect(toFixed(quantize("7", 0, "up"))).toBe("7");
  });

  it("shows every decimal of the asset whatever the value, so a figure keeps its width", () => {
    // the order form's Available before and after a trade: 6 decimals both times (it showed 2, then 6)
    expect(formatFixed("100000", 6, "down")).toBe("100,000.000000");
    expect(formatFixed("99969.763147", 6, "down")).toBe("99,969.763147");
    expect(formatFixed("99749.5", 6, "down")).toBe("99,749.500000");
    expect(formatFixed(dec("250"), 6, "up")).toBe("250.000000");
    expect(formatFixed("0.00000015", 6, "up")).toBe("0.000001"); // a cost never shows as less than it is
    expect(formatFixed("0.00000015", 6, "down")).toBe("0.000000");
    expect(formatFixed("20.01", 8, "down")).toBe("20.01000000");
    expect(formatFixed("12", 0, "down")).toBe("12");
    expect(formatFixed(null, 6, "down")).toBe("—");
    expect(formatFixed("", 6, "down")).toBe("—");
    expect(formatFixed("x", 6, "down")).toBe("—");
  });
});

describe("alignAmounts", () => {
  const texts = (cells: { text: string; pad: string }[]) => cells.map((c) => `${c.text}|${c.pad}`);

  it("writes a column at one number of decimals, the fewest that keeps every amount exact", () => {
    const column = alignAmounts([
      { value: "0.5", decimals: 8 },
      { value: "12.34567", decimals: 8 },
      { value: "100", decimals: 8 },
    ]);
    expect(texts(column)).toEqual(["0.50000|", "12.34567|", "100.00000|"]);
  });

  it("shows at least two decimals, and only those where every amount is whole", () => {
    const column = alignAmounts([
      { value: "100000", decimals: 6 },
      { value: "2", decimals: 8 },
      { value: "0", decimals: 8 },
    ]);
    expect(texts(column)).toEqual(["100,000.00|", "2.00|", "0.00|"]);
  });

  it("never shows figures an asset does not have: the rest of the column's decimals pad it invisibly", () => {
    const column = alignAmounts([
      { value: "0.12345678", decimals: 8 }, // BTC
      { value: "99930.25579", decimals: 6 }, // USDT
      { value: "5", decimals: 0 }, // an asset of whole units
      { value: "1.5", decimals: 1 },
    ]);
    expect(texts(column)).toEqual(["0.12345678|", "99,930.255790|00", "5|.00000000", "1.5|0000000"]);
  });

  it("keeps every amount exact, however many digits: no float on the way", () => {
    const [big, small] = alignAmounts([
      { value: "123456789012345.12345678", decimals: 8 },
      { value: "0.00000001", decimals: 8 },
    ]);
    expect(big.text).toBe("123,456,789,012,345.12345678");
    expect(small.text).toBe("0.00000001");
  });

  it("rounds an amount past its asset's decimals half up, and writes an unknown asset's as sent", () => {
    const column = alignAmounts([{ value: "1.23456789", decimals: 4 }, { value: "7.125" }]);
    expect(texts(column)).toEqual(["1.2346|", "7.1250|"]);
    expect(texts(alignAmounts([{ value: "7.125" }, { value: "3" }]))).toEqual(["7.125|", "3.000|"]);
  });

  it("shows a dash for a missing or invalid amount, which widens nothing", () => {
    const column = alignAmounts([{ value: null, decimals: 8 }, { value: "abc", decimals: 8 }, { value: "1", decimals: 8 }]);
    expect(texts(column)).toEqual(["—|", "—|", "1.00|"]);
    expect(alignAmounts([])).toEqual([]);
  });
});

describe("formatSigned", () => {
  it("always writes the sign, a true minus for a negative amount, none for zero", () => {
    expect(formatSigned("0.5", 5)).toBe("+0.50000");
    expect(formatSigned("-0.01007", 5)).toBe("\u22120.01007");
    expect(formatSigned("-1234.5")).toBe("\u22121,234.5");
    expect(formatSigned("0", 5)).toBe("0.00000");
    expect(formatSigned("-0.000001", 2)).toBe("0.00"); // rounded to zero: no sign
    expect(formatSigned(null)).toBe("—");
  });
});
