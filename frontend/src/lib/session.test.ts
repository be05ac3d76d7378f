import { afterEach, describe, expect, it, vi } from "vitest";

/**
 * The API's refresh rule (exchange/api/accounts.py): a rotated token presented again is theft and revokes
 * every token of the account (the API: of its session, which is all one tab sees). A token of an ended
 * session is refused with SESSION_ENDED, a missing or unknown one with INVALID_TOKEN. Tokens name their
 * account ("u:R3"), as the access tokens do ("A-u:R3").
 */
class AuthServer {
  private tokens = new Map<string, { account: string; revoked: boolean; rotated: boolean }>();
  private n = 0;
  calls = 0;
  reuses = 0;
  /** Access tokens a logout ended. */
  ended: string[] = [];

  issue(account: string): string {
    const token = `${account}:R${this.n++}`;
    this.tokens.set(token, { account, revoked: false, rotated: false });
    return token;
  }

  revoke(token: string): void {
    const row = this.tokens.get(token);
    if (row) row.revoked = true;
  }

  refresh(token: string | undefined): { status: number; token?: string; body?: unknown } {
    this.calls += 1;
    const row = token === undefined ? undefined : this.tokens.get(token);
    if (!row) return { status: 401, body: { error: { code: "INVALID_TOKEN", message: "unknown" } } };
    if (row.revoked) {
      if (row.rotated) {
        this.reuses += 1;
        for (const r of this.tokens.values()) if (r.account === row.account) r.revoked = true;
      }
      return { status: 401, body: { error: { code: "SESSION_ENDED", message: "log in again" } } };
    }
    row.revoked = row.rotated = true;
    const next = this.issue(row.account);
    return { status: 200, token: next, body: { access_token: `A-${next}`, token_type: "bearer", expires_in: 600 } };
  }
}

type StorageListener = (e: { key: string | null }) => void;

/**
 * Two tabs of one browser: shared localStorage with storage events, one cookie jar, Web Locks, and a
 * network whose requests take 20 ms each way (the server's Set-Cookie lands with the answer).
 */
