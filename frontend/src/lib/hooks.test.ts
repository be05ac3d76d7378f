import { afterEach, describe, expect, it, vi } from "vitest";

describe("the markets list", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("is reused for MARKETS_TTL_MS, then fetched again, so a halted market shows in the order form", async () => {
    vi.useFakeTimers();
    let status = "trading";
    let calls = 0;
    vi.stubGlobal("fetch", async () => {
      calls += 1;
      return new Response(JSON.stringify([{ symbol: "BTC-USDT", status }]), { status: 200 });
    });
    vi.resetModules();
    const { loadMarkets, MARKETS_TTL_MS } = await import("./hooks");
    expect((await loadMarkets())[0].status).toBe("trading");
    status = "halted";
    expect((await loadMarkets())[0].status).toBe("trading"); // cached
    expect(calls).toBe(1);
    vi.advanceTimersByTime(MARKETS_TTL_MS);
    expect((await loadMarkets())[0].status).toBe("halted");
    expect(calls).toBe(2);
  });
});
