/**
 * The single multiplexed WebSocket (`/ws`): channel subscriptions with reference counts, the `auth` op for
 * private channels, request/response ops matched by `req_id`, and automatic reconnection with backoff that
 * re-authenticates and re-subscribes every channel. Listeners also hear about (re)connections so that
 * stateful views (book, candles, trades) can reload what they may have missed.
 */

export type ConnState = "connecting" | "open" | "closed";

/** Close codes of the server (docs/api.md, WebSocket): the token expired while private channels were open;
 * over the connection cap of the address or account. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_TOO_MANY_CONNECTIONS = 4029;
/** The least wait before reconnecting after a 4029. */
export const TOO_MANY_RETRY_MS = 30_000;
/** The least wait before subscribing again after a refused or failed subscription without a `retry_after`. */
export const SUBSCRIBE_RETRY_MS = 2_000;
/** Errors of a `subscribe` that a later try can pass (a rate limit, a server-side failure); the others
 * (an unknown market, a malformed channel, too many channels) would only be refused again. */
const RETRYABLE = new Set(["RATE_LIMITED", "UNAVAILABLE", "INTERNAL_ERROR"]);
/** A connection still not open after this long is dropped and tried again. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** An open connection that heard nothing (not even the server's heartbeat) this long is dropped. */
export const SILENT_TIMEOUT_MS = 45_000;
/** A `subscribe` still unanswered after this long drops the connection: the server serves its frames one
 * at a time, so nothing more will come on it (a new connection may reach another API process). The server
 * answers or fails a subscription well within it (a channel gives up starting after 10 s). */
export const SUBSCRIBE_ANSWER_MS = 15_000;
const WATCHDOG_TICK_MS = 1_000;

export interface ChannelMessage {
  channel: string;
  type?: string;
  first_seq?: number;
  seq?: number;
  data?: unknown;
  [k: string]: unknown;
}

type Handler = (msg: ChannelMessage) => void;

const PRIVATE = new Set(["orders", "balances", "history"]);

/** A `history` frame's data with an empty `orders` list: the server's own Redis connection came back, so
 * notices of every private channel may have been lost (docs/api.md): reload what they keep up to date. */
export function isHistoryResync(data: unknown): boolean {
  const orders = (data as { orders?: unknown } | null | undefined)?.orders;
  return Array.isArray(orders) && orders.length === 0;
}

export class WsClient {
  state: ConnState = "closed";
  private ws: WebSocket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private stateListeners = new Set<(s: ConnState) => void>();
  private privateListeners = new Set<() => void>();
  private subscribedListeners = new Map<string, Set<() => void>>();
  private pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private token: string | null = null;
  private authed = false;
  private backoff = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private lastMessageAt = 0;
  private connectStartedAt = 0;
  private reqCounter = 0;
  /** each `subscribe` sent on this connection and not yet answered, by its `req_id`: its channels and when
   * it was sent (Date.now()) */
  private subscribing = new Map<string, { channels: string[]; at: number }>();
  private retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private authSeq = 0;
  private authErrorListeners = new Set<() => void>();
  private stopped = false;
  private networkWatched = false;

  constructor(private readonly url: string = defaultUrl()) {}

  start(): void {
    this.stopped = false;
    if (!this.ws) this.connect();
    if (!this.networkWatched && typeof window !== "undefined") {
      // the browser knows at once when its network goes: the connection is given up then (its views show
      // they are stale), not after SILENT_TIMEOUT_MS without a frame; back online, it connects at once
      this.networkWatched = true;
      window.addEventListener("offline", () => this.networkLost());
      window.addEventListener("online", () => this.networkBack());
    }
  }

  /** The browser went offline: drop the connection now (the backoff's tries go on, failing fast). */
  networkLost(): void {
    if (this.ws) this.drop(this.ws);
  }

  /** The browser is online again: connect now, without the backoff's wait. */
  networkBack(): void {
    if (this.stopped || this.state === "open") return;
    if (this.ws) this.drop(this.ws); // a try made while offline: start a fresh one
    if (this.timer) clearTimeout(this.timer);
    this.backoff = 500;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.clearRetries();
    const old = this.ws;
    this.ws = null;
    old?.close();
    this.authed = false;
    this.setState("closed");
  }

