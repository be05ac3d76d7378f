import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  accountOf,
  CLOSE_TOKEN_EXPIRED,
  CLOSE_TOO_MANY_CONNECTIONS,
  CONNECT_TIMEOUT_MS,
  isHistoryResync,
  SILENT_TIMEOUT_MS,
  SUBSCRIBE_ANSWER_MS,
  SUBSCRIBE_RETRY_MS,
  TOO_MANY_RETRY_MS,
  WsClient,
} from "./ws";

class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  /** a browser reports the close of a dead connection (or one that never opened) only after its own timeout */
  closeReported = true;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onclose: ((ev?: { code?: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code?: number) {
    this.readyState = 3;
    if (this.closeReported) this.onclose?.({ code });
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  subscribed(): string[] {
    return this.sent.filter((f) => f.op === "subscribe").flatMap((f) => f.channels as string[]);
  }
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1];

describe("WsClient", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("subscribes public channels at once and private ones only after the token is accepted", () => {
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.subscribe("orders", () => undefined);
    ws.setToken("tok");
    ws.start();
    last().open();
    expect(last().subscribed()).toEqual(["book:BTC-USDT"]);
    const auth = last().sent.find((f) => f.op === "auth")!;
    expect(auth.token).toBe("tok");
    last().receive({ op: "authenticated", req_id: auth.req_id, account_id: 1 });
    expect(last().subscribed()).toEqual(["book:BTC-USDT", "orders"]);
    ws.stop();
  });

  it("routes channel messages to their handlers", () => {
    const ws = new WsClient("ws://test/ws");
    const got: unknown[] = [];
    ws.subscribe("trades:BTC-USDT", (m) => got.push(m.data));
    ws.start();
    last().open();
    last().receive({ channel: "trades:BTC-USDT", data: [{ id: 1 }] });
    last().receive({ channel: "trades:ETH-USDT", data: [{ id: 2 }] });
    last().receive({ op: "ping", ts: 1 });
    expect(got).toEqual([[{ id: 1 }]]);
    ws.stop();
  });

  it("reconnects after a drop and subscribes everything again", () => {
    const ws = new WsClient("ws://test/ws");
    const states: string[] = [];
    ws.onState((s) => states.push(s));
    ws.subscribe("tickers", () => undefined);
    ws.start();
    last().open();
    const first = last();
    first.close();
    expect(ws.state).toBe("closed");
    vi.advanceTimersByTime(1000);
    expect(last()).not.toBe(first);
    last().open();
    expect(last().subscribed()).toEqual(["tickers"]);
    expect(states).toEqual(["connecting", "open", "closed", "connecting", "open"]);
    ws.stop();
  });

  it("drops a connection that does not open in time and tries another, without waiting for the browser", () => {
    const ws = new WsClient("ws://test/ws");
    const states: string[] = [];
    ws.onState((s) => states.push(s));
    ws.subscribe("tickers", () => undefined);
    ws.start();
    const stuck = last();
    stuck.closeReported = false; // the server's port takes the TCP connection; nobody answers it
    vi.advanceTimersByTime(CONNECT_TIMEOUT_MS - 1000);
    expect(ws.state).toBe("connecting");
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(2000);
    expect(stuck.readyState).toBe(3); // closed by the client
    expect(ws.state).toBe("closed");
    vi.advanceTimersByTime(1000);
    expect(last()).not.toBe(stuck);
    last().open();
    expect(last().subscribed()).toEqual(["tickers"]);
    stuck.onopen?.(); // a late open of the abandoned socket changes nothing
    expect(states).toEqual(["connecting", "closed", "connecting", "open"]);
    ws.stop();
  });

  it("drops a connection silent for too long (no heartbeat) at once, even if the browser reports it late", () => {
    const ws = new WsClient("ws://test/ws");
    const pending: Promise<unknown>[] = [];
    ws.start();
    const dead = last();
    dead.closeReported = false;
    dead.open();
    pending.push(ws.request("place", {}, 10 * SILENT_TIMEOUT_MS).catch((e: Error) => e.message));
    vi.advanceTimersByTime(SILENT_TIMEOUT_MS - 2000);
    dead.receive({ op: "ping", ts: 1 }); // a heartbeat keeps it
    vi.advanceTimersByTime(SILENT_TIMEOUT_MS - 2000);
    expect(ws.state).toBe("open");
    vi.advanceTimersByTime(3000);
    expect(ws.state).toBe("closed");
    vi.advanceTimersByTime(1000);
    expect(last()).not.toBe(dead);
    ws.stop();
    return expect(pending[0]).resolves.toBe("connection closed");
  });

  it("drops a connection whose subscribe goes unanswered, however lively, and subscribes on a new one", () => {
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.start();
    const wedged = last();
    wedged.open();
    expect(wedged.subscribed()).toEqual(["book:BTC-USDT"]);
    for (let t = 0; t < SUBSCRIBE_ANSWER_MS - 2000; t += 1000) {
      vi.advanceTimersByTime(1000);
      wedged.receive({ op: "ping", ts: t }); // heartbeats: the connection is alive, the subscribe stuck
    }
    expect(ws.state).toBe("open");
    vi.advanceTimersByTime(3000);
    expect(ws.state).toBe("closed");
    expect(wedged.readyState).toBe(3);
    vi.advanceTimersByTime(1000);
    const next = last();
    expect(next).not.toBe(wedged);
    next.open();
    const sub = next.sent.find((f) => f.op === "subscribe")!;
    expect(sub.channels).toEqual(["book:BTC-USDT"]);
    next.receive({ op: "subscribed", req_id: sub.req_id, channels: ["book:BTC-USDT"] });
    vi.advanceTimersByTime(2 * SUBSCRIBE_ANSWER_MS); // answered: kept however long it then lasts
    next.receive({ op: "ping", ts: 1 });
    expect(ws.state).toBe("open");
    expect(last()).toBe(next);
    ws.stop();
  });

  it("a close for an expired token asks for a fresh one; a close over the connection cap waits long", () => {
    const ws = new WsClient("ws://test/ws");
    let refused = 0;
    ws.onAuthError(() => refused++);
    ws.subscribe("balances", () => undefined);
    ws.setToken("t");
    ws.start();
    last().open();
    last().close(CLOSE_TOKEN_EXPIRED);
    expect(refused).toBe(1);
    vi.advanceTimersByTime(1000);
    last().open();
    const capped = last();
    capped.close(CLOSE_TOO_MANY_CONNECTIONS);
    expect(refused).toBe(1);
    vi.advanceTimersByTime(TOO_MANY_RETRY_MS - 1);
    expect(last()).toBe(capped); // not yet
    vi.advanceTimersByTime(1000);
    expect(last()).not.toBe(capped);
    ws.stop();
  });

  it("reports a refused token so the app can refresh it", () => {
    const ws = new WsClient("ws://test/ws");
    let refused = 0;
    ws.onAuthError(() => refused++);
    ws.subscribe("balances", () => undefined);
    ws.setToken("old");
    ws.start();
    last().open();
    const auth = last().sent.find((f) => f.op === "auth")!;
    last().receive({ op: "error", req_id: auth.req_id, error: { code: "INVALID_TOKEN", message: "expired" } });
    expect(refused).toBe(1);
    expect(last().subscribed()).toEqual([]);
    ws.setToken("new");
    const again = last().sent.filter((f) => f.op === "auth").at(-1)!;
    expect(again.token).toBe("new");
    last().receive({ op: "authenticated", req_id: again.req_id, account_id: 1 });
    expect(last().subscribed()).toEqual(["balances"]);
    ws.stop();
  });

  it("a token of another account opens a new connection; a fresh token of the same account re-auths", () => {
    const jwt = (sub: number, n: number) => `h.${btoa(JSON.stringify({ sub: String(sub), n })).replace(/=+$/, "")}.s`;
    expect(accountOf(jwt(7, 1))).toBe("7");
    expect(accountOf("not-a-jwt")).toBeNull();
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("orders", () => undefined);
    ws.setToken(jwt(7, 1));
    ws.start();
    const first = last();
    first.open();
    ws.setToken(jwt(7, 2)); // refreshed: same account, same connection
    expect(FakeSocket.all).toHaveLength(1);
    expect(first.sent.filter((f) => f.op === "auth")).toHaveLength(2);
    ws.setToken(jwt(8, 1)); // another account logged in: the connection bound to 7 goes
    expect(first.readyState).toBe(3);
    vi.advanceTimersByTime(5_000);
    expect(FakeSocket.all).toHaveLength(2);
    last().open();
    expect(last().sent.find((f) => f.op === "auth")?.token).toBe(jwt(8, 1));
    ws.stop();
  });

  it("tells when a private channel is subscribed (after the auth), not merely when the socket opens", () => {
    const ws = new WsClient("ws://test/ws");
    let ready = 0;
    ws.onPrivateSubscribed(() => ready++);
    ws.subscribe("orders", () => undefined);
    ws.setToken("tok");
    ws.start();
    last().open();
    expect(ready).toBe(0);
    const auth = last().sent.find((f) => f.op === "auth")!;
    last().receive({ op: "authenticated", req_id: auth.req_id, account_id: 1 });
    expect(ready).toBe(0); // the subscribe is out, not yet confirmed
    last().receive({ op: "subscribed", channels: ["tickers"] });
    expect(ready).toBe(0);
    last().receive({ op: "subscribed", channels: ["orders"] });
    expect(ready).toBe(1);
    ws.stop();
  });

  it("tells when a given channel's subscription is confirmed, on every connection, until unregistered", () => {
    const ws = new WsClient("ws://test/ws");
    let confirmed = 0;
    const off = ws.onSubscribed("trades:BTC-USDT", () => confirmed++);
    ws.subscribe("trades:BTC-USDT", () => undefined);
    ws.start();
    last().open();
    expect(confirmed).toBe(0); // sent, not yet confirmed
    last().receive({ op: "subscribed", channels: ["trades:ETH-USDT"] });
    expect(confirmed).toBe(0);
    last().receive({ op: "subscribed", channels: ["book:BTC-USDT", "trades:BTC-USDT"] });
    expect(confirmed).toBe(1);
    last().close();
    vi.advanceTimersByTime(1_000);
    last().open();
    last().receive({ op: "subscribed", channels: ["trades:BTC-USDT"] });
    expect(confirmed).toBe(2);
    off();
    last().receive({ op: "subscribed", channels: ["trades:BTC-USDT"] });
    expect(confirmed).toBe(2);
    ws.stop();
  });

  it("re-subscribes one channel on request and unsubscribes when the last handler leaves", () => {
    const ws = new WsClient("ws://test/ws");
    ws.start();
    last().open();
    const off1 = ws.subscribe("book:BTC-USDT", () => undefined);
    const off2 = ws.subscribe("book:BTC-USDT", () => undefined);
    ws.resubscribe("book:BTC-USDT");
    expect(last().sent.map((f) => f.op)).toEqual(["subscribe", "unsubscribe", "subscribe"]);
    off1();
    expect(last().sent).toHaveLength(3);
    off2();
    expect(last().sent.at(-1)).toEqual({ op: "unsubscribe", channels: ["book:BTC-USDT"] });
    ws.stop();
  });

  it("gives the connection up as soon as the browser goes offline, and connects at once when it is back", () => {
    const ws = new WsClient("ws://test/ws");
    const states: string[] = [];
    ws.onState((st) => states.push(st));
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.start();
    last().open();
    const first = last();
    ws.networkLost();
    expect(ws.state).not.toBe("open"); // the views show they are stale now, not after SILENT_TIMEOUT_MS
    expect(first.readyState).toBe(3);
    expect(states).toContain("closed");
    const before = FakeSocket.all.length;
    ws.networkBack();
    expect(FakeSocket.all.length).toBe(before + 1); // no backoff wait
    last().open();
    expect(ws.state).toBe("open");
    expect(last().subscribed()).toEqual(["book:BTC-USDT"]);
    ws.networkBack(); // already open: nothing to do
    expect(FakeSocket.all.length).toBe(before + 1);
    ws.stop();
  });

  it("asks again for the channels of a rate-limited subscribe after the server's retry_after, not sooner", () => {
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.subscribe("candles:BTC-USDT:1m", () => undefined);
    ws.start();
    last().open();
    const first = last().sent.find((f) => f.op === "subscribe")!;
    expect(first.req_id).toEqual(expect.any(String));
    last().receive({ op: "error", req_id: first.req_id, error: { code: "RATE_LIMITED", message: "x", retry_after: 5 } });
    vi.advanceTimersByTime(4_900);
    expect(last().subscribed()).toEqual(["book:BTC-USDT", "candles:BTC-USDT:1m"]);
    vi.advanceTimersByTime(400);
    expect(last().subscribed()).toEqual(["book:BTC-USDT", "candles:BTC-USDT:1m", "book:BTC-USDT", "candles:BTC-USDT:1m"]);
    ws.stop();
  });

  it("asks again only for the channel the server names as unavailable, after its subscribed answer", () => {
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.subscribe("trades:BTC-USDT", () => undefined);
    ws.start();
    last().open();
    const req = last().sent.find((f) => f.op === "subscribe")!.req_id;
    last().receive({ op: "subscribed", req_id: req, channels: ["book:BTC-USDT", "trades:BTC-USDT"] });
    last().receive({ op: "error", req_id: req, channels: ["trades:BTC-USDT"], error: { code: "UNAVAILABLE", message: "x" } });
    vi.advanceTimersByTime(SUBSCRIBE_RETRY_MS + 300);
    expect(last().subscribed()).toEqual(["book:BTC-USDT", "trades:BTC-USDT", "trades:BTC-USDT"]);
    ws.stop();
  });

  it("asks again for a channel the server dropped later, named in an error without a req_id", () => {
    const ws = new WsClient("ws://test/ws");
    ws.subscribe("book:BTC-USDT", () => undefined);
    ws.start();
    last().open();
    const req = last().sent.find((f) => f.op === "subscribe")!.req_id;
    last().receive({ op: "subscribed", req_id: req, channels: ["book:BTC-USDT"] });
    last().receive({ op: "error", channels: ["book:BTC-USDT"], error: { code: "UNAVAILABLE", message: "cannot read the book" } });
    vi.advanceTimersByTime(SUBSCRIBE_RETRY_MS + 300);
    expect(last().subscribed()).toEqual(["book:BTC-USDT", "book:BTC-USDT"]);
    ws.stop();
  });

  it("does not ask again for a refusal that would repeat, a channel let go, or on a connection replaced", () => {
    const ws = new WsClient("ws://test/ws");
    ws.start();
    last().open();
    ws.subscribe("book:NOPE-USDT", () => undefined);
    const off = ws.subscribe("book:BTC-USDT", () => undefined);
    ws.subscribe("trades:BTC-USDT", () => undefined);
    const [bad, book, trades] = last().sent.filter((f) => f.op === "subscribe").map((f) => f.req_id);
    last().receive({ op: "error", req_id: bad, error: { code: "UNKNOWN_MARKET", message: "no market" } });
    last().receive({ op: "error", req_id: book, error: { code: "RATE_LIMITED", message: "x", retry_after: 1 } });
    last().receive({ op: "error", req_id: trades, error: { code: "UNAVAILABLE", message: "x" } });
    off(); // the book is no longer wanted
    vi.advanceTimersByTime(SUBSCRIBE_RETRY_MS + 300);
    expect(last().subscribed()).toEqual(["book:NOPE-USDT", "book:BTC-USDT", "trades:BTC-USDT", "trades:BTC-USDT"]);
    last().receive({ op: "error", req_id: last().sent.at(-1)!.req_id, error: { code: "UNAVAILABLE", message: "x" } });
    const before = last();
    before.close(); // reconnecting subscribes everything anyway; the pending retry is dropped
    vi.advanceTimersByTime(1_000);
    last().open();
    vi.advanceTimersByTime(SUBSCRIBE_RETRY_MS + 300);
    expect(before.subscribed()).toHaveLength(4);
    expect(last().subscribed()).toEqual(["book:NOPE-USDT", "trades:BTC-USDT"]);
    ws.stop();
  });
});

describe("isHistoryResync", () => {
  it("is the empty notice only, not one naming orders or a malformed one", () => {
    expect(isHistoryResync({ orders: [] })).toBe(true);
    expect(isHistoryResync({ orders: [12, 13] })).toBe(false);
    expect(isHistoryResync({})).toBe(false);
    expect(isHistoryResync(null)).toBe(false);
    expect(isHistoryResync(undefined)).toBe(false);
    expect(isHistoryResync({ orders: "none" })).toBe(false);
  });
});
