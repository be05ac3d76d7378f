import { describe, expect, it } from "vitest";
import { withQuery } from "./http";
import {
  DEFAULT_SORT,
  exportFileName,
  exportQuery,
  fillsQuery,
  marketChoices,
  NO_FILTERS,
  ordersQuery,
  sortAllowed,
  sortFor,
  type HistoryFilters,
} from "./historyQuery";

const btcBuyClosed: HistoryFilters = { market: "BTC-USDT", side: "buy", status: "closed" };

describe("ordersQuery", () => {
  it("leaves out the market and side when all are shown, and sends status=all", () => {
    expect(withQuery("/api/orders", ordersQuery(NO_FILTERS, DEFAULT_SORT, 10, null))).toBe(
      "/api/orders?status=all&sort=created_at&order=desc&limit=10",
    );
  });

  it("sends the chosen market, side, status, sort and cursor", () => {
    const q = ordersQuery(btcBuyClosed, { key: "price", dir: "asc" }, 10, "abc");
    expect(q).toEqual({ symbol: "BTC-USDT", side: "buy", status: "closed", sort: "price", order: "asc", limit: 10, cursor: "abc" });
  });

  it("never asks for a price or amount sort across all markets", () => {
    expect(ordersQuery(NO_FILTERS, { key: "price", dir: "asc" }, 10, null)).toMatchObject({ sort: "created_at", order: "desc" });
    expect(ordersQuery(NO_FILTERS, { key: "qty", dir: "desc" }, 10, null)).toMatchObject({ sort: "created_at", order: "desc" });
  });
});

describe("exportQuery", () => {
  it("has the table's filters and order but no page size or cursor", () => {
    expect(exportQuery(btcBuyClosed, { key: "qty", dir: "asc" })).toEqual({
      symbol: "BTC-USDT",
      side: "buy",
      status: "closed",
      sort: "qty",
      order: "asc",
    });
    expect(withQuery("/api/orders/export.csv", exportQuery({ ...NO_FILTERS, side: "sell" }, DEFAULT_SORT))).toBe(
      "/api/orders/export.csv?side=sell&status=all&sort=created_at&order=desc",
    );
  });
});

describe("fillsQuery", () => {
  it("sends the market only when one is chosen, with the page size and cursor", () => {
    expect(withQuery("/api/fills", fillsQuery("all", 10, null))).toBe("/api/fills?limit=10");
    expect(fillsQuery("DOT-USDT", 10, "c2")).toEqual({ symbol: "DOT-USDT", limit: 10, cursor: "c2" });
  });
});

describe("sortAllowed and sortFor", () => {
  it("offers price and amount sorts only with one market chosen", () => {
    expect(sortAllowed("price", "all")).toBe(false);
    expect(sortAllowed("qty", "all")).toBe(false);
    expect(sortAllowed("price", "BTC-USDT")).toBe(true);
    expect(sortAllowed("qty", "BTC-USDT")).toBe(true);
    for (const key of ["created_at", "updated_at", "status", "id"] as const) expect(sortAllowed(key, "all")).toBe(true);
  });

  it("falls back to newest first when all markets are chosen under a price or amount sort", () => {
    expect(sortFor({ key: "price", dir: "asc" }, "all")).toEqual({ key: "created_at", dir: "desc" });
    expect(sortFor({ key: "qty", dir: "asc" }, "all")).toEqual({ key: "created_at", dir: "desc" });
  });

  it("keeps a sort that still makes sense", () => {
    const byPrice = { key: "price", dir: "asc" } as const;
    expect(sortFor(byPrice, "ETH-USDT")).toBe(byPrice);
    const byStatus = { key: "status", dir: "asc" } as const;
    expect(sortFor(byStatus, "all")).toBe(byStatus);
  });
});

describe("exportFileName", () => {
  it("is orders.csv with no filter", () => {
    expect(exportFileName(NO_FILTERS)).toBe("orders.csv");
  });

  it("names the market when one is chosen", () => {
    expect(exportFileName({ ...NO_FILTERS, market: "BTC-USDT" })).toBe("orders-BTC-USDT.csv");
  });

  it("names the side and status too when chosen", () => {
    expect(exportFileName(btcBuyClosed)).toBe("orders-BTC-USDT-buy-closed.csv");
    expect(exportFileName({ ...NO_FILTERS, status: "open" })).toBe("orders-open.csv");
  });

  it("keeps only file-name-safe characters of a symbol", () => {
    expect(exportFileName({ ...NO_FILTERS, market: "A/B:C" })).toBe("orders-A_B_C.csv");
  });
});

describe("marketChoices", () => {
  it("lists the markets by symbol, once each", () => {
    expect(marketChoices(["ETH-USDT", "BTC-USDT", "ETH-USDT"], "all")).toEqual(["BTC-USDT", "ETH-USDT"]);
  });

  it("keeps a chosen market that is no longer listed", () => {
    expect(marketChoices(["BTC-USDT"], "OLD-USDT")).toEqual(["BTC-USDT", "OLD-USDT"]);
  });
});
