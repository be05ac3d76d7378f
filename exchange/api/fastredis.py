"""An auto-pipelining Redis connection for the hot path (engine FCALLs, rate-limit leases).

redis-py's asyncio client costs ~130-160 us of Python CPU per command on this machine (pool checkout,
observability hooks, retry wrapper, one send and one read per command). `PipelinedRedis` keeps ONE
connection per process and writes every command issued during one event-loop iteration in a single
`write`; replies are parsed by hiredis and resolve the waiting futures in order (Redis answers in order on
one connection). Cost: ~12-30 us per command, and fewer syscalls in Redis too (one read serves a batch).

    fast = PipelinedRedis.from_url("redis://127.0.0.1:6380/0")
    reply = await fast.execute("FCALL", "place", 2, key1, key2, *args)   # decoded like decode_responses=True
    await fast.aclose()

Errors: an error reply raises `redis.exceptions.ResponseError` with the reply text (same as redis-py, so
`exchange.engine.errors.from_reply` works unchanged), except the replies of a Redis that cannot serve yet
(`LOADING` its data after a restart: `BusyLoadingError`; `BUSY`, `MASTERDOWN`, `TRYAGAIN`:
`ConnectionError`), as redis-py raises them; a lost or refused connection raises
`redis.exceptions.ConnectionError` for every command in flight (the API answers 503) and the next command
reconnects. A Redis that stops answering (stalled, partitioned without a reset) fails every command in
flight with `redis.exceptions.TimeoutError` once the oldest has waited `COMMAND_TIMEOUT_S`, and the
connection is dropped (its replies could no longer be matched to commands). Commands are never retried: a
write may or may not have run when its connection dropped or timed out.

`EngineRedis` hands the engine wrapper (`exchange.engine.client.AsyncEngine`) this connection for `fcall`/
`fcall_ro` and the ordinary redis-py client for everything else (reads, pipelines, FUNCTION LOAD).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 5.0  # the longest a command waits for its reply (the API's redis-py socket timeout too)
# error replies of a Redis that cannot serve now (not of the command): raised as redis-py raises them
_NOT_SERVING = {"LOADING": BusyLoadingError, "BUSY": RedisConnectionError, "MASTERDOWN": RedisConnectionError,
                "TRYAGAIN": RedisConnectionError}  # fmt: skip


def _error(reply: ResponseError) -> Exception:
    """The exception of an error reply: `_NOT_SERVING`'s for its first word, else the ResponseError."""
    text = str(reply)
    kind = _NOT_SERVING.get(text.split(" ", 1)[0])
    return kind(text) if kind is not None else reply


