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

describe("loadPerSubscription", () => {
  /** A WebSocket client's subscription confirmations, played by the test. */
  function source() {
    const listeners = new Map<string, Set<() => void>>();
    return {
      onSubscribed(channel: string, l: () => void) {
        const set = listeners.get(channel) ?? new Set();
        listeners.set(channel, set.add(l));
        return () => void set.delete(l);
      },
      confirm(channel: string) {
        for (const l of listeners.get(channel) ?? []) l();
      },
      count: (channel: string) => listeners.get(channel)?.size ?? 0,
    };
  }

  afterEach(() => vi.useRealTimers());

  it("loads once when the server confirms the channel, not also when the view mounts", async () => {
    vi.useFakeTimers();
    const { loadPerSubscription } = await import("./hooks");
    const ws = source();
    const load = vi.fn();
    const off = loadPerSubscription("trades:BTC-USDT", load, 2_000, ws);
    expect(load).not.toHaveBeenCalled(); // nothing read before the subscription took effect
    vi.advanceTimersByTime(150);
    ws.confirm("trades:BTC-USDT");
    expect(load).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000); // no second read once the wait is over
    ws.confirm("candles:BTC-USDT:1m"); // another channel's confirmation is not this one's
    expect(load).toHaveBeenCalledTimes(1);
    off();
  });

  it("loads again at each confirmation after a reconnect, so what was missed meanwhile is filled in", async () => {
    vi.useFakeTimers();
    const { loadPerSubscription } = await import("./hooks");
    const ws = source();
    const load = vi.fn();
    const off = loadPerSubscription("orders", load, 2_000, ws);
    ws.confirm("orders");
    ws.confirm("orders"); // reconnected, subscribed again
    ws.confirm("orders");
    expect(load).toHaveBeenCalledTimes(3);
    off();
    ws.confirm("orders"); // the view is gone
    expect(load).toHaveBeenCalledTimes(3);
    expect(ws.count("orders")).toBe(0);
  });

  it("loads anyway when no confirmation comes in time, for a first paint, and again when it comes", async () => {
    vi.useFakeTimers();
    const { loadPerSubscription } = await import("./hooks");
    const ws = source();
    const load = vi.fn();
    const off = loadPerSubscription("balances", load, 2_000, ws);
    vi.advanceTimersByTime(1_999);
    expect(load).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(load).toHaveBeenCalledTimes(1); // the connection is slow or down: the REST snapshot meanwhile
    ws.confirm("balances"); // the subscription took effect since: read again, after it
    expect(load).toHaveBeenCalledTimes(2);
    off();
  });

  it("loads nothing once the view is gone", async () => {
    vi.useFakeTimers();
    const { loadPerSubscription } = await import("./hooks");
    const ws = source();
    const load = vi.fn();
    loadPerSubscription("balances", load, 2_000, ws)();
    vi.advanceTimersByTime(5_000);
    ws.confirm("balances");
    expect(load).not.toHaveBeenCalled();
  });
});
