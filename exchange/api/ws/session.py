"""One WebSocket connection: ops in, frames out through a bounded queue.

Client -> server (JSON text frames; every op may carry a `req_id` that is echoed back):
    {"op": "subscribe", "channels": [...]}      -> {"op": "subscribed", "channels": [...]}
    {"op": "unsubscribe", "channels": [...]}    -> {"op": "unsubscribed", "channels": [...]}
    {"op": "auth", "token": "<access token>"}   -> {"op": "authenticated", "account_id", "expires_at": ms}
    {"op": "place", "req_id", ...order fields}  -> {"op": "result", "req_id", "data": order}
    {"op": "cancel", "req_id", "order_id"}      -> {"op": "result", "req_id", "data": order}
    {"op": "cancel", "req_id", "client_order_id"} (instead of order_id) -> the same
    {"op": "ping"}                              -> {"op": "pong"}
Any failure -> {"op": "error", "req_id"?, "error": {"code", "message"}}; the connection stays open.
Server heartbeat: {"op": "ping", "ts": ms} every `ping_interval_s` (uvicorn also sends protocol pings).

`place` takes the REST body fields (`symbol, side, type, price?, qty?, quote_qty?, time_in_force?,
post_only?, client_order_id?, stp?`; unknown fields -> VALIDATION_ERROR) and answers the REST order object;
`cancel` answers the cancelled order. Both need `auth` and count against the same per-account `orders`
rate limit as REST. After the token expires, trading ops and new private subscriptions answer INVALID_TOKEN
until a fresh `auth` (same account; another account -> ALREADY_AUTHENTICATED, open a new connection); a
connection that still holds private subscriptions when the token's `exp` passes without a fresh `auth`
gets TOKEN_EXPIRED and is closed (4001). Every `auth` moves that deadline to the new token's `exp`. A
logout that revokes the token (`exchange.api.revocation`) ends it the same way, within about a second in
every API process: TOKEN_REVOKED, and close 4001 when the connection holds private subscriptions.

Limits beyond one connection (`exchange.api.ws.limits`, counted in Redis across API processes): at most
`max_per_ip` connections per client address (checked at the handshake) and `max_per_account` per account
(checked at the first `auth`); beyond: TOO_MANY_CONNECTIONS, then close 4029. New `book:*` / `candles:*`
subscriptions (each reads a snapshot) spend the `snapshots` rate limit of the account (of the client
address before `auth`), shared by its connections: RATE_LIMITED with `retry_after` (seconds).

Error codes of the protocol itself: BAD_FRAME (not a JSON object, bad `channels`/`token`/`req_id`, binary
frame), FRAME_TOO_LARGE (> `max_frame_bytes`), UNKNOWN_OP, INVALID_CHANNEL, UNKNOWN_MARKET,
TOO_MANY_CHANNELS (> `max_channels` per connection), AUTH_REQUIRED, ALREADY_AUTHENTICATED, RATE_LIMITED
(> `frames_per_s` frames per connection, the account's order limit, or the `snapshots` limit; the error
carries `retry_after`), TOO_MANY_CONNECTIONS (then close 4029), TOKEN_EXPIRED and TOKEN_REVOKED (then
close 4001),
UNAVAILABLE (a backing service failed; retry); API codes (INVALID_TOKEN, VALIDATION_ERROR,
INSUFFICIENT_FUNDS, ORDER_NOT_FOUND, ...) pass through from `exchange.api.trading`. Limits:
`exchange.api.ws.context.WsSettings` (EXCHANGE_WS_* variables).

Every outgoing frame (acks, results and channel data alike) leaves in the order it was pushed, by one of
two paths:
- served by uvicorn (its websockets-sansio protocol, the default): frames are written straight to the
  connection's transport, what one event-loop iteration pushes in ONE write (`exchange.api.rawsocket`;
  channel frames are encoded once per process, not once per client). A client that does not read lets
  the transport's buffer grow past `buffer_bytes` and is disconnected (close code 1008);
- otherwise (Litestar's test client, another server): one bounded queue drained by one writer task. A
  client that does not read fills the queue and is disconnected (1008); a single send that stalls longer
  than `send_timeout_s` does the same (checked by the watchdog task, which also sends the heartbeats).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from exchange.api import metrics
from exchange.api.context import client_ip
from exchange.api.errors import ApiError, ErrorCode
from exchange.api.hub import Delivery, Topic
from exchange.api.rawsocket import RawSocket, text_frame
from exchange.api.revocation import AccessClaims
from exchange.api.schemas import (
    CLIENT_ORDER_ID_PATTERN,
    json_text,
    parse_order_create,
    repeated_key,
    repeated_key_message,
)
from exchange.api.trading import cancel_order, order_id_by_client_id, place_order
from exchange.api.ws.context import WsContext
from exchange.api.ws.limits import UNCOUNTED, Slot
from exchange.api.ws.topics import (
    BalancesTopic,
    BookTopic,
    CandlesTopic,
    Channel,
    ChannelError,
    ChannelKind,
    HistoryTopic,
    OrdersTopic,
    TickersTopic,
    TradesTopic,
    dumps,
    parse_channel,
)

log = logging.getLogger(__name__)
_CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID_PATTERN)

HISTORY_RESYNC = dumps({"channel": "history", "data": {"orders": []}})
# the same signal on the live private channels, whose data is a list: an empty one (docs/api.md)
PRIVATE_RESYNC = {
    ChannelKind.HISTORY: HISTORY_RESYNC,
    ChannelKind.ORDERS: dumps({"channel": "orders", "data": []}),
    ChannelKind.BALANCES: dumps({"channel": "balances", "data": []}),
}

CLOSE_POLICY = 1008  # slow consumer, foreign origin, abuse
WS_DROPPED = metrics.REGISTRY.counter(
    "exchange_ws_dropped_total", "WebSocket clients disconnected by the server, by reason", ("reason",)
)
SLOW_OPS = metrics.REGISTRY.counter(
    "exchange_ws_slow_ops_total", "WebSocket ops served for more than SLOW_OP_S seconds, by op", ("op",)
)
SLOW_OP_S = 5.0  # an op served this long is logged with the place it waits at
CLOSE_GOING_AWAY = 1001
CLOSE_TOKEN_EXPIRED = 4001  # private subscriptions outlived the token: reconnect and `auth` again
CLOSE_TOO_MANY_CONNECTIONS = 4029  # over the per-address or per-account connection cap
REQ_ID_MAX = 64
SNAPSHOT_KINDS = frozenset({ChannelKind.BOOK, ChannelKind.CANDLES})  # subscribing reads a snapshot


class WsCode:
    """Error codes of the WebSocket protocol (besides the API's codes, which pass through)."""

    BAD_FRAME = "BAD_FRAME"
    FRAME_TOO_LARGE = "FRAME_TOO_LARGE"
    UNKNOWN_OP = "UNKNOWN_OP"
    INVALID_CHANNEL = "INVALID_CHANNEL"
    TOO_MANY_CHANNELS = "TOO_MANY_CHANNELS"
    AUTH_REQUIRED = "AUTH_REQUIRED"
    ALREADY_AUTHENTICATED = "ALREADY_AUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    UNAVAILABLE = "UNAVAILABLE"


class OpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class _Sub:
    """One subscribed client channel. Book channels carry the snapshot/seq state."""

    channel: Channel
    topic: str
    seq: int = 0
    pending: list[Delivery] | None = None  # book: updates buffered while a snapshot is taken
    held: list[Delivery] | None = None  # other channels: frames held until the `subscribed` answer is out
    resync_task: asyncio.Task[None] | None = field(default=None, repr=False)


class Session:
    """Serves one accepted WebSocket until either side closes."""

    def __init__(self, socket: WebSocket[Any, Any, Any], ctx: WsContext) -> None:
        self.socket = socket
        self.ctx = ctx
        self.settings = ctx.settings
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=self.settings.queue_size)
        self.raw: RawSocket | None = None  # set once accepted, when uvicorn serves the connection
        self._out: list[bytes] = []  # frames pushed in this loop iteration, written by `_flush`
        self._loop = asyncio.get_running_loop()
        self.subs: dict[str, _Sub] = {}  # client channel name -> state
        self.by_topic: dict[str, _Sub] = {}
        self.account: int | None = None
        self.token_exp: float = 0.0
        self.claims: AccessClaims | None = None  # of the last `auth`'s token
        self._told_token_end: AccessClaims | None = None  # the token whose end a public-only connection heard
        self.ip = client_ip(socket)
        self._slots: list[Slot] = []  # held under the connection caps, released at the end
        self._expiry: asyncio.TimerHandle | None = None  # fires at `token_exp`
        # `subscribe` calls adding private channels, between their token check and the channels' arrival in
        # `subs` (they await the hub meanwhile): `_end_private` counts them as held already
        self._joining_private = 0
        self.closing = asyncio.Event()
        self.close_code = 1000
        self.close_reason = ""
        self._tokens = float(self.settings.frames_per_s * 2)  # the burst: a full bucket
        self._tokens_at = time.monotonic()
        self._send_started = 0.0
        self._coalesce_s = max(0, self.settings.coalesce_ms) / 1000
        # the op being served (frames are served one at a time): its name, start and task, for the watchdog's
        # report of one that takes too long (a client sees no answer meanwhile, not even to a ping)
        self._op: tuple[str, float, asyncio.Task[Any] | None] | None = None
        self._op_helpers: list[asyncio.Task[Any]] = []  # tasks the op waits for (its channels' starts)
        self._op_reported = False

    # --- outgoing ---------------------------------------------------------------------------------
    def deliver(self, topic: str, delivery: Delivery) -> None:
        """Hub callback (synchronous, never blocks)."""
        sub = self.by_topic.get(topic)
        if sub is None:
            return
        if sub.channel.kind is ChannelKind.BOOK:
            self._deliver_book(sub, delivery)
        elif sub.held is not None:
            if len(sub.held) < self.settings.queue_size:  # (subscribing takes milliseconds)
                sub.held.append(delivery)
        else:
            self._deliver_now(sub, delivery)

    def _deliver_now(self, sub: _Sub, delivery: Delivery) -> None:
        if not delivery.resync:
            self.push(delivery.text, delivery.frame)
        elif sub.channel.kind in PRIVATE_RESYNC:
            # notices of every private channel may have been lost while the pub/sub connection was down:
            # an empty one tells the client to reload (docs/api.md; the engine and PostgreSQL have it all)
            self.push(PRIVATE_RESYNC[sub.channel.kind])

    def _deliver_book(self, sub: _Sub, delivery: Delivery) -> None:
        if delivery.resync:
            self._resync(sub)
            return
        if sub.pending is not None:
            if len(sub.pending) >= self.settings.queue_size:
                sub.pending.clear()  # bounded: a gap after the snapshot triggers another resync
            sub.pending.append(delivery)
            return
        seq = delivery.seq or 0
        if seq <= sub.seq:
            return
        first = delivery.first_seq or seq
        if first > sub.seq + 1:  # a gap (should not happen on one connection): start over with a snapshot
            self._resync(sub)
            if sub.pending is not None:
                sub.pending.append(delivery)
            return
        self._push_update(sub, delivery)

    def _push_update(self, sub: _Sub, delivery: Delivery) -> None:
        """Send a book update that covers `sub.seq + 1`; one that starts earlier (it straddles this
        session's snapshot) is re-encoded to start at `sub.seq + 1`: its levels are absolute quantities,
        so the part the snapshot already holds changes nothing, and clients always see
        `first_seq == previous seq + 1`."""
        seq = delivery.seq or 0
        first = delivery.first_seq or seq
        text, frame = delivery.text, delivery.frame
        if first != sub.seq + 1 and isinstance(delivery.data, dict):
            text, frame = dumps({**delivery.data, "first_seq": sub.seq + 1}), b""
        sub.seq = seq
        self.push(text, frame)

    def push(self, text: str, frame: bytes = b"") -> None:
        """Send `text` (`frame`: the same text, already encoded as a WebSocket frame) after everything
        pushed before it."""
        if self.closing.is_set():
            return
        if self.raw is not None:
            if not self._out:
                self._loop.call_soon(self._flush)
            self._out.append(frame or text_frame(text.encode()))
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            WS_DROPPED.inc(1, "queue_full")
            self.close(CLOSE_POLICY, "slow consumer: send queue full")

    def send(self, obj: dict[str, Any]) -> None:
        self.push(dumps(obj))

    def error(
        self,
        code: str,
        message: str,
        req_id: Any = None,
        retry_after: int | None = None,
        channels: list[str] | None = None,
    ) -> None:
        """An error frame; `channels`: the subscriptions it ended (or never started), for the client to ask
        for again."""
        frame = _error_frame(code, message, req_id, retry_after)
        if channels is not None:
            frame["channels"] = channels
        self.send(frame)

    def close(self, code: int, reason: str) -> None:
        if not self.closing.is_set():
            self.close_code, self.close_reason = code, reason
            self.closing.set()

    def _flush(self) -> None:
        """Write the frames pushed since the last flush, in one write (raw path only)."""
        out, self._out = self._out, []
        raw = self.raw
        if not out or raw is None or not raw.open:
            return
        if raw.buffered() > self.settings.buffer_bytes:
            WS_DROPPED.inc(1, "buffer_full")
            self.close(CLOSE_POLICY, "slow consumer: send buffer full")
            return
        raw.write(out[0] if len(out) == 1 else b"".join(out))

    async def _writer(self) -> None:
        # No per-frame timeout here (it costs a timer per frame): the watchdog measures stalled sends.
        loop = asyncio.get_running_loop()
        while not self.closing.is_set():
            text = await self.queue.get()
            self._send_started = loop.time()
            await self.socket.send_text(text)
            self._send_started = 0.0

    async def _watchdog(self) -> None:
        """Heartbeat `{"op": "ping"}` every `ping_interval_s`; drop a send stalled > `send_timeout_s`; end
        private data whose token expired or was revoked, whatever path let it through."""
        loop = asyncio.get_running_loop()
        tick = min(1.0, self.settings.ping_interval_s, self.settings.send_timeout_s / 2)
        next_ping = loop.time() + self.settings.ping_interval_s
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            if self._send_started and now - self._send_started > self.settings.send_timeout_s:
                WS_DROPPED.inc(1, "send_stalled")
                self.close(CLOSE_POLICY, "slow consumer: send stalled")
                return
            if now >= next_ping:
                next_ping = now + self.settings.ping_interval_s
                self.send({"op": "ping", "ts": int(time.time() * 1000)})
            if self.account is not None and (time.time() >= self.token_exp or self._revoked()):
                self._token_ended()  # a backstop: the timer and the revocation listener end it first
            self._report_slow_op(now)

    def _report_slow_op(self, now: float) -> None:
        """Log, once per op, one that has been served for more than SLOW_OP_S, with where it waits."""
        if self._op is None or self._op_reported:
            return
        op, started, task = self._op
        if now - started < SLOW_OP_S:
            return
        self._op_reported = True
        SLOW_OPS.inc(1, op)
        waiting = [t for t in (task, *self._op_helpers) if t is not None and not t.done()]
        where = "\n".join("".join(traceback.format_list(_task_frames(t))) for t in waiting)
        log.warning("WebSocket op %s has waited %.1f s; it waits at:\n%s", op, now - started, where)

    # --- lifecycle --------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            ip_slot = await self._take_slot("ip", self.ip, self.settings.max_per_ip)
            await self.socket.accept()
            if ip_slot is None:
                await self._refuse(f"at most {self.settings.max_per_ip} connections per client address")
                return
            await self._serve()
        finally:
            slots, self._slots = self._slots, []
            if self.ctx.slots is not None:
                for slot in slots:
                    await self.ctx.slots.release(slot)

    async def _serve(self) -> None:
        self.raw = RawSocket.of(self.socket.scope)
        metrics.WS_CLIENTS.inc()
        tasks = [
            asyncio.create_task(self._reader(), name="ws-reader"),
            asyncio.create_task(self._watchdog(), name="ws-watchdog"),
            asyncio.create_task(self.closing.wait(), name="ws-closing"),
        ]
        if self.raw is None:
            tasks.append(asyncio.create_task(self._writer(), name="ws-writer"))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2.0)  # bounded: never hang on a task that ignores cancel
            await self._cleanup()
            metrics.WS_CLIENTS.dec()

    async def _take_slot(self, scope: str, ident: str, limit: int) -> Slot | None:
        """A slot under the `(scope, ident)` connection cap (kept until the connection ends), else None."""
        if self.ctx.slots is None:
            return UNCOUNTED
        slot = await self.ctx.slots.take(scope, ident, limit)
        if slot is not None:
            self._slots.append(slot)
        return slot

    async def _refuse(self, message: str) -> None:
        """Turn away an accepted connection over a connection cap: an error frame, then close 4029."""
        WS_DROPPED.inc(1, "too_many_connections")
        with contextlib.suppress(Exception):
            await self.socket.send_text(dumps(_error_frame(WsCode.TOO_MANY_CONNECTIONS, message)))
            await asyncio.wait_for(self.socket.close(CLOSE_TOO_MANY_CONNECTIONS, "too many connections"), 1.0)

    async def _cleanup(self) -> None:
        if self.account is not None:
            self.ctx.tokens.revocations.unlisten(self.account, self._on_revocation)
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for sub in self.subs.values():
            if sub.resync_task is not None:
                sub.resync_task.cancel()
        topics = list(self.by_topic)
        self.subs.clear()
        self.by_topic.clear()
        with contextlib.suppress(Exception):
            await self.ctx.hub.unsubscribe_all(topics, self)
        self._flush()  # what this iteration pushed goes out before the close frame
        if self.raw is None and self.close_code != CLOSE_POLICY:
            # the queue path: frames queued before a close of ours (its error frame) go out first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain_queue(), 1.0)
        if self.socket.connection_state != "disconnect":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.socket.close(self.close_code, self.close_reason), 1.0)

    async def _drain_queue(self) -> None:
        while not self.queue.empty() and self.socket.connection_state != "disconnect":
            await self.socket.send_text(self.queue.get_nowait())

    async def _reader(self) -> None:
        while True:
            try:
                message = await self.socket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None and message.get("bytes") is None:
                continue
            await self._frame(None if text is None else str(text))  # None: a binary frame

    # --- incoming ---------------------------------------------------------------------------------
    def _allow_frame(self) -> bool:
        now = time.monotonic()
        rate = float(self.settings.frames_per_s)
        self._tokens = min(rate * 2, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _parse(self, text: str | None) -> dict[str, Any] | tuple[str, str]:
        """The frame's message with a valid `req_id`, or the (code, message) of what is wrong with it."""
        if text is None:
            return WsCode.BAD_FRAME, "binary frames are not supported: send JSON text"
        limit = self.settings.max_frame_bytes
        # a character is 1..4 bytes in UTF-8: encode only a frame that could be over the limit
        if len(text) > limit or (len(text) > limit // 4 and len(text.encode()) > limit):
            return WsCode.FRAME_TOO_LARGE, f"frames are limited to {limit} bytes"
        try:
            msg = msgspec.json.decode(text)
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested too deeply to decode
            return WsCode.BAD_FRAME, "frame is not valid JSON"
        if not isinstance(msg, dict):
            return WsCode.BAD_FRAME, "frame must be a JSON object with an 'op'"
        req_id = msg.get("req_id")
        if req_id is not None and not (
            (isinstance(req_id, str) and len(req_id) <= REQ_ID_MAX)
            or (isinstance(req_id, int) and not isinstance(req_id, bool) and abs(req_id) < 2**53)
        ):
            return WsCode.BAD_FRAME, f"req_id must be a string (<= {REQ_ID_MAX} chars) or an integer"
        return msg

    async def _frame(self, text: str | None) -> None:
        allowed = self._allow_frame()  # every frame counts, a malformed one too
        msg = self._parse(text)
        req_id = msg.get("req_id") if isinstance(msg, dict) else None
        if not allowed:
            rate = self.settings.frames_per_s
            self.error(
                WsCode.RATE_LIMITED,
                f"too many frames: at most {rate} a second (bursts of up to {2 * rate}): try again in 1 s",
                req_id,
                retry_after=1,
            )
            return
        if not isinstance(msg, dict):
            self.error(*msg)
            return
        repeated = repeated_key(text or "", msg)
        if (
            repeated is not None
        ):  # as in a REST body: the last one would win, unseen by whoever read the first
            self.error(ErrorCode.VALIDATION_ERROR.value, repeated_key_message(repeated), req_id)
            return
        op = msg.get("op")
        handler = _OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            if "op" not in msg:
                self.error(WsCode.UNKNOWN_OP, "'op' missing: every frame names its op, e.g. ping", req_id)
            else:
                ops = ", ".join(_OPS)
                self.error(WsCode.UNKNOWN_OP, f"unknown op {json_text(op)}: the ops are {ops}", req_id)
            return
        self._op, self._op_reported = (str(op), self._loop.time(), asyncio.current_task()), False
        try:
            await handler(self, msg, req_id)
        except OpError as exc:
            self.error(exc.code, exc.message, req_id)
        except ApiError as exc:
            retry_after = exc.headers.get("Retry-After")
            self.error(exc.code, exc.message, req_id, int(retry_after) if retry_after else None)
        except Exception:
            log.exception("WebSocket op %s failed", op)
            self.error(ErrorCode.INTERNAL_ERROR.value, "internal error", req_id)
        finally:
            self._op, self._op_helpers = None, []

    def _ack(self, op: str, req_id: Any, **fields: Any) -> None:
        frame: dict[str, Any] = {"op": op}
        if req_id is not None:
            frame["req_id"] = req_id
        frame.update(fields)
        self.send(frame)

    # --- ops --------------------------------------------------------------------------------------
    async def op_ping(self, msg: dict[str, Any], req_id: Any) -> None:
        self._ack("pong", req_id)

    def _channels(self, msg: dict[str, Any]) -> list[Channel]:
        names = msg.get("channels")
        if not isinstance(names, list) or not names:
            raise OpError(WsCode.BAD_FRAME, "'channels' must be a non-empty list of channel names")
        if len(names) > self.settings.max_channels:
            raise OpError(WsCode.TOO_MANY_CHANNELS, f"at most {self.settings.max_channels} channels")
        out: list[Channel] = []
        try:
            for name in names:
                channel = parse_channel(name)
                if channel not in out:
                    out.append(channel)
        except ChannelError as exc:
            raise OpError(WsCode.INVALID_CHANNEL, str(exc)) from None
        return out

    async def op_subscribe(self, msg: dict[str, Any], req_id: Any) -> None:
        channels = self._channels(msg)
        new = [c for c in channels if c.name not in self.subs]
        if len(self.subs) + len(new) > self.settings.max_channels:
            raise OpError(
                WsCode.TOO_MANY_CHANNELS, f"at most {self.settings.max_channels} channels per connection"
            )
        joining_private = any(c.private for c in new)
        if joining_private:
            self._require_auth()  # a new private subscription needs a token that is still valid
            self._joining_private += 1
        try:
            await self._join(channels, new, req_id)
        finally:
            if joining_private:
                self._joining_private -= 1

    async def _join(self, channels: list[Channel], new: list[Channel], req_id: Any) -> None:
        """`subscribe` once its token is checked: join the `new` channels, answer, start their frames."""
        for channel in new:
            if channel.symbol and await self.ctx.markets.get(channel.symbol) is None:
                raise OpError(ErrorCode.UNKNOWN_MARKET.value, f"no market {channel.symbol!r}")
        await self._spend_snapshots(sum(c.kind in SNAPSHOT_KINDS for c in new))
        # every Redis subscription is live before the answer, so whatever is published once the client has
        # read `subscribed` reaches it; channel frames wait for the answer (book: its snapshot comes first)
        # side by side: a channel slow to start (a new candles topic reads its bar) holds up no other
        self._op_helpers = [asyncio.create_task(self._subscribe(channel)) for channel in new]
        results = await asyncio.gather(*self._op_helpers)
        started = [one for one in results if one is not None]
        failed = [channel for channel, one in zip(new, results, strict=True) if one is None]
        self._ack("subscribed", req_id, channels=[c.name for c in channels])
        for channel in failed:  # named, with the request's id: the client knows what to ask for again
            self.error(
                WsCode.UNAVAILABLE,
                f"cannot subscribe to {channel.name} right now",
                req_id,
                channels=[channel.name],
            )
        for sub, topic in started:
            await self._start(sub, topic)

    async def _spend_snapshots(self, n: int) -> None:
        """Count `n` snapshot subscriptions against the account's (before `auth`: the client address's)
        `snapshots` limit, shared by all its connections; over it: RATE_LIMITED, nothing subscribed."""
        limiter, rule = self.ctx.limiter, self.settings.snapshots
        if n <= 0 or limiter is None or rule.limit <= 0:
            return
        ident = f"account:{self.account}" if self.account is not None else f"ip:{self.ip}"
        for _ in range(n):
            await limiter.hit("ws_snapshots", ident, rule)

    async def _subscribe(self, channel: Channel) -> tuple[_Sub, Topic] | None:
        """Join the channel's topic (its Redis channel live on return), holding its frames; None: failed."""
        topic_name = channel.topic(self.account)
        sub = _Sub(channel, topic_name)
        if channel.kind is ChannelKind.BOOK:
            sub.pending = []
        else:
            sub.held = []
        self.subs[channel.name] = sub
        self.by_topic[topic_name] = sub
        try:
            topic = await self.ctx.hub.subscribe(topic_name, self, lambda: self._make_topic(channel))
        except Exception:
            log.exception("subscribe %s failed", channel.name)
            self.subs.pop(channel.name, None)
            self.by_topic.pop(topic_name, None)
            return None
        return sub, topic

    async def _start(self, sub: _Sub, topic: Topic) -> None:
        """After the answer: the book's snapshot, or the topic's initial frame; then the frames held. Held
        frames older than an initial frame (a channel's whole state: the current bar, every ticker) are
        in it already and are dropped; ones that arrived while it was read follow it."""
        if sub.channel.kind is ChannelKind.BOOK:
            await self._snapshot(sub, topic)
            return
        mark = len(sub.held or ())
        first = None
        try:
            first = await topic.initial()
        finally:
            held, sub.held = sub.held or [], None
            if self.subs.get(sub.channel.name) is sub:
                if first is not None:
                    self.push(first.text)
                    held = held[mark:]
                for delivery in held:
                    self._deliver_now(sub, delivery)

    async def _make_topic(self, channel: Channel) -> Topic:
        ctx = self.ctx
        match channel.kind:
            case ChannelKind.BOOK:
                return BookTopic(channel, ctx.markets, max(0, self.settings.book_coalesce_ms) / 1000)
            case ChannelKind.TRADES:
                return TradesTopic(channel, ctx.markets, self._coalesce_s)
            case ChannelKind.CANDLES:
                return CandlesTopic(channel, ctx.markets, ctx.data, self._coalesce_s)
            case ChannelKind.TICKERS:
                return TickersTopic(ctx.data, ctx.settings.tickers_interval_s)
            case ChannelKind.ORDERS:
                assert self.account is not None
                return OrdersTopic(self.account, ctx.markets)
            case ChannelKind.BALANCES:
                assert self.account is not None
                return BalancesTopic(self.account, ctx.markets)
            case ChannelKind.HISTORY:
                assert self.account is not None
                return HistoryTopic(self.account)
        raise OpError(WsCode.INVALID_CHANNEL, channel.name)  # pragma: no cover

    async def _snapshot(self, sub: _Sub, topic: Topic) -> None:
        """Snapshot (taken after the Redis subscription is live), then the buffered updates after it."""
        assert isinstance(topic, BookTopic)
        for attempt in range(3):
            try:
                seq, text = await topic.snapshot(self.ctx.engine, self.settings.snapshot_depth)
                break
            except Exception:
                log.warning(
                    "book snapshot of %s failed (attempt %d)", sub.channel.name, attempt + 1, exc_info=True
                )
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            message = f"cannot read the book of {sub.channel.symbol}; re-subscribe"
            self.error(WsCode.UNAVAILABLE, message, channels=[sub.channel.name])  # named: to ask again
            if self.subs.get(sub.channel.name) is sub:  # drop the half-open subscription
                del self.subs[sub.channel.name]
                self.by_topic.pop(sub.topic, None)
                await self.ctx.hub.unsubscribe(sub.topic, self)
            return
        if self.subs.get(sub.channel.name) is not sub:
            return  # unsubscribed meanwhile
        pending, sub.pending = sub.pending or [], None
        sub.seq = seq
        self.push(text)
        for delivery in pending:  # ones covering the next seq only: a gap waits for the next live update
            if delivery.seq is None or delivery.seq <= sub.seq:
                continue
            if (delivery.first_seq or delivery.seq) <= sub.seq + 1:
                self._push_update(sub, delivery)

    def _resync(self, sub: _Sub) -> None:
        if sub.pending is not None and sub.resync_task is not None and not sub.resync_task.done():
            return  # already re-snapshotting
        sub.pending = []
        topic = self.ctx.hub.topic(sub.topic)
        if topic is None:
            return
        sub.resync_task = asyncio.create_task(self._snapshot(sub, topic))

    async def op_unsubscribe(self, msg: dict[str, Any], req_id: Any) -> None:
        channels = self._channels(msg)
        for channel in channels:
            sub = self.subs.pop(channel.name, None)
            if sub is None:
                continue
            self.by_topic.pop(sub.topic, None)
            if sub.resync_task is not None:
                sub.resync_task.cancel()
            await self.ctx.hub.unsubscribe(sub.topic, self)
        self._ack("unsubscribed", req_id, channels=[c.name for c in channels])

    async def op_auth(self, msg: dict[str, Any], req_id: Any) -> None:
        token = msg.get("token")
        if not isinstance(token, str) or not token:
            raise OpError(WsCode.BAD_FRAME, "'token' must be the access token string")
        claims = self.ctx.tokens.decode_access_claims(token)  # ApiError(INVALID_TOKEN) on any problem
        account, exp = claims.account_id, float(claims.exp)
        if self.account is not None and account != self.account:
            raise OpError(WsCode.ALREADY_AUTHENTICATED, "this connection is bound to another account")
        if self.account is None:
            limit = self.settings.max_per_account
            if await self._take_slot("account", str(account), limit) is None:
                WS_DROPPED.inc(1, "too_many_connections")
                self.error(WsCode.TOO_MANY_CONNECTIONS, f"at most {limit} connections per account", req_id)
                self.close(CLOSE_TOO_MANY_CONNECTIONS, "too many connections")
                return
            self.ctx.tokens.revocations.listen(account, self._on_revocation)
        self.account = account
        self.claims = claims
        self.token_exp = exp
        self._arm_expiry()
        self._ack("authenticated", req_id, account_id=account, expires_at=int(exp * 1000))

    def _arm_expiry(self) -> None:
        """(Re)start the timer that fires when the current token expires."""
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = self._loop.call_later(max(0.0, self.token_exp - time.time()), self._on_token_expiry)

    def _on_token_expiry(self) -> None:
        """The token's `exp` passed without a fresh `auth`: private data stops here. A connection holding
        private subscriptions gets TOKEN_EXPIRED and is closed (4001): a client reconnects, authenticates
        and subscribes again (the terminal does all three on any close); one without keeps its public
        channels (trading ops answer INVALID_TOKEN until a fresh `auth`)."""
        self._expiry = None
        left = self.token_exp - time.time()
        if left > 0:  # the timer ran early (clock steps)
            self._expiry = self._loop.call_later(left, self._on_token_expiry)
            return
        self._token_ended()

    def _on_revocation(self) -> None:
        """A revocation of this account arrived: if it names the current token, private data stops here
        (as at expiry: TOKEN_REVOKED, and close 4001 when private subscriptions are held)."""
        if not self._revoked():
            return
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.token_exp = 0.0
        self._token_ended()

    def _revoked(self) -> bool:
        return self.claims is not None and self.ctx.tokens.revocations.revoked(self.claims)

    def _token_ended(self) -> None:
        """The current token expired or was revoked: end private data (`_end_private`)."""
        if self._revoked():
            self._end_private(WsCode.TOKEN_REVOKED, "the access token was revoked (logged out): log in again")
        else:
            self._end_private(
                WsCode.TOKEN_EXPIRED,
                'the access token expired: reconnect and authenticate; send a fresh {"op": "auth"} before '
                "`expires_at` to keep a connection",
            )

    def _end_private(self, code: str, message: str) -> None:
        """Private data stops: TOKEN_EXPIRED / TOKEN_REVOKED and close 4001, if the connection holds private
        channels or is joining some (a subscribe awaiting the hub); else the error frame alone, so a client
        knows its trading ops need a fresh `auth`, and its public channels stay."""
        if self.closing.is_set():
            return
        if not self._joining_private and not any(sub.channel.private for sub in self.subs.values()):
            if self._told_token_end is not self.claims:  # once per token: the backstop checks every second
                self._told_token_end = self.claims
                self.error(code, f"{message} (public channels stay)")
            return
        WS_DROPPED.inc(1, code.lower())
        self.error(code, message)
        self.close(CLOSE_TOKEN_EXPIRED, code.lower().replace("_", " "))

    def _require_auth(self) -> int:
        if self.account is None:
            raise OpError(WsCode.AUTH_REQUIRED, 'authenticate first: {"op": "auth", "token": ...}')
        if self._revoked():
            raise ApiError(ErrorCode.INVALID_TOKEN, 'token revoked (logged out): send a fresh {"op": "auth"}')
        if time.time() >= self.token_exp:
            raise ApiError(ErrorCode.INVALID_TOKEN, 'token expired: send a fresh {"op": "auth"}')
        return self.account

    async def _rate_limit(self, account: int) -> None:
        limiter = self.ctx.limiter
        rules = getattr(self.ctx.api_settings, "rate_limits", None)
        if limiter is not None and rules is not None:
            await limiter.hit("orders", str(account), rules.orders)

    async def op_place(self, msg: dict[str, Any], req_id: Any) -> None:
        account = self._require_auth()
        body = parse_order_create({k: v for k, v in msg.items() if k not in ("op", "req_id")})
        await self._rate_limit(account)
        pool = getattr(self.ctx.data, "pool", None)
        order = await place_order(
            self.ctx.engine, self.ctx.markets, account, body, ts_ms=self.ctx.clock(), pool=pool
        )
        self._ack("result", req_id, data=order)

    async def op_cancel(self, msg: dict[str, Any], req_id: Any) -> None:
        """Cancel by `order_id`, or by `client_order_id` (as `DELETE /api/orders/by-client-id/...`)."""
        account = self._require_auth()
        target = _cancel_target(msg)
        await self._rate_limit(account)
        if isinstance(target, str):
            target = await order_id_by_client_id(self.ctx.engine, account, target)
        order = await cancel_order(self.ctx.engine, self.ctx.markets, account, target, ts_ms=self.ctx.clock())
        self._ack("result", req_id, data=order)


def _cancel_target(msg: dict[str, Any]) -> int | str:
    """The order a `cancel` frame names: its `order_id` (an integer, strictly: not `"7"` nor `7.0`, as
    everywhere in frames and bodies), or its `client_order_id`."""
    extra = sorted(set(msg) - {"op", "req_id", "order_id", "client_order_id"})
    if extra:
        fields = "order_id or client_order_id (and op, req_id)"
        raise ApiError(ErrorCode.VALIDATION_ERROR, f"{extra[0]}: unknown field; the fields are {fields}")
    if "client_order_id" in msg and "order_id" in msg:
        raise ApiError(ErrorCode.VALIDATION_ERROR, "give order_id or client_order_id, not both")
    if "client_order_id" in msg:
        coid = msg["client_order_id"]
        if not isinstance(coid, str) or not _CLIENT_ORDER_ID.match(coid):
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"client_order_id: Expected 1 to 36 letters, digits, '_' or '-'; got {json_text(coid)}",
            )
        return coid
    if "order_id" not in msg:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, "order_id: required field missing (or give client_order_id)"
        )
    order_id = msg["order_id"]
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not 1 <= order_id < 2**53:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"order_id: Expected an integer from 1 to 2^53 - 1; got {json_text(order_id)}",
        )
    return order_id


def _task_frames(task: asyncio.Task[Any]) -> traceback.StackSummary:
    """Where `task` waits: the frames of its coroutine chain, outermost first."""
    frames = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            frames.append((frame, frame.f_lineno))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return traceback.StackSummary.extract(frames)


def _error_frame(
    code: str, message: str, req_id: Any = None, retry_after: int | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"op": "error"}
    if req_id is not None:
        frame["req_id"] = req_id
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = retry_after
    frame["error"] = error
    return frame


_OPS: dict[str, Any] = {
    "ping": Session.op_ping,
    "subscribe": Session.op_subscribe,
    "unsubscribe": Session.op_unsubscribe,
    "auth": Session.op_auth,
    "place": Session.op_place,
    "cancel": Session.op_cancel,
}