def _encode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int | float):
        return repr(value).encode()
    raise TypeError(f"cannot send {type(value).__name__} to Redis")


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in RESP2 (an array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for arg in args:
        kind = type(arg)
        if kind is str:
            data = arg.encode()
        elif kind is int:
            data = b"%d" % arg
        else:
            data = _encode(arg)
        append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: PipelinedRedis) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ResponseError, encoding="utf-8")
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.sent_at: collections.deque[float] = collections.deque()  # loop time of each waiting command
        self.buffer: list[bytes] = []  # commands of this loop iteration, written by `flush`
        self.flush_scheduled = False
        self.closed = False
        self.watchdog: asyncio.TimerHandle | None = None

    def send(self, data: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self.closed:
            fut.set_exception(RedisConnectionError("Redis connection lost"))
            return fut
        self.waiting.append(fut)
        self.sent_at.append(loop.time())
        self.buffer.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop.call_soon(self.flush)
        if self.watchdog is None:
            self.watchdog = loop.call_later(COMMAND_TIMEOUT_S, self._check_deadline)
        return fut

    def _check_deadline(self) -> None:
        """Fail everything in flight when the oldest command has waited COMMAND_TIMEOUT_S; else look again
        when it would have."""
        self.watchdog = None
        if self.closed or not self.sent_at:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self.sent_at[0]
        if waited < COMMAND_TIMEOUT_S:
            self.watchdog = loop.call_later(COMMAND_TIMEOUT_S - waited, self._check_deadline)
            return
        self._fail(RedisTimeoutError(f"Redis did not answer within {COMMAND_TIMEOUT_S:g} s"))
        if self.transport is not None:
            self.transport.abort()

    def flush(self) -> None:
        self.flush_scheduled = False
        data = b"".join(self.buffer)
        self.buffer.clear()
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:  # a corrupt stream: nothing after this can be trusted
                self._fail(RedisConnectionError(f"Redis protocol error: {exc}"))
                if self.transport is not None:
                    self.transport.close()
                return
            if reply is False:
                return
            if not waiting:  # an unsolicited reply (never on a plain connection): drop the connection
                self._fail(RedisConnectionError("unexpected reply from Redis"))
                if self.transport is not None:
                    self.transport.close()
                return
            fut = waiting.popleft()
            self.sent_at.popleft()
            if fut.done():  # the caller was cancelled; the reply is consumed anyway
                continue
            if isinstance(reply, ResponseError):
                fut.set_exception(_error(reply))
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        self.owner._lost(self)
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        self.sent_at.clear()
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(exc)


_P = TypeVar("_P", bound=asyncio.BaseProtocol)


@dataclass(frozen=True, slots=True)
class Address:
    """Where a Redis listens and how to log in to it: the parts of a redis:// or unix:// URL that our own
    connections (this module's, and the WebSocket hub's `exchange.api.pubsub`) use."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a Unix socket, instead of host and port
    password: str | None = None
    username: str | None = None
    db: int = 0

    @classmethod
    def from_url(cls, url: str) -> Address:
        kw = parse_url(url)
        return cls(
            host=str(kw.get("host", "127.0.0.1")),
            port=int(kw.get("port", 6379)),
            path=kw.get("path"),
            password=kw.get("password"),
            username=kw.get("username"),
            db=int(kw.get("db", 0) or 0),
        )

    def auth(self) -> tuple[Any, ...] | None:
        """The AUTH command to send first, None without a password."""
        if self.password is None:
            return None
        return ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)

    async def connect(self, protocol: Callable[[], _P]) -> _P:
        """A new connection served by `protocol()`; OSError, or TimeoutError after CONNECT_TIMEOUT_S."""
        loop = asyncio.get_running_loop()
        if self.path:
            conn = loop.create_unix_connection(protocol, self.path)
        else:
            conn = loop.create_connection(protocol, self.host, self.port)
        _, proto = await asyncio.wait_for(conn, CONNECT_TIMEOUT_S)
        return proto


class PipelinedRedis:
    """One auto-pipelined connection (see the module docstring)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        username: str | None = None,
        path: str | None = None,
    ) -> None:
        self._address = Address(host, port, path, password, username, db)
        self._setup: list[tuple[Any, ...]] = []
        auth = self._address.auth()
        if auth is not None:
            self._setup.append(auth)
        if db:
            self._setup.append(("SELECT", db))
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    @classmethod
    def from_url(cls, url: str) -> PipelinedRedis:
        a = Address.from_url(url)
        return cls(host=a.host, port=a.port, db=a.db, password=a.password, username=a.username, path=a.path)

    async def _connect(self) -> _Protocol:
        try:
            proto = await self._address.connect(lambda: _Protocol(self))
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from None
        for command in self._setup:
            await proto.send(pack(command))
        return proto

    def _lost(self, proto: _Protocol) -> None:
        if self._proto is proto:
            self._proto = None

    async def _ready(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            proto = await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None
        if not proto.closed:
            self._proto = proto
        return proto

    def execute(self, *args: Any) -> Awaitable[Any]:
        """Queue one command (written with the others of this loop iteration); await it for the reply."""
        proto = self._proto
        if proto is None or proto.closed:
            return self._execute_connecting(args)
        return proto.send(pack(args))

    async def _execute_connecting(self, args: tuple[Any, ...]) -> Any:
        proto = await self._ready()
        return await proto.send(pack(args))

    async def aclose(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.close()


class EngineRedis:
    """What `AsyncEngine` gets as its client: FCALLs go through `PipelinedRedis`, the rest to redis-py."""

    def __init__(self, client: Any, fast: PipelinedRedis) -> None:
        self.client = client
        self.fast = fast

    def fcall(self, function: str, numkeys: int, *keys_and_args: Any) -> Awaitable[Any]:
        return self.fast.execute("FCALL", function, numkeys, *keys_and_args)

    def fcall_ro(self, function: str, numkeys: int, *keys_and_args: Any) -> Awaitable[Any]:
        return self.fast.execute("FCALL_RO", function, numkeys, *keys_and_args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
