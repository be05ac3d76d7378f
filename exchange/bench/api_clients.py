"""Lean load-generator clients for `exchange bench api`: raw HTTP/1.1 keep-alive and raw WebSocket over
`asyncio.Protocol` (no streams, no task per request, no JSON parsing of frames nobody measures).

The load generator shares the machine's 2 cores with the system under test, so every microsecond it spends
is taken from the server: httpx or asyncio streams cost ~300 us per request here; these cost a fraction.

- `OpenLoop(rate, duration)`: the schedule `t0 + i / rate` (time.perf_counter, not the event loop clock:
  uvloop's clock has 1 ms resolution). Latency is measured from the scheduled time (no coordinated omission).
- `HttpLoad(host, port)`: a pool of keep-alive connections, one request in flight per connection, more
  opened on demand; `fire(request_bytes, scheduled, ok_status)` sends at once, the answer records
  `now - scheduled` in `latencies` (or an error) without waking any coroutine.
- `WsConn`: a raw client WebSocket (masked text frames out; unmasked frames in, pings answered) calling
  `on_text(bytes)` for every text frame.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import Any

MAX_CONNECTIONS = 1000


class Stats:
    """What one open-loop phase observed (merged across client processes by the driver)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []  # ms
        self.errors = 0
        self.sent = 0
        self.statuses: dict[int, int] = {}

    def ok(self, scheduled: float) -> None:
        self.latencies.append((time.perf_counter() - scheduled) * 1000.0)

    def as_dict(self, in_flight: int = 0) -> dict[str, Any]:
        return {
            "lat": self.latencies,
            "errors": self.errors + in_flight,
            "sent": self.sent,
            "statuses": self.statuses,
        }


async def open_loop(rate: float, duration: float, fire: Callable[[int, float], None]) -> int:
    """Call `fire(i, scheduled)` at `t0 + i / rate` (perf_counter seconds) for `duration` seconds, however
    late earlier answers are; returns how many were fired."""
    total = max(1, int(rate * duration))
    t0 = time.perf_counter() + 0.05
    i = 0
    while i < total:
        now = time.perf_counter()
        due = min(total, int((now - t0) * rate) + 1)
        while i < due:
            fire(i, t0 + i / rate)
            i += 1
        # at least 1 ms: uvloop's timers have 1 ms resolution and a shorter sleep returns at once (a busy
        # loop that steals CPU from the server); requests due meanwhile go out together, late by < 1 ms
        await asyncio.sleep(max(0.001, t0 + i / rate - time.perf_counter()))
    return total


# ------------------------------------------------------------------------------------------------ HTTP


class _HttpConn(asyncio.Protocol):
    def __init__(self, load: HttpLoad) -> None:
        self.load = load
        self.transport: Any = None
        self.buf = bytearray()
        self.need = -1  # bytes of the current response (head + body) once the head is parsed
        self.status = 0
        self.scheduled = 0.0
        self.ok_status = 200
        self.busy = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, data: bytes, scheduled: float, ok_status: int) -> None:
        self.busy = True
        self.scheduled, self.ok_status = scheduled, ok_status
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                self.status = int(head[9:12])
                i = head.find(b"content-length:")
                length = 0
                if i >= 0:
                    j = head.find(b"\r\n", i)
                    length = int(head[i + 15 : j if j > 0 else len(head)])
                self.need = end + 4 + length
            if len(buf) < self.need:
                return
            del buf[: self.need]
            self.need = -1
            self.busy = False
            self.load.answered(self, self.status, self.scheduled, self.ok_status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class HttpLoad:
    """Keep-alive HTTP/1.1 connections to one server; see the module docstring."""

    def __init__(self, host: str, port: int, stats: Stats | None = None) -> None:
        self.host, self.port = host, port
        self.stats = stats or Stats()
        self.idle: list[_HttpConn] = []
        self.conns: set[_HttpConn] = set()
        self.in_flight = 0
        self._opening: set[asyncio.Task[None]] = set()

    async def open(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(n):
            _, conn = await loop.create_connection(lambda: _HttpConn(self), self.host, self.port)
            self.conns.add(conn)
            self.idle.append(conn)

    def fire(self, data: bytes, scheduled: float, ok_status: int) -> None:
        self.stats.sent += 1
        self.in_flight += 1
        if self.idle:
            self.idle.pop().send(data, scheduled, ok_status)
            return
        if len(self.conns) + len(self._opening) >= MAX_CONNECTIONS:
            self.in_flight -= 1
            self.stats.errors += 1
            return
        task = asyncio.ensure_future(self._open_and_send(data, scheduled, ok_status))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open_and_send(self, data: bytes, scheduled: float, ok_status: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _HttpConn(self), self.host, self.port)
        except OSError:
            self.in_flight -= 1
            self.stats.errors += 1
            return
        self.conns.add(conn)
        conn.send(data, scheduled, ok_status)

    def answered(self, conn: _HttpConn, status: int, scheduled: float, ok_status: int) -> None:
        self.in_flight -= 1
        stats = self.stats
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status == ok_status:
            stats.ok(scheduled)
        else:
            stats.errors += 1
        self.idle.append(conn)

    def lost(self, conn: _HttpConn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.busy:
            conn.busy = False
            self.in_flight -= 1
            self.stats.errors += 1

    async def drain(self, timeout: float) -> None:
        """Wait until every request is answered (or `timeout`); what is left counts as errors."""
        deadline = time.perf_counter() + timeout
        while (self.in_flight > 0 or self._opening) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()


def http_request(method: str, hostport: str, path: str, token: str | None = None, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {hostport}\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


# ------------------------------------------------------------------------------------------- WebSocket


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client -> server frame (clients must mask)."""
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if n:
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        payload = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return header + mask + payload


class WsConn(asyncio.Protocol):
    """A raw client WebSocket; `await WsConn.connect(host, port, on_text)`."""

    def __init__(self, on_text: Callable[[bytes], None], host: str) -> None:
        self.on_text = on_text
        self.host = host
        self.transport: Any = None
        self.buf = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.bytes_in = 0

    @classmethod
    async def connect(
        cls, host: str, port: int, on_text: Callable[[bytes], None], path: str = "/ws"
    ) -> WsConn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: cls(on_text, f"{host}:{port}"), host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        conn.transport.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await asyncio.wait_for(asyncio.shield(conn.upgraded), 30)
        return conn

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send_text(self, text: str | bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(text.encode() if isinstance(text, str) else text))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked_frame(b"\x03\xe8", 0x8))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        buf = self.buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(bytes(buf[:60])))
                self.transport.close()
                return
            del buf[: end + 4]
            self.upgraded.set_result(None)
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            start = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, start = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + n:
                return
            payload = bytes(buf[start : start + n])
            del buf[: start + n]
            if opcode == 0x1 or opcode == 0x0:
                self.on_text(payload)
            elif opcode == 0x9:  # protocol ping: answer, or the server drops us
                self.transport.write(masked_frame(payload, 0xA))
            elif opcode == 0x8:
                self.transport.close()
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)
