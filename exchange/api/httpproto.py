"""uvicorn's httptools protocol with a bound on the request head (request line and headers).

uvicorn's default parser (httptools) sets no limit on the size of a request's headers: one `GET` with a
64 MiB header got a 200, and six at once grew an API process by 370 MiB and stalled its other requests for
20 s. `BoundedHttpToolsProtocol` counts the bytes of each request's head as they arrive and, once they pass
`MAX_HEAD_BYTES` (16 KiB, as Node and uvicorn's h11 protocol allow), answers 431 `HEADERS_TOO_LARGE` and
closes the connection, before the parser has buffered more than one read past the limit. Bodies are
bounded separately (`Settings.max_body_bytes`, 413).

Used by `exchange up` and docker-compose: `uvicorn --http exchange.api.httpproto:BoundedHttpToolsProtocol`
(`HTTP_PROTOCOL`). Everything else is uvicorn's own protocol: WebSocket upgrades, keep-alive, pipelining.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from exchange.api.errors import ErrorCode
from exchange.api.security_headers import SECURITY_HEADERS

__all__ = ["HTTP_PROTOCOL", "MAX_HEAD_BYTES", "BoundedHttpToolsProtocol"]

HTTP_PROTOCOL = "exchange.api.httpproto:BoundedHttpToolsProtocol"  # uvicorn's --http
MAX_HEAD_BYTES = 16 * 1024

_BODY = (
    f'{{"error":{{"code":"{ErrorCode.HEADERS_TOO_LARGE.value}","message":'
    f'"the request line and headers must be at most {MAX_HEAD_BYTES} bytes"}}}}'
).encode()
_RESPONSE = b"".join(
    [
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
        b"connection: close\r\n",
        *(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS),
        b"\r\n",
        _BODY,
    ]
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's `HttpToolsProtocol`, refusing a request whose head passes `MAX_HEAD_BYTES` (see module).

    Checked twice: when the head is complete, its exact size (the target, every header name and value, as
    the parser handed them over); and after each read that ended inside a head, the bytes read so far, so a
    head that never ends is refused before the parser buffers more of it."""

    _in_head = True  # a connection starts with a request head
    _head_bytes = 0  # bytes of the reads that ended inside the current head
    _refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)  # ": ", CRLF
        if size > MAX_HEAD_BYTES:
            self._refuse()
            return
        super().on_headers_complete()

    # after a refusal the parser may still hand over the rest of the read: nothing of it reaches the app
    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        if not self._refused:
            super().handle_websocket_upgrade()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        # still in a head after this read: all of it was head (a read that also began the head may hold the
        # end of the previous request: counted too, which only makes the bound a little stricter)
        if self._in_head and not self._refused and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def _refuse(self) -> None:
        self._refused = True
        self.transport.write(_RESPONSE)
        self.transport.close()
