import { describe, expect, it } from "vitest";
import { ApiError } from "./http";
import { askCancelAll, authError, cancelAllPrompt, errorText, ORDER_STATUS_UNKNOWN, searchKey, symbolMatches } from "./userText";

describe("authError", () => {
  it("says what to fix instead of quoting the schema's regular expression", () => {
    const email = new ApiError(422, "VALIDATION_ERROR", 'email: Expected `str` matching regex "^[A-Za-z0-9._%+\'-]{1,64}@..."');
    expect(authError(email)).toBe("Enter a valid email address");
    const password = new ApiError(422, "VALIDATION_ERROR", "password: Expected `str` of length >= 8");
    expect(authError(password)).toBe("The password must be 8 to 128 characters");
  });
  it("gives other refusals as a sentence, without their code", () => {
    expect(authError(new ApiError(401, "INVALID_CREDENTIALS", "wrong email or password"))).toBe("Wrong email or password");
    expect(authError(new ApiError(409, "EMAIL_TAKEN", "an account with this email exists"))).toBe(
      "An account with this email exists",
    );
    expect(authError(new Error("boom"))).toBe("Something went wrong");
  });
});

describe("errorText", () => {
  it("capitalizes the server's message and leaves the code out of the text", () => {
    const err = new ApiError(400, "INSUFFICIENT_FUNDS", "insufficient USDT balance");
    expect(errorText(err)).toBe("Insufficient USDT balance");
    expect(errorText(err)).not.toContain("INSUFFICIENT_FUNDS");
    expect(errorText(new ApiError(0, "NETWORK", "The server cannot be reached"))).toBe("The server cannot be reached");
    expect(errorText(new ApiError(500, "HTTP_500", ""))).toBe("");
  });
});

describe("ORDER_STATUS_UNKNOWN", () => {
  it("says an order without an answer is of unknown status (never rejected) and that a resend is safe", () => {
    for (const text of [ORDER_STATUS_UNKNOWN.title, ORDER_STATUS_UNKNOWN.line]) {
      expect(text).toMatch(/^Order status unknown/);
      expect(text.toLowerCase()).not.toContain("reject");
    }
    expect(ORDER_STATUS_UNKNOWN.line).toBe(
      "Order status unknown: check Open orders and Order history; sending it again will not place it twice",
    );
    expect(ORDER_STATUS_UNKNOWN.body).toBe("Check Open orders and Order history; sending it again will not place it twice");
  });
});

describe("searchKey", () => {
  it("drops separators and case, so a pair matches however it is written", () => {
    for (const q of ["btc/usdt", " BTC USDT ", "btc_usdt", "BTC-USDT", "btcusdt"]) expect(searchKey(q)).toBe("BTCUSDT");
  });
});

describe("symbolMatches", () => {
  it("finds a pair written with or without a separator, or a part of it", () => {
    for (const q of ["btcusdt", "BTCUSDT", "btc/usdt", "BTC/USDT", " BTC USDT ", "btc_usdt", "btc-us", "btc", ""]) {
      expect(symbolMatches("BTC-USDT", q)).toBe(true);
    }
    expect(symbolMatches("ETH-USDT", "btcusdt")).toBe(false);
    expect(symbolMatches("ETH-USDT", "eth-btc")).toBe(false);
  });
});

describe("cancelAllPrompt", () => {
  it("says how many open orders go, and on which market when scoped to one", () => {
    expect(cancelAllPrompt(3)).toBe("Cancel all 3 open orders?");
    expect(cancelAllPrompt(2, "BTC-USDT")).toBe("Cancel all 2 open BTC-USDT orders?");
    expect(cancelAllPrompt(1, "ETH-USDT")).toBe("Cancel all 1 open ETH-USDT order?");
    expect(cancelAllPrompt(2000, undefined, false)).toBe("Cancel all 2,000+ open orders?");
  });
});

describe("askCancelAll", () => {
  const open = [{ symbol: "BTC-USDT" }, { symbol: "ETH-USDT" }, { symbol: "BTC-USDT" }];
  it("asks with the count of the open orders shown, of the market when scoped to one", () => {
    const asked: string[] = [];
    const yes = (q: string) => (asked.push(q), true);
    expect(askCancelAll(open, undefined, true, yes)).toBe(true);
    expect(askCancelAll(open, "BTC-USDT", true, yes)).toBe(true);
    expect(asked).toEqual(["Cancel all 3 open orders?", "Cancel all 2 open BTC-USDT orders?"]);
  });
  it("says no when the user declines", () => {
    expect(askCancelAll(open, undefined, true, () => false)).toBe(false);
  });
});
