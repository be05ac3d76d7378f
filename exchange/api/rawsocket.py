"""Direct frame writes for WebSockets served by uvicorn's websockets-sansio protocol (its default).

The ASGI path costs, per frame and per client: a queue hop to the session's writer task, Litestar's send
wrappers, uvicorn's `send` and the websockets library's frame serializer, then one socket write. With 500
clients each receiving a frame per channel per coalescing window, that path took ~43% of an API process's
samples, three quarters of it the per-frame socket write (py-spy during `exchange bench api`'s fan-out),
and the event loop fell behind: fan-out p99 was 0.4-2.3 s, and 61-85 ms with this module (one write per
client per loop iteration, no per-frame Python).

A server -> client text frame is the same bytes for every client (servers do not mask; we never compress,
which RFC 7692 allows even where permessage-deflate was negotiated: the uncompressed message leaves both
compression contexts untouched). So a `Delivery` encodes its frame once, and a session writes it straight
to the connection's transport, coalescing what it writes in one event-loop iteration into one write.

The raw send is taken from the ASGI scope, where `ExchangeApp.__call__` (exchange.api.app) records it
before Litestar wraps it. Anything other than uvicorn's sansio protocol (Litestar's test client, another
server) gets no `RawSocket` and keeps the ASGI path.
"""

from __future__ import annotations

from typing import Any

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] is a dependency
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

RAW_SEND_KEY = "exchange.raw_send"  # ASGI scope key: the server's own `send` callable


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 5.2) carrying `payload` (UTF-8)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class RawSocket:
    """The transport under one accepted uvicorn WebSocket, for writing ready-made frames."""

    __slots__ = ("_proto", "_transport")

    def __init__(self, proto: Any) -> None:
        self._proto = proto
        self._transport = proto.transport

    @classmethod
    def of(cls, scope: Any) -> RawSocket | None:
        """The raw socket of this connection, or None when it is not served by uvicorn's sansio protocol."""
        send = scope.get(RAW_SEND_KEY) if isinstance(scope, dict) else None
        proto = getattr(send, "__self__", None)
        if WebSocketsSansIOProtocol is None or not isinstance(proto, WebSocketsSansIOProtocol):
            return None
        if getattr(proto, "transport", None) is None or not getattr(proto, "handshake_complete", False):
            return None
        if not all(hasattr(proto, name) for name in ("close_sent", "disconnected")):
            return None  # a uvicorn whose protocol changed shape: keep the ASGI path
        return cls(proto)

    @property
    def open(self) -> bool:
        """False once either side started closing: uvicorn has sent (or will send) the close frame."""
        proto = self._proto
        return not (proto.close_sent or proto.disconnected or self._transport.is_closing())

    def buffered(self) -> int:
        """Bytes written but not yet accepted by the kernel (the client is not reading them)."""
        return int(self._transport.get_write_buffer_size())

    def write(self, data: bytes) -> None:
        self._transport.write(data)