function browser(server: AuthServer) {
  const store = new Map<string, string>();
  const jar: { cookie?: string } = {};
  const tabs: StorageListener[][] = [];
  const notify = (key: string) => setTimeout(() => tabs.forEach((ls) => ls.forEach((l) => l({ key }))), 2);
  let held: Promise<unknown> = Promise.resolve();
  vi.stubGlobal("localStorage", {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => {
      if (store.get(k) === v) return; // browsers fire no event for an unchanged value
      store.set(k, v);
      notify(k);
    },
    removeItem: (k: string) => {
      if (!store.delete(k)) return;
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
  const net = { offline: false };
  vi.stubGlobal("fetch", (url: string, init: { body: string }) => {
    if (net.offline) return Promise.reject(new TypeError("Failed to fetch"));
    if (url === "/api/auth/logout") {
      // the cookie's refresh token (never one from the page), plus the access token the tab held, if any
      const body = JSON.parse(init.body) as { access_token?: string };
      expect(Object.keys(body).filter((k) => k !== "access_token")).toEqual([]);
      if (body.access_token !== undefined) server.ended.push(body.access_token);
      const had = jar.cookie;
      return new Promise((resolve) =>
        setTimeout(() => {
          if (had) server.revoke(had);
          jar.cookie = undefined; // Set-Cookie: Max-Age=0
          resolve({ ok: Boolean(had), status: had ? 204 : 401, json: async () => ({}) });
        }, 20),
      );
    }
    expect(url).toBe("/api/auth/refresh");
    const body = JSON.parse(init.body) as { refresh_token?: string; refresh_cookie?: boolean };
    // the token travels as the cookie; only a token kept by an earlier terminal comes in the body, once
    if (body.refresh_token === undefined) expect(body).toEqual({});
    else expect(body.refresh_cookie).toBe(true);
    return new Promise((resolve) =>
      setTimeout(() => {
        const r = server.refresh(body.refresh_token ?? jar.cookie);
        setTimeout(() => {
          if (r.token) jar.cookie = r.token;
          resolve({ ok: r.status === 200, status: r.status, json: async () => r.body });
        }, 20);
      }, 20),
    );
  });
  return {
    store,
    jar,
    net,
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

type Tab = Awaited<ReturnType<ReturnType<typeof browser>["tab"]>>;

/** A login as the terminal does it: under the lock, the server sets the cookie, the page gets the access token. */
async function login(tab: Tab, server: AuthServer, jar: { cookie?: string }, account: string) {
  await tab.withSessionLock(async () => {
    jar.cookie = server.issue(account);
    tab.setSession(`${account}@example.com`, { access_token: `A-${jar.cookie}`, token_type: "bearer", expires_in: 600 });
  });
}

/** A browser with one tab logged in as `account` (fake timers on). */
async function loggedIn(account = "u") {
  vi.useFakeTimers();
  const server = new AuthServer();
  const b = browser(server);
  const tab = await b.tab();
  await login(tab, server, b.jar, account);
  return { server, b, tab };
}

/** Two tabs of one browser, the first logged in as "u" and the second told of it (fake timers on). */
async function twoTabs() {
  vi.useFakeTimers();
  const server = new AuthServer();
  const b = browser(server);
  const first = await b.tab();
  const second = await b.tab();
  await login(first, server, b.jar, "u");
  await vi.advanceTimersByTimeAsync(100);
  return { server, b, first, second };
}

const accountOf = (tab: Tab) => tab.getSession()?.accessToken.replace(/^A-/, "").split(":")[0];

describe("session across tabs (refresh token in an httpOnly cookie)", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("never stores a token: localStorage holds the email only", async () => {
    const { b, tab } = await loggedIn();
    expect(JSON.parse(b.store.get("exchange.session") ?? "null")).toEqual({ email: "u@example.com" });
    expect(tab.getSession()?.accessToken).toMatch(/^A-u:/);
  });

  it("two tabs refreshing at the same moment take turns and both stay logged in", async () => {
    const { server, b, first, second } = await twoTabs(); // the second tab heard of it and got its token
    expect(accountOf(second)).toBe("u");
    void first.refreshSession();
    void second.refreshSession(); // presents the same cookie unless it waits for the first answer
    await vi.advanceTimersByTimeAsync(200);
    for (let cycle = 1; cycle <= 3; cycle++) {
      await vi.advanceTimersByTimeAsync(600_000);
      expect(accountOf(first)).toBe("u");
      expect(accountOf(second)).toBe("u");
    }
    expect(server.reuses).toBe(0); // each rotation presented the cookie the previous one set
    expect(server.refresh(b.jar.cookie).status).toBe(200); // and the cookie left is live
  });

  it("two tabs restored after a reload each get an access token from the cookie", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    b.jar.cookie = server.issue("u");
    b.store.set("exchange.session", JSON.stringify({ email: "u@example.com" }));
    const first = await b.tab();
    const second = await b.tab();
    expect(first.getSession()).toEqual({ email: "u@example.com", accessToken: "", expiresAt: 0 });
    first.startSession();
    second.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect([accountOf(first), accountOf(second)]).toEqual(["u", "u"]);
    expect(first.getSession()?.accessToken).not.toBe(second.getSession()?.accessToken);
    expect(server.calls).toBe(2);
    expect(server.reuses).toBe(0);
  });

  it("a session an earlier terminal kept in storage moves to the cookie and leaves no token behind", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const old = { email: "u@example.com", accessToken: "A-x", refreshToken: server.issue("u"), expiresAt: 0 };
    b.store.set("exchange.session", JSON.stringify(old));
    const tab = await b.tab();
    tab.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(accountOf(tab)).toBe("u");
    expect(JSON.parse(b.store.get("exchange.session") ?? "null")).toEqual({ email: "u@example.com" });
    expect(b.jar.cookie).toMatch(/^u:/); // the rotated token came back as the cookie
    expect(server.refresh(old.refreshToken).status).toBe(401); // and the stored one is spent
  });

  it("a session restored without a live cookie ends at its first refresh", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    b.store.set("exchange.session", JSON.stringify({ email: "u@example.com" }));
    const tab = await b.tab();
    tab.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tab.getSession()).toBeNull();
    expect(b.store.has("exchange.session")).toBe(false);
  });

  it("a login to another account in one tab moves the other tab to that account", async () => {
    const { server, b, first, second } = await twoTabs();
    await login(second, server, b.jar, "v");
    await vi.advanceTimersByTimeAsync(100);
    expect(first.getSession()?.email).toBe("v@example.com");
    expect(accountOf(first)).toBe("v");
  });

  it("a logout in another tab ends this tab's session", async () => {
    const { first, second } = await twoTabs();
    expect(second.getSession()).not.toBeNull();
    first.clearSession();
    await vi.advanceTimersByTimeAsync(10);
    expect(second.getSession()).toBeNull();
  });

  it("a logout revokes the cookie's token at the server and clears the cookie", async () => {
    const { server, b, tab } = await loggedIn();
    const token = b.jar.cookie as string;
    const access = tab.getSession()?.accessToken;
    const done = tab.logOut();
    expect(tab.getSession()).toBeNull(); // at once, before the server answers
    await vi.advanceTimersByTimeAsync(100);
    await done;
    expect(b.jar.cookie).toBeUndefined();
    expect(server.refresh(token).status).toBe(401);
    expect(server.ended).toEqual([access]); // the tab's access token ends at the server too
    expect(b.store.has("exchange.logout")).toBe(false);
  });

  it("a logout that cannot reach the server is finished at the next start", async () => {
    const { server, b, tab } = await loggedIn();
    const token = b.jar.cookie as string;
    b.net.offline = true;
    await tab.logOut();
    expect(tab.getSession()).toBeNull();
    expect(b.store.get("exchange.logout")).toBe("1"); // the cookie is still valid: remembered
    b.net.offline = false;
    const reloaded = await b.tab();
    reloaded.startSession();
    await vi.advanceTimersByTimeAsync(100);
    expect(b.jar.cookie).toBeUndefined();
    expect(server.refresh(token).status).toBe(401);
    expect(server.ended).toEqual([]); // the access token was in memory only: it simply expires
    expect(b.store.has("exchange.logout")).toBe(false);
  });

  it("logging out while a refresh is on the wire stays logged out", async () => {
    const { b, tab } = await loggedIn();
    const refreshing = tab.refreshSession();
    await vi.advanceTimersByTimeAsync(10); // the request is out
    tab.clearSession();
    await vi.advanceTimersByTimeAsync(100); // its answer arrives
    await expect(refreshing).resolves.toBeNull();
    expect(tab.getSession()).toBeNull();
    expect(b.store.has("exchange.session")).toBe(false);
  });
});