  onState(l: (s: ConnState) => void): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }

  /**
   * Set or clear the access token; authenticates the live connection at once. A token of another account
   * (a login without a logout first) needs a new connection: the server binds one to one account.
   */
  setToken(token: string | null): void {
    const previous = this.token;
    if (token === previous) return;
    this.token = token;
    if (this.state !== "open") return;
    const switched = previous !== null && token !== null && accountOf(previous) !== accountOf(token);
    if (token && !switched) this.authenticate();
    else if (previous !== null) this.ws?.close(); // drop private subscriptions: reconnect (and re-auth)
  }

  /**
   * Called each time the server confirms a subscription to a private channel (`orders`, `balances`,
   * `history`): from then on every change is pushed, so a snapshot loaded over REST after this misses
   * nothing (one loaded when the socket opens could miss what happened before the private subscription,
   * which waits for the auth).
   */
  onPrivateSubscribed(l: () => void): () => void {
    this.privateListeners.add(l);
    return () => this.privateListeners.delete(l);
  }

  /**
   * Called each time the server confirms a subscription to `channel` (after every (re)connection too): from
   * then on its messages are pushed, so a snapshot loaded over REST after this misses nothing between the
   * two (one loaded when the subscribe was sent could).
   */
  onSubscribed(channel: string, l: () => void): () => void {
    let set = this.subscribedListeners.get(channel);
    if (!set) {
      set = new Set();
      this.subscribedListeners.set(channel, set);
    }
    set.add(l);
    return () => {
      set.delete(l);
      if (!set.size) this.subscribedListeners.delete(channel);
    };
  }

  /** Called when the server refuses the token (expired or revoked): the app refreshes it. */
  onAuthError(l: () => void): () => void {
    this.authErrorListeners.add(l);
    return () => this.authErrorListeners.delete(l);
  }

  private authenticate(): void {
    if (!this.token) return;
    this.authSeq += 1;
    this.send({ op: "auth", req_id: `auth${this.authSeq}`, token: this.token });
  }

  subscribe(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      if (this.canSend(channel)) this.sendSubscribe([channel]);
    }
    set.add(handler);
    return () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(channel);
        if (this.state === "open") this.send({ op: "unsubscribe", channels: [channel] });
      }
    };
  }

  /** Unsubscribe and subscribe again (a book that saw a gap asks for a fresh snapshot). */
  resubscribe(channel: string): void {
    if (this.state !== "open" || !this.handlers.has(channel)) return;
    this.send({ op: "unsubscribe", channels: [channel] });
    this.sendSubscribe([channel]);
  }

  /** A request op answered by a frame carrying the same `req_id`. */
  request<T>(op: string, fields: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.state !== "open") return Promise.reject(new Error("not connected"));
    const reqId = `r${++this.reqCounter}`;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(reqId);
        reject(new Error("timeout"));
      }, timeoutMs);
      this.pending.set(reqId, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.send({ op, req_id: reqId, ...fields });
    });
  }

  private canSend(channel: string): boolean {
    return this.state === "open" && (!PRIVATE.has(channel) || this.authed);
  }

  private resendPrivate(): void {
    const chans = [...this.handlers.keys()].filter((c) => PRIVATE.has(c));
    if (chans.length) this.sendSubscribe(chans);
  }

  /** A `subscribe` with its own `req_id`, so a refusal says which channels to try again. */
  private sendSubscribe(channels: string[]): void {
    const reqId = `sub${++this.reqCounter}`;
    this.subscribing.set(reqId, { channels, at: Date.now() });
    this.send({ op: "subscribe", req_id: reqId, channels });
  }

  /**
   * The server refused or failed (part of) a `subscribe`: the channels still wanted are asked for again
   * after the wait it gives (`retry_after`, seconds) or a short one, instead of waiting forever for frames
   * that will not come. The server names the failed channels when only some failed.
   */
  private subscribeFailed(reqId: string, msg: Record<string, unknown>): void {
    const asked = this.subscribing.get(reqId)?.channels;
    this.subscribing.delete(reqId);
    const error = (msg.error ?? {}) as { code?: unknown; retry_after?: unknown };
    const failed = Array.isArray(msg.channels) ? msg.channels.map(String) : asked;
    if (!failed || !RETRYABLE.has(String(error.code))) return;
    const wait = typeof error.retry_after === "number" && error.retry_after > 0 ? error.retry_after * 1000 : 0;
    const socket = this.ws;
    const t = setTimeout(
      () => {
        this.retryTimers.delete(t);
        if (this.ws !== socket) return; // reconnected since: the new connection subscribed everything
        const again = failed.filter((c) => this.handlers.has(c) && this.canSend(c));
        if (again.length) this.sendSubscribe(again);
      },
      Math.max(wait, SUBSCRIBE_RETRY_MS) + Math.floor(Math.random() * 250),
    );
    this.retryTimers.add(t);
  }

  private clearRetries(): void {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
  }

  private setState(s: ConnState): void {
    if (s === this.state) return;
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  private send(frame: unknown): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private connect(): void {
    this.connectStartedAt = Date.now();
    this.setState("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.backoff = 500;
      this.lastMessageAt = Date.now();
      this.setState("open");
      this.authed = false;
      // public channels at once; private ones after the server acknowledged the token
      const chans = [...this.handlers.keys()].filter((c) => this.canSend(c));
      if (chans.length) this.sendSubscribe(chans);
      this.authenticate();
    };
    ws.onmessage = (ev) => {
      this.lastMessageAt = Date.now();
      let msg: unknown;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = (ev?: { code?: number }) => this.closed(ws, ev?.code);
    ws.onerror = () => {
      /* onclose follows */
    };
    if (!this.watchdog) {
      // a connection that never opens, or goes silent (no data, no heartbeat), is dropped and replaced: the
      // browser would keep the first waiting as long as the server's address takes TCP connections that
      // nobody serves (an API restarting), and report the close of a dead one only after its own timeout
      this.watchdog = setInterval(() => {
        const now = Date.now();
        const stuck = this.state === "connecting" && now - this.connectStartedAt > CONNECT_TIMEOUT_MS;
        const silent = this.state === "open" && now - this.lastMessageAt > SILENT_TIMEOUT_MS;
        const unanswered = this.state === "open" && this.oldestSubscribe() < now - SUBSCRIBE_ANSWER_MS;
        if ((stuck || silent || unanswered) && this.ws) this.drop(this.ws);
      }, WATCHDOG_TICK_MS);
    }
  }

  /** When the oldest unanswered `subscribe` of this connection was sent (Infinity: none). */
  private oldestSubscribe(): number {
    let oldest = Infinity;
    for (const { at } of this.subscribing.values()) oldest = Math.min(oldest, at);
    return oldest;
  }

  /** Give up on `ws` now (not when the browser reports its close) and reconnect. */
  private drop(ws: WebSocket): void {
    this.closed(ws);
    try {
      ws.close();
    } catch {
      /* closing a socket that failed already */
    }
  }

  /** `ws` closed (or was dropped): fail its pending requests and reconnect, unless it was replaced already. */
  private closed(ws: WebSocket, code?: number): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.authed = false;
    for (const p of this.pending.values()) p.reject(new Error("connection closed"));
    this.pending.clear();
    this.subscribing.clear();
    this.clearRetries();
    this.setState("closed");
    // the token expired on the server before it was refreshed here: refresh now, the reconnect sends it
    if (code === CLOSE_TOKEN_EXPIRED) for (const l of this.authErrorListeners) l();
    // over a connection cap (too many tabs): coming straight back would only be refused again
    this.scheduleReconnect(code === CLOSE_TOO_MANY_CONNECTIONS ? TOO_MANY_RETRY_MS : 0);
  }

  private scheduleReconnect(atLeastMs = 0): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(atLeastMs, this.backoff) + Math.floor(Math.random() * 250);
    this.backoff = Math.min(this.backoff * 2, 5_000);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private dispatch(raw: unknown): void {
    if (!raw || typeof raw !== "object") return;
    const msg = raw as Record<string, unknown>;
    if (msg.op === "ping" || msg.op === "pong") return; // server heartbeat: its arrival is the point
    if (msg.op === "subscribed" && Array.isArray(msg.channels)) {
      if (msg.channels.some((c) => PRIVATE.has(String(c)))) for (const l of this.privateListeners) l();
      for (const c of msg.channels) for (const l of this.subscribedListeners.get(String(c)) ?? []) l();
    }
    const reqId = msg.req_id;
    if (typeof reqId === "string" && reqId.startsWith("sub")) {
      if (msg.op === "error") this.subscribeFailed(reqId, msg);
      else this.subscribing.delete(reqId); // subscribed (a channel that failed then follows as an error)
      return;
    }
    if (msg.op === "error" && Array.isArray(msg.channels)) {
      this.subscribeFailed("", msg); // a subscription the server dropped later (its book could not be read)
      return;
    }
    if (typeof reqId === "string" && reqId.startsWith("auth")) {
      if (reqId !== `auth${this.authSeq}`) return; // answer to an older token
      if (msg.op === "authenticated") {
        const first = !this.authed;
        this.authed = true;
        if (first) this.resendPrivate();
      } else if (msg.op === "error") {
        for (const l of this.authErrorListeners) l();
      }
      return;
    }
    if (typeof reqId === "string" && this.pending.has(reqId)) {
      const p = this.pending.get(reqId)!;
      this.pending.delete(reqId);
      if (msg.error) p.reject(msg.error);
      else p.resolve(msg.data ?? msg.result ?? msg.order ?? msg);
      return;
    }
    const channel = msg.channel;
    if (typeof channel !== "string") return;
    const set = this.handlers.get(channel);
    if (!set) return;
    for (const h of [...set]) h(msg as ChannelMessage);
  }
}

function defaultUrl(): string {
  if (typeof location === "undefined") return "ws://127.0.0.1:8000/ws";
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

export const ws = new WsClient();

/** The account (`sub` claim) a JWT is for; null when the text is not a readable JWT. */
export function accountOf(token: string): string | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return sub === undefined || sub === null ? null : String(sub);
  } catch {
    return null;
  }
}
