import { afterEach, describe, expect, it, vi } from "vitest";

/** The API's refresh rule (exchange/api/accounts.py): a rotated token presented again revokes them all. */
class AuthServer {
  private tokens = new Map<string, { revoked: boolean; rotated: boolean }>();
  private n = 0;
  calls = 0;

  issue(): string {
    const token = `R${this.n++}`;
    this.tokens.set(token, { revoked: false, rotated: false });
    return token;
  }

  refresh(token: string): { status: number; body?: unknown } {
    this.calls += 1;
    const row = this.tokens.get(token);
    if (!row || row.revoked) {
      if (row?.rotated) for (const r of this.tokens.values()) r.revoked = true; // reuse: theft
      return { status: 401 };
    }
    row.revoked = row.rotated = true;
    const next = this.issue();
    return {
      status: 200,
      body: { access_token: `A-${next}`, refresh_token: next, token_type: "bearer", expires_in: 600 },
    };
  }
}

type StorageListener = (e: { key: string }) => void;

/** Shared localStorage, storage events, Web Locks and a slow network, as two tabs of one browser see them. */
function browser(server: AuthServer) {
  const store = new Map<string, string>();
  const tabs: StorageListener[][] = [];
  const notify = (key: string) => setTimeout(() => tabs.forEach((ls) => ls.forEach((l) => l({ key }))), 2);
  let held: Promise<unknown> = Promise.resolve();
  vi.stubGlobal("localStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => {
      store.set(k, v);
      notify(k);
    },
    removeItem: (k: string) => {
      store.delete(k);
      notify(k);
    },
  });
  vi.stubGlobal("navigator", {
    locks: {
      request: (_name: string, fn: () => Promise<unknown>) => {
        const run = held.then(fn, fn);
        held = run.catch(() => undefined);
        return run;
      },
    },
  });
  vi.stubGlobal("fetch", (_url: string, init: { body: string }) => {
    const { refresh_token } = JSON.parse(init.body) as { refresh_token: string };
    return new Promise((resolve) =>
      setTimeout(() => {
        const r = server.refresh(refresh_token);
        setTimeout(() => resolve({ ok: r.status === 200, status: r.status, json: async () => r.body }), 20);
      }, 20),
    );
  });
  return {
    store,
    /** A fresh copy of the session module, as a new tab loads it. */
    async tab() {
      const listeners: StorageListener[] = [];
      tabs.push(listeners);
      vi.stubGlobal("window", { addEventListener: (_: string, l: StorageListener) => listeners.push(l) });
      vi.resetModules();
      return await import("./session");
    },
  };
}

const pair = (refresh: string) => ({
  access_token: `A-${refresh}`,
  refresh_token: refresh,
  token_type: "bearer" as const,
  expires_in: 600,
});

describe("session refresh across tabs", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("two tabs whose refresh timers fire together rotate once and both stay logged in", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const first = await b.tab();
    const second = await b.tab();
    first.setSession("u@example.com", pair(server.issue()));
    await vi.advanceTimersByTimeAsync(5); // the second tab hears the login through the storage event
    expect(second.getSession()?.refreshToken).toBe("R0");
    for (let cycle = 1; cycle <= 3; cycle++) {
      await vi.advanceTimersByTimeAsync(600_000);
      expect(first.getSession()?.refreshToken).toBe(`R${cycle}`);
      expect(second.getSession()?.refreshToken).toBe(`R${cycle}`);
    }
    expect(server.calls).toBe(3); // one rotation per cycle, never a reuse
  });

  it("two tabs restored with an expired access token rotate once", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const r0 = server.issue();
    const stale = { email: "u@example.com", accessToken: "old", refreshToken: r0, expiresAt: Date.now() - 1 };
    b.store.set("exchange.session", JSON.stringify(stale));
    const first = await b.tab();
    const second = await b.tab();
    first.startSession();
    second.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect([first.getSession()?.refreshToken, second.getSession()?.refreshToken]).toEqual(["R1", "R1"]);
    expect(server.calls).toBe(1);
  });

  it("logging out while a refresh is on the wire stays logged out", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const tab = await b.tab();
    tab.setSession("u@example.com", pair(server.issue()));
    const refreshing = tab.refreshSession();
    await vi.advanceTimersByTimeAsync(10); // the request is out
    tab.clearSession();
    await vi.advanceTimersByTimeAsync(100); // its answer arrives
    await expect(refreshing).resolves.toBeNull();
    expect(tab.getSession()).toBeNull();
    expect(b.store.has("exchange.session")).toBe(false);
  });
});
