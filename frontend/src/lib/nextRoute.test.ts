import { describe, expect, it } from "vitest";
import { authHref, isAuthRoute, nextOf, safeNext, splitRoute } from "./nextRoute";

describe("the page a login returns to", () => {
  it("accepts the terminal's own hash routes", () => {
    expect(safeNext("#/trade/BTC-USDT")).toBe("#/trade/BTC-USDT");
    expect(safeNext("#/markets")).toBe("#/markets");
  });

  it("refuses anything that could leave the terminal, or loop back to the login", () => {
    for (const bad of [
      null, undefined, "", "/trade/BTC-USDT", "trade/BTC-USDT", "#trade", "https://evil.example", "//evil.example",
      "#//evil.example", "#/..//evil.example", "#/\\evil.example", "javascript:alert(1)", "#/javascript:alert(1)",
      "#/trade/BTC USDT", "#/trade/\nx", " #/markets", "#/login", "#/signup?next=%23%2Fmarkets", "#/login?x=1",
    ]) {
      expect(safeNext(bad), String(bad)).toBeNull();
    }
  });

  it("links the auth pages from the current page, and returns there", () => {
    const href = authHref("login", "/trade/BTC-USDT");
    expect(href).toBe("#/login?next=%23%2Ftrade%2FBTC-USDT");
    expect(nextOf(href.slice(1))).toBe("#/trade/BTC-USDT");
    expect(authHref("signup", "/trade/ETH-USDT")).toBe("#/signup?next=%23%2Ftrade%2FETH-USDT");
    // switching between log in and sign up keeps where to return
    expect(authHref("signup", href.slice(1))).toBe("#/signup?next=%23%2Ftrade%2FBTC-USDT");
    expect(authHref("login", "/login")).toBe("#/login");
  });

  it("goes to the markets without an acceptable next", () => {
    expect(nextOf("/login")).toBe("#/markets");
    expect(nextOf("/login?next=https%3A%2F%2Fevil.example")).toBe("#/markets");
    expect(nextOf("/login?next=%23%2F%2Fevil.example")).toBe("#/markets");
    expect(nextOf("/signup?next=%23%2Ftrade%2FBTC-USDT")).toBe("#/trade/BTC-USDT");
  });

  it("splits a route from its query", () => {
    expect(splitRoute("/login?next=%23%2Fmarkets").path).toBe("/login");
    expect(splitRoute("/login?next=%23%2Fmarkets").params.get("next")).toBe("#/markets");
    expect(splitRoute("/trade/BTC-USDT").path).toBe("/trade/BTC-USDT");
  });
});

describe("isAuthRoute", () => {
  it("is the log-in and sign-up pages, with or without a page to return to", () => {
    expect(isAuthRoute("/login")).toBe(true);
    expect(isAuthRoute("/signup?next=%23%2Fmarkets")).toBe(true);
    expect(isAuthRoute("/trade/BTC-USDT")).toBe(false);
    expect(isAuthRoute("/markets?login")).toBe(false);
  });
});
