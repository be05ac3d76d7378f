"""`POST /api/orders` without Litestar's per-request machinery: the exchange's hottest route, served lean.

Litestar still owns the route: `routes_trading.place_order_handler` defines it for OpenAPI and answers every
request this module passes on. `ExchangeApp` offers each `POST /api/orders` to `OrderRoute` first, which
answers the requests that are well formed: a bearer access token that verifies, a `Content-Length` within
the body limit and a body that decodes strictly to `OrderCreate`, with no key given twice
(`schemas.repeated_key`: about 2 us). Anything else (no or bad token, a body
that does not decode, no length, too large) goes to Litestar unchanged, with the body it read replayed, so
every refusal of a request's form comes from one place and reads the same on both paths.

From the rate limit on, the request has effects (a rate-limit hit, then the engine call), so from there on
this module answers itself, errors included (`ApiError` -> its envelope; a Redis outage -> 503; anything
else -> 500, logged), exactly as the Litestar handler and `app.handle_exception` would:
`tests/api/test_order_route.py` sends the same requests down both paths and compares status, headers and
body byte for byte.

Why: Litestar's routing, dependency injection, signature model, response object and middleware wrappers cost
an API process more than twice what our handler and its engine call do (py-spy at 1,000 orders/s); the
figures are in docs/api.md (Performance).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from exchange.api import metrics, trading
from exchange.api.context import Services
from exchange.api.errors import ApiError, ErrorCode, as_api_error
from exchange.api.schemas import Order, OrderCreate, repeated_key

log = logging.getLogger(__name__)

PATH = "/api/orders"  # also the route template the metrics name (Litestar's `path_template`): no parameters

_decode_order = msgspec.json.Decoder(OrderCreate).decode
_decode_any = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")


class _Replay:
    """An ASGI `receive` that first returns the messages already read, then reads on."""

    def __init__(self, read: list[dict[str, Any]], receive: Any) -> None:
        self._read = read
        self._receive = receive

    async def __call__(self) -> Any:
        if self._read:
            return self._read.pop(0)
        return await self._receive()


class OrderRoute:
    """The lean `POST /api/orders` (see the module docstring). `await route(scope, receive, send)` returns
    None when it answered, else the `receive` to hand Litestar (replaying what it read)."""

    def __init__(self, services: Services) -> None:
        self.svc = services
        self.max_body = services.settings.max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        start = time.perf_counter()
        token = content_length = None
        for name, value in scope["headers"]:
            if name == b"authorization" and token is None:
                token = value
            elif name == b"content-length" and content_length is None:
                content_length = value
        account_id = self._account(token)
        if account_id is None or content_length is None or not content_length.isdigit():
            return receive
        if len(content_length) > 15 or int(content_length) > self.max_body:  # (int() refuses 4,300+ digits)
            return receive
        read: list[dict[str, Any]] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                return _Replay(read, receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return _Replay(read, receive)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            body = _decode_order(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
            return _Replay(read, receive)  # Litestar answers it with the error envelope
        if repeated_key(raw, _decode_any(raw)) is not None:
            return _Replay(read, receive)  # a key given twice: Litestar's 422 (app.JsonRequest)
        status = 500
        try:
            status, payload, headers = await self._place(account_id, body)
            await _respond(send, status, payload, headers)
        finally:
            metrics.HTTP_REQUESTS.inc(1, "POST", PATH, str(status))
            metrics.HTTP_LATENCY.observe(time.perf_counter() - start, "POST", PATH)
        return None

    def _account(self, header: bytes | None) -> int | None:
        """The account of a valid bearer access token, else None (Litestar then answers the 401)."""
        if header is None:
            return None
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return self.svc.tokens.decode_access(token.strip())
        except ApiError:
            return None

    async def _place(self, account_id: int, body: OrderCreate) -> tuple[int, bytes, dict[str, str]]:
        svc = self.svc
        try:
            await svc.limiter.hit("orders", str(account_id), svc.settings.rate_limits.orders)
            out = await trading.place_order(
                svc.engine, svc.markets, account_id, body, ts_ms=svc.clock(), pool=svc.pool
            )
        except Exception as exc:
            error = as_api_error(exc)
            if error is None:
                log.exception("unhandled error on POST %s", PATH)
                error = ApiError(ErrorCode.INTERNAL_ERROR, "internal error")
            elif error.code == ErrorCode.UNAVAILABLE:
                log.warning("dependency unavailable on POST %s: %r", PATH, exc)
            return error.status, _encode(error.body()), error.headers
        return 201, _encode(msgspec.convert(out, Order)), {}


async def _respond(send: Any, status: int, payload: bytes, extra: dict[str, str]) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})
