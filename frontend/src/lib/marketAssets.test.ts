import { describe, expect, it } from "vitest";
import { guessAssets, marketAssets } from "./marketAssets";

describe("marketAssets", () => {
  it("names the assets the market's listing names, whatever its symbol", () => {
    expect(marketAssets("BTC-USDT", { base: "BTC", quote: "USDT" })).toEqual({ base: "BTC", quote: "USDT" });
    expect(marketAssets("BTC-2X-USDT", { base: "BTC-2X", quote: "USDT" })).toEqual({ base: "BTC-2X", quote: "USDT" });
    expect(marketAssets("ETH-USD-C", { base: "ETH", quote: "USD-C" })).toEqual({ base: "ETH", quote: "USD-C" });
    expect(marketAssets("ETHUSDC", { base: "ETH", quote: "USDC" })).toEqual({ base: "ETH", quote: "USDC" });
  });

  it("guesses from the symbol while the listing is not loaded", () => {
    expect(marketAssets("BTC-USDT")).toEqual({ base: "BTC", quote: "USDT" });
    expect(marketAssets("BTC-USDT", null)).toEqual({ base: "BTC", quote: "USDT" });
    expect(marketAssets("BTC-2X-USDT", undefined)).toEqual({ base: "BTC-2X", quote: "USDT" });
  });
});

describe("guessAssets", () => {
  it("splits a symbol at its last dash: a dash belongs to the base asset", () => {
    expect(guessAssets("MINA-USDT")).toEqual({ base: "MINA", quote: "USDT" });
    expect(guessAssets("BTC-2X-USDT")).toEqual({ base: "BTC-2X", quote: "USDT" });
  });

  it("takes a symbol without a dash for the base asset alone", () => {
    expect(guessAssets("ETHUSDC")).toEqual({ base: "ETHUSDC", quote: "" });
    expect(guessAssets("")).toEqual({ base: "", quote: "" });
  });
});
