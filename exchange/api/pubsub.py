"""One Redis connection in subscriber mode, owned by one task (the WebSocket hub's, `exchange.api.hub`).

redis-py's asyncio `PubSub` lets any task send SUBSCRIBE while another blocks reading, and a command that
meets a dropped connection reconnects it from the caller's task, reading the handshake's replies while the
reader reads too: one of the two then fails with "read() called while another coroutine is already waiting
for incoming data" (seen by killing the connection under subscribe churn), a RuntimeError that neither
side expects. Here nothing awaits on the sending side and only one task ever reads or connects:

- `subscribe` / `unsubscribe` are synchronous: they update the wanted set and write the command if the
  connection is up (a write never waits; Redis answers in order);
- `run` (one task) connects, sends SUBSCRIBE for every wanted channel, hands each reply to the callback in
  order, and on a lost connection waits (backoff 0.1 s doubling to 5 s) and does it again;
- a connection that sends nothing for `idle_s` is sent a PING (in subscriber mode Redis answers
  `["pong", ""]`); one still silent after another `idle_s` is dropped and replaced, so a dead peer that
  never resets the connection cannot stall the live data either;
- the protocol stops reading (TCP backpressure, so Redis buffers) while more than `MAX_INBOX` messages
  wait for the callback, and reads again below half of it.

The callback gets `(kind, channel, data)` as bytes (`kind`: b"subscribe", b"unsubscribe", b"message";
`data`: the payload, or the subscription count for the confirmations). A (re)connection confirms every
channel again: the hub tells stateful topics to resync on a second confirmation.

    conn = PubSubConnection.from_url("redis://127.0.0.1:6379/0", on_message)
    conn.subscribe("book:BTC-USDT")
    task = asyncio.create_task(conn.run())
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import hiredis
from redis.exceptions import ResponseError

from exchange.api.fastredis import Address, pack

log = logging.getLogger(__name__)

MAX_INBOX = 10_000  # messages read but not yet handled before reading pauses
IDLE_S = 15.0  # a connection silent this long is pinged; silent another IDLE_S, it is dropped
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 5.0

Handler = Callable[[bytes, bytes, Any], Awaitable[None]]


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: PubSubConnection) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.paused = False
        self.lost = asyncio.get_running_loop().create_future()  # set when the connection ends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        owner.heard = True
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(f"protocol error: {exc}")
                return
            if reply is False:
                break
            owner.inbox.append(reply)
        owner.wake.set()
        if len(owner.inbox) > MAX_INBOX and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def abort(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(str(exc) if exc else "closed by the server")
        self.owner.wake.set()


class PubSubConnection:
    """See the module docstring."""

    def __init__(
        self,
        on_message: Handler,
        host: str = "127.0.0.1",
        port: int = 6379,
        password: str | None = None,
        username: str | None = None,
        path: str | None = None,
        idle_s: float = IDLE_S,
    ) -> None:
        self._on_message = on_message
        self._address = Address(host, port, path, password, username)  # pub/sub has no database number
        self._idle_s = idle_s
        self.channels: set[str] = set()  # wanted: subscribed on every (re)connection
        self.inbox: collections.deque[Any] = collections.deque()
        self.wake = asyncio.Event()
        self.heard = False  # anything read since the last idle check
        self.connections = 0  # made so far (the first, then each reconnection)
        self._closed = False
        self._proto: _Protocol | None = None

    @classmethod
    def from_url(cls, url: str, on_message: Handler, idle_s: float = IDLE_S) -> PubSubConnection:
        a = Address.from_url(url)
        return cls(on_message, a.host, a.port, a.password, a.username, a.path, idle_s)

    @property
    def connected(self) -> bool:
        return self._proto is not None and not self._proto.lost.done()

    def subscribe(self, channel: str) -> None:
        """Want `channel`; SUBSCRIBE now if connected, else at the next connection (confirmed either way)."""
        self.channels.add(channel)
        if self._proto is not None:
            self._proto.write(pack(("SUBSCRIBE", channel)))

    def unsubscribe(self, channel: str) -> None:
        self.channels.discard(channel)
        if self._proto is not None:
            self._proto.write(pack(("UNSUBSCRIBE", channel)))

    def drop(self, why: str) -> None:
        """Give up the current connection (`run` makes a new one)."""
        if self._proto is not None:
            self._proto.abort(why)

    def close(self) -> None:
        """Give up the connection for good: `run` returns (a cancel of its task is not needed, and on
        Python 3.11 a cancel that meets a wait ending at the same moment can be lost)."""
        self._closed = True
        self.drop("closed")
        self.wake.set()

    async def run(self) -> None:
        """Connect, serve, reconnect, until `close` (or a cancel)."""
        backoff = BACKOFF_MIN_S
        while not self._closed:
            try:
                proto = await self._connect()
            except (OSError, TimeoutError) as exc:
                log.warning("pub/sub: cannot connect to Redis (%s); trying again in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            started = asyncio.get_running_loop().time()
            try:
                why = await self._serve(proto)
            finally:
                self._proto = None
                proto.abort("connection given up")
            if self._closed:
                return
            # a connection that served a while starts the backoff over; one refused at once (AUTH) does not
            if asyncio.get_running_loop().time() - started > BACKOFF_MAX_S:
                backoff = BACKOFF_MIN_S
            log.warning("pub/sub connection lost (%s); reconnecting in %.1f s", why, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _connect(self) -> _Protocol:
        proto = await self._address.connect(lambda: _Protocol(self))
        self.inbox.clear()
        self._proto = proto
        self.connections += 1
        auth = self._address.auth()
        commands = [pack(auth)] if auth is not None else []
        commands += [pack(("SUBSCRIBE", channel)) for channel in sorted(self.channels)]
        if commands:
            proto.write(b"".join(commands))
        return proto

    async def _serve(self, proto: _Protocol) -> str:
        """Hand every reply to the callback until the connection ends; why it ended."""
        pinged = False
        while True:
            while self.inbox:
                reply = self.inbox.popleft()
                if len(self.inbox) < MAX_INBOX // 2:
                    proto.resume()
                if isinstance(reply, ResponseError):  # AUTH refused, or a command Redis did not take
                    return f"Redis answered {reply}"
                if isinstance(reply, list) and len(reply) == 3:
                    try:
                        await self._on_message(reply[0], reply[1], reply[2])
                    except Exception:
                        log.exception("pub/sub message handling failed")
                # else: AUTH's OK, a PING's pong
            if proto.lost.done() or self._closed:
                return str(proto.lost.result()) if proto.lost.done() else "closed"
            self.wake.clear()
            self.heard = False
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel of this task
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_s):
                    await self.wake.wait()
            if self.heard or self.inbox or proto.lost.done():
                pinged = False
                continue
            if pinged:
                return f"silent for {2 * self._idle_s:g} s"
            pinged = True
            proto.write(pack(("PING",)))