describe("why the session ended (the notice after a logout from elsewhere)", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("endReason: a refused session this tab was using ended, a refused restored one expired", async () => {
    const { endReason } = await import("./session");
    expect(endReason("logout", true)).toBe("logout");
    expect(endReason("logout", false)).toBe("logout");
    expect(endReason("refused", true)).toBe("ended");
    expect(endReason("refused", false)).toBe("expired");
  });

  it("this browser's own logout: no notice", async () => {
    const { tab } = await loggedIn();
    await Promise.all([tab.logOut(), vi.advanceTimersByTimeAsync(100)]);
    expect(tab.takeEndReason()).toBe("logout");
  });

  it("a refresh refused after a live session (ended elsewhere, or expired): the notice, once", async () => {
    const { server, b, tab } = await loggedIn();
    const heard: (string | null)[] = [];
    tab.subscribeSession(() => heard.push(tab.getSession() ? null : tab.takeEndReason()));
    server.revoke(b.jar.cookie as string); // another device logged this session out
    await Promise.all([tab.refreshSession(), vi.advanceTimersByTimeAsync(100)]); // a 401 or a WS 4001 asks
    expect(tab.getSession()).toBeNull();
    expect(heard).toEqual(["ended"]);
    expect(tab.takeEndReason()).toBeNull(); // told once
  });

  it("no session at load: no notice; a restored one whose cookie is gone (expired): the expired notice", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const fresh = await b.tab();
    fresh.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fresh.takeEndReason()).toBeNull();

    b.store.set("exchange.session", JSON.stringify({ email: "u@example.com" })); // the cookie went meanwhile
    const restored = await b.tab();
    restored.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(restored.getSession()).toBeNull();
    expect(restored.takeEndReason()).toBe("expired");
  });

  it("a restored session the server says was ended (logged out elsewhere while the page was closed): the notice", async () => {
    vi.useFakeTimers();
    const server = new AuthServer();
    const b = browser(server);
    const before = await b.tab();
    await login(before, server, b.jar, "u");
    server.revoke(b.jar.cookie as string); // ended from another device while no page was open
    const reopened = await b.tab(); // the page opened again: the session is restored, not yet live
    reopened.startSession();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(reopened.getSession()).toBeNull();
    expect(reopened.takeEndReason()).toBe("ended");
  });

  it("another tab hears why: the notice for a session ended elsewhere, none for a logout", async () => {
    const { server, b, first, second } = await twoTabs();
    server.revoke(b.jar.cookie as string);
    await Promise.all([first.refreshSession(), vi.advanceTimersByTimeAsync(100)]);
    expect(second.getSession()).toBeNull();
    expect(first.takeEndReason()).toBe("ended");
    expect(second.takeEndReason()).toBe("ended");

    await login(first, server, b.jar, "u"); // logged in again, then out by hand
    await vi.advanceTimersByTimeAsync(100);
    expect(second.getSession()).not.toBeNull();
    await Promise.all([first.logOut(), vi.advanceTimersByTimeAsync(100)]);
    expect(second.getSession()).toBeNull();
    expect(second.takeEndReason()).toBe("logout");
  });
});
