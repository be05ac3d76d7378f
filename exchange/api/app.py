"""The Litestar application factory: `uvicorn exchange.api.app:create_app --factory`.

`create_app(settings=None, *, redis=None, engine=None, pool=None, clock=None)` builds the app; the seams are
injected (tests pass their own Redis client / pool / clock). On startup it connects Redis (engine client:
`decode_responses=True, protocol=2`), loads the engine library, and opens a psycopg pool
(`exchange.api.dbpool.DeadlinePool`; without waiting: order entry works while PostgreSQL is down).
Everything lives on `app.state.services` (`exchange.api.context.Services`) and, for convenience,
`app.state.engine/redis/pool/markets/limiter/tokens/settings/clock`.

Optional parts of other helpers are wired in `_optional_parts()`: `exchange.api.marketdata`
(`MarketDataController`), `exchange.api.history` (`HistoryController`) and `exchange.api.ws`
(`websocket_route` or `route_handlers`, plus optional `plugins`, `on_startup`, `on_shutdown`), each only when
the module exists. The built frontend (`frontend/dist`) is served at `/` with an SPA fallback and a strict
Content-Security-Policy; every HTTP response carries the headers of `exchange.api.security_headers`.

Shutdown order (Litestar): this lifespan closes its Redis client and pool first, then the `on_shutdown`
hooks run (the WebSocket hub has its own connection), and last `_reset_state` drops everything added to
`app.state` during the run, so the same app object can start again (schemathesis does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote_plus

import msgspec
from litestar import Litestar, MediaType, Request, Response, get
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath
from litestar.response import File
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from exchange import __version__
from exchange.api import metrics, revocation
from exchange.api.auth import TokenService
from exchange.api.context import Services
from exchange.api.convert import MarketCache
from exchange.api.errors import ApiError, ErrorCode, as_api_error
from exchange.api.fastredis import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, EngineRedis, PipelinedRedis
from exchange.api.order_route import PATH as ORDER_PATH
from exchange.api.order_route import OrderRoute
from exchange.api.ratelimit import RateLimiter
from exchange.api.rawsocket import RAW_SEND_KEY
from exchange.api.routes_admin import AdminController
from exchange.api.routes_auth import AuthController, MeController, PasswordController, SessionsController
from exchange.api.routes_ops import OpsController
from exchange.api.routes_reference import ReferenceController
from exchange.api.routes_trading import (
    BalancesController,
    ClientOrderController,
    OrderController,
    cancel_all_handler,
    place_order_handler,
)
from exchange.api.schemas import (
    NO_VALUE,
    enum_values,
    explain,
    json_text,
    not_one_of,
    readable,
    repeated_key,
    repeated_key_message,
    split_error,
)
from exchange.api.security_headers import TERMINAL_HEADERS, secure_send
from exchange.api.settings import Settings

log = logging.getLogger(__name__)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------------------------------------- errors


def _error_response(
    code: ErrorCode | str, message: str, status: int, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        {"error": {"code": str(code), "message": message}},
        status_code=status,
        headers=headers,
        media_type=MediaType.JSON,
    )


_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, with JSON bodies read as strictly as the WebSocket and the lean order route read
    them:
    - a body that is not UTF-8, or nested too deeply for msgspec (RecursionError past ~1,000 levels), is a
      malformed body (400), like any other that does not parse (an empty one: `handle_exception`);
    - a key given twice in one object is 422 (`schemas.repeated_key`), not "the last one wins";
    - the body is checked against the handler's `data` type with msgspec's strict rules, so `"true"` is
      not a boolean and `"2"` not an integer (Litestar converts the whole signature loosely, because path
      and query values arrive as text); a too-long decimal is told its limit (`schemas.explain`);
    - a route with `opt={"empty_body": True}` (logout) takes no body as `{}`."""

    async def body(self) -> bytes:
        body = await super().body()
        handler = self.scope.get("route_handler")
        if not body and handler is not None and handler.opt.get("empty_body"):
            return b"{}"
        return body

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise ClientException("request body: JSON nested too deeply") from None
        except SerializationException as exc:  # msgspec's own words ("Input data was truncated"), reworded
            raise ClientException(_json_problem(str(exc))) from None
        except UnicodeDecodeError:  # msgspec raises it for invalid UTF-8 inside a string
            raise ClientException("request body: not valid UTF-8") from None
        repeated = repeated_key(await self.body(), value)
        if repeated is not None:
            await _authenticate_first(self)
            detail = {"key": "", "message": repeated_key_message(repeated), "source": "body"}
            raise ValidationException(extra=[detail])
        body_type = _body_type(self.route_handler)
        if body_type is not None:
            try:
                msgspec.convert(value, body_type, strict=True)
            except msgspec.ValidationError as exc:
                await _authenticate_first(self)
                key, message = split_error(str(exc), value, body_type)
                detail = {"key": key, "message": message, "source": "body"}
                raise ValidationException(extra=[detail]) from None
        return value


def _json_problem(detail: str) -> str:
    """What msgspec found wrong with a body that does not decode, in words."""
    if detail.startswith("Integer value out of range"):  # valid JSON, but no 64-bit integer holds it
        where = detail.partition(" - at ")[2]
        at = f" at {where}" if where and "[...]" not in where else ""  # msgspec's path, when it knows it
        return f"request body: the number{at} has too many digits (prices and amounts are decimal strings)"
    if detail == "Input data was truncated":
        detail = "it ends before the JSON value does (cut short?)"
    return f"request body is not valid JSON: {detail.removeprefix('JSON is malformed: ')}"


async def _authenticate_first(request: Request[Any, Any, Any]) -> None:
    """Before answering 422 from outside the signature: Litestar resolves a route's dependencies before it
    converts the rest, so a missing token is 401 and a non-admin on an admin route 403 before any 422. Run
    the route's auth provider, which raises those."""
    deps = request.route_handler.resolve_dependencies()
    auth = deps.get("admin_id") or deps.get("account_id") or deps.get("access")
    if auth is not None:
        await auth.dependency(request)


# Filters whose absence means "all" (every market, both sides, every status): sent empty or blank
# (`?symbol=`, `?side=%20`), they are 422 rather than absent, since a client whose market variable is empty
# means one market, not all of them (`DELETE /api/orders?symbol=` would cancel in every market). Other
# optional parameters (`limit`, `cursor`, `depth`, ...) sent empty still count as absent: their default.
EMPTY_FILTERS: dict[str, str] = {
    "symbol": "symbol is empty: give a market such as BTC-USDT, or leave symbol out for every market",
    "side": 'side is empty: give "buy" or "sell", or leave side out for both sides',
    "status": 'status is empty: give "open", "closed" or "all", or leave status out for all',
    "asset": "asset is empty: give an asset such as USDT, or leave asset out for every asset",
    "type": 'type is empty: give "deposit" or "withdrawal", or leave type out for both',
}


async def refuse_unknown_query(request: Request[Any, Any, Any]) -> None:
    """`before_request` of every route: on the API (`/api/...`), a query parameter the route does not take
    is 422 `VALIDATION_ERROR`, as an unknown body field is. Ignored, a misspelt `?limt=5` would answer
    another question (the default 100 trades) without saying so. The names each route takes come from the
    OpenAPI document (`_tighten_openapi`), so the check and the document cannot disagree. A filter of
    `EMPTY_FILTERS` the route takes, sent empty or blank, is 422 too (a filter left empty is no filter), and
    so is a parameter given more than once."""
    if not request.scope.get("query_string"):
        return
    table = getattr(request.app, "query_params", None)
    allowed = table.get((request.scope.get("path_template"), request.method)) if table else None
    if allowed is None:  # not an API operation of the document (the terminal's files, /schema, probes)
        return
    items = list(request.query_params.multi_items())
    # an empty filter a route does not take is as absent as any other empty value (dropped before routing)
    unknown = sorted({name for name, value in items if value} - allowed)
    if unknown:
        await _authenticate_first(request)
        takes = ", ".join(sorted(allowed)) if allowed else "none"
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, f"unknown query parameter {unknown[0]!r}: this route takes {takes}"
        )
    empty = sorted({name for name, value in items if name in EMPTY_FILTERS and not value.strip()} & allowed)
    if empty:
        await _authenticate_first(request)
        raise ApiError(ErrorCode.VALIDATION_ERROR, EMPTY_FILTERS[empty[0]])
    # every parameter takes one value: given twice (`?symbol=BTC-USDT&symbol=ETH-USDT`), which one was meant
    # is unknown, and the last one winning would cancel or list in the other market
    names = [name for name, _ in items if name in allowed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        await _authenticate_first(request)
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, f"query parameter {repeated[0]!r} given more than once: give it once"
        )


def _body_type(handler: Any) -> type | None:
    """The msgspec Struct a handler's `data` parameter takes, if any."""
    data = handler.parsed_fn_signature.parameters.get("data")
    annotation = getattr(data, "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) else None


_MISSING_QUERY = re.compile(r"Missing required query parameter '([^']+)' for path ")


def _query_choices(request: Request[Any, Any, Any], key: str) -> list[str] | None:
    """The values a query parameter of the route takes when it is a closed vocabulary (an enum)."""
    handler = request.scope.get("route_handler")
    parameter = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", {}).get(key)
    return enum_values(parameter.annotation) if parameter is not None else None


def _with_value(message: str, value: Any) -> str:
    """A query or path value's validation message in words (`explain`), quoting the value refused when the
    message is about its form (a pattern, a length), which the words alone do not show."""
    worded = explain(message, value)
    if (
        value is NO_VALUE
        or not ("matching regex" in message or "of length" in message)
        or worded != readable(message)
    ):
        return worded  # (a decimal's limits: `explain` already said what is wrong with it)
    return f"{worded}; got {json_text(value)}"


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error leaves as `{"error": {"code", "message"}}`; nothing escapes as a bare 500."""
    if isinstance(exc, ValidationException):
        detail = exc.extra if isinstance(exc.extra, list) else []
        if any(isinstance(d, dict) and d.get("key") == "data" for d in detail):
            # Litestar's word for an empty body: the handler's `data` argument itself is missing
            return _error_response(ErrorCode.BAD_REQUEST, "request body required: a JSON object", 400)
        parts = []
        for d in detail:
            if not isinstance(d, dict):
                continue
            key, message = str(d.get("key") or ""), str(d.get("message"))
            if key and d.get("source") == "query":  # the value refused, for a decimal's limits
                value = request.query_params.get(key, NO_VALUE)
                if message.endswith(", got `str`") and value is not NO_VALUE:  # every query value is text
                    message = f"{message.removesuffix(', got `str`')}; got {json_text(value)}"
                message = _with_value(message, value)
                choices = _query_choices(request, key)
                if choices and message.startswith("Invalid enum value"):
                    message = not_one_of(choices, request.query_params.get(key))
            elif key and d.get("source") == "path":
                message = _with_value(message, request.path_params.get(key, NO_VALUE))
            parts.append(f"{key}: {message}".strip(": "))
        message = "; ".join(p for p in parts if p) or str(exc.detail)
        missing = _MISSING_QUERY.match(message)
        if missing:  # an empty value (`?qty=`) counts as absent too: say both
            message = f"query parameter {missing[1]!r} is required (it was left out or sent empty)"
        return _error_response(ErrorCode.VALIDATION_ERROR, readable(message)[:500], 422)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        code = _HTTP_CODES.get(status, ErrorCode.BAD_REQUEST if status < 500 else ErrorCode.INTERNAL_ERROR)
        if status >= 500:
            log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc.detail)
        said = str(exc.detail)[:500]
        limit = request.app.request_max_body_size
        if status == 413 and limit:  # Litestar says "Request Entity Too Large": say the limit
            said = f"the request body must be at most {limit} bytes"
        return _error_response(code, said, status, dict(exc.headers or {}))
    error = as_api_error(exc)
    if error is None:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(ErrorCode.INTERNAL_ERROR, "internal error", 500)
    if error.code == ErrorCode.UNAVAILABLE:
        log.warning("dependency unavailable on %s %s: %r", request.method, request.url.path, exc)
    return _error_response(error.code, error.message, error.status, error.headers)


# ------------------------------------------------------------------------------------------ metrics


class ExchangeApp(Litestar):
    """Litestar, plus five things at the entry point:
    - every HTTP response gets the security headers (`exchange.api.security_headers.secure_send`, one
      wrapper of the server's `send`, so the lean route's answers and Litestar's routing errors get them);
    - `HEAD` is answered as `GET` without the body (RFC 9110: uptime checks and caches probe with it);
    - an empty query value (`?limit=`) is dropped, so the parameter counts as absent, except for the
      filters of `EMPTY_FILTERS` (`?symbol=`: 422 in `refuse_unknown_query`);
    - `POST /api/orders` is offered to the lean order route first (`exchange.api.order_route`; set while
      the app runs, unless `create_app(lean_orders=False)`); what it passes on, Litestar answers;
    - a WebSocket scope records the server's own `send` (under `RAW_SEND_KEY`), before Litestar wraps it,
      so a session can write ready-made frames straight to the connection (exchange.api.rawsocket)."""

    order_route: OrderRoute | None = None
    # (route template, method) -> the query parameters it takes, for every `/api/` operation of the
    # document (`refuse_unknown_query`)
    query_params: dict[tuple[str, str], frozenset[str]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            send = secure_send(send)
            if scope["method"] == "HEAD":
                # a copy: the server's own scope keeps HEAD, so it frames the answer as one (no body is
                # expected after Content-Length, no chunked encoding, the connection stays open)
                scope = {**scope, "method": "GET"}
                send = _without_body(send)
            if scope.get("query_string"):
                _drop_empty_query_values(scope)
            if self.order_route is not None and scope["path"] == ORDER_PATH and scope["method"] == "POST":
                receive = await self.order_route(scope, receive, send)
                if receive is None:
                    return
        elif scope["type"] == "websocket":
            scope[RAW_SEND_KEY] = send
        await super().__call__(scope, receive, send)


def _without_body(send: Any) -> Any:
    """The response's status and headers (Content-Length included), with every body chunk emptied."""

    async def head_send(message: Any) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return head_send


def _drop_empty_query_values(scope: Any) -> None:
    """`?limit=&side=buy` -> `?side=buy`: an empty query value means the parameter is absent (docs/api.md;
    `allowEmptyValue` in the document), for every parameter, whatever its type or pattern, except the
    filters of `EMPTY_FILTERS` (`?symbol=` is kept, and refused by `refuse_unknown_query`)."""
    parts = scope["query_string"].split(b"&")
    kept = [p for p in parts if p.partition(b"=")[2] or _query_name(p) in EMPTY_FILTERS]
    if len(kept) != len(parts):
        scope["query_string"] = b"&".join(kept)


def _query_name(part: bytes) -> str:
    """The decoded name of one `name=value` part of a query string (`%73ymbol=` -> `symbol`)."""
    return unquote_plus(part.partition(b"=")[0].decode("latin-1"))


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count requests by method, route template and status; observe latency (routed HTTP requests only).

    It also completes the `Allow` header of Litestar's automatic OPTIONS answers (`_fix_allow`): done here
    rather than in a `before_send` hook, because any such hook wraps every ASGI message of every request
    and WebSocket frame."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if scope.get("method") == "OPTIONS":
                    _fix_allow(message, scope)
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            route = str(scope.get("path_template") or "unknown")
            method = str(scope.get("method", ""))
            metrics.HTTP_REQUESTS.inc(1, method, route, str(status))
            metrics.HTTP_LATENCY.observe(time.perf_counter() - start, method, route)

    return middleware


# ----------------------------------------------------------------------------- optional parts / SPA


@dataclass
class OptionalParts:
    route_handlers: list[Any] = field(default_factory=list)
    plugins: list[Any] = field(default_factory=list)
    on_startup: list[Callable[..., Any]] = field(default_factory=list)
    on_shutdown: list[Callable[..., Any]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)


def _import_optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _optional_parts() -> OptionalParts:
    """Routers and hooks of the realtime and persistence helpers, registered when their modules exist."""
    parts = OptionalParts()
    marketdata = _import_optional("exchange.api.marketdata")
    if marketdata is not None and hasattr(marketdata, "MarketDataController"):
        parts.route_handlers.append(marketdata.MarketDataController)
        parts.loaded.append("marketdata")
    history = _import_optional("exchange.api.history")
    if history is not None and hasattr(history, "HistoryController"):
        parts.route_handlers.append(history.HistoryController)
        parts.loaded.append("history")
        transfers = _import_optional("exchange.api.transfers")
        if transfers is not None:
            parts.route_handlers.append(transfers.TransfersController)
    ws = _import_optional("exchange.api.ws")
    if ws is not None:
        if hasattr(ws, "route_handlers"):
            parts.route_handlers.extend(_as_list(ws.route_handlers))
        elif hasattr(ws, "websocket_route"):
            parts.route_handlers.extend(_as_list(ws.websocket_route))
        parts.plugins.extend(_as_list(getattr(ws, "plugins", None)))
        parts.on_startup.extend(_as_list(getattr(ws, "on_startup", None)))
        parts.on_shutdown.extend(_as_list(getattr(ws, "on_shutdown", None)))
        parts.loaded.append("ws")
    return parts


_NOT_SPA_PREFIXES = ("api/", "api", "ws", "schema", "healthz", "readyz", "metrics")


# the SPA shell names the current hashed bundles: a browser must revalidate it on every load (an ETag
# answers unchanged cheaply), or after an upgrade a cached one asks for bundles that are gone
NO_CACHE = {"cache-control": "no-cache"}
# Vite names every file under assets/ by a hash of its content: a name never changes meaning
IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}


def _names_a_file(rel: str) -> bool:
    """Whether a path asks for a file rather than a page of the terminal: anything under `assets/`, or a
    last segment with an extension (`favicon.ico`, `index-OLD123.js`). Missing, it is 404, never the SPA
    page: a browser would read HTML as a script or a stylesheet (a MIME error and a blank terminal)."""
    return rel.startswith("assets/") or "." in rel.rsplit("/", 1)[-1]


def _spa_handlers(dist: Path) -> list[Any]:
    """`/` and every non-API path: the file under `dist` if there is one, else `index.html` (a missing
    file, `_names_a_file`: 404); each with the terminal's Content-Security-Policy
    (`exchange.api.security_headers`), `index.html` and other unhashed files with `Cache-Control:
    no-cache`, the hashed `assets/*` with a year's `immutable`."""
    root = dist.resolve()
    assets = root / "assets"

    def serve(rel: str) -> File | Response[Any]:
        if rel.split("/", 1)[0] in _NOT_SPA_PREFIXES:
            return _error_response(ErrorCode.NOT_FOUND, "not found", 404)
        try:  # a NUL byte or an over-long name is no file: an unknown path
            candidate = (root / rel).resolve() if rel else root / "index.html"
            found = candidate.is_file() and candidate.is_relative_to(root)
        except (OSError, ValueError):
            found = False
        if not found:
            if _names_a_file(rel):
                return _error_response(ErrorCode.NOT_FOUND, "no such file in the terminal's build", 404)
            candidate = root / "index.html"
        caching = IMMUTABLE if candidate.is_relative_to(assets) else NO_CACHE
        # filename drives the Content-Type (browsers refuse module scripts served as octet-stream)
        return File(
            candidate,
            filename=candidate.name,
            content_disposition_type="inline",
            headers={**TERMINAL_HEADERS, **caching},
        )

    @get("/", include_in_schema=False, sync_to_thread=False)
    def spa_root() -> File | Response[Any]:
        return serve("")

    @get("/{path:path}", include_in_schema=False, sync_to_thread=False)
    def spa_path(path: FromPath[str]) -> File | Response[Any]:
        return serve(path.lstrip("/"))

    return [spa_root, spa_path]


# -------------------------------------------------------------------------------------------- app


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Exchange API",
        version=__version__,
        description=(
            "Spot exchange REST API. Prices, quantities and amounts are decimal strings; timestamps are "
            'integer milliseconds since the epoch; errors are {"error": {"code", "message"}}.'
        ),
        path="/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
        use_handler_docstrings=True,
    )


def create_app(
    settings: Settings | None = None,
    *,
    redis: Any = None,
    engine: Any = None,
    pool: Any = None,
    clock: Callable[[], int] | None = None,
    extra_route_handlers: Sequence[Any] = (),
    lean_orders: bool = True,
) -> Litestar:
    """Build the application (see the module docstring). `lean_orders=False` leaves `POST /api/orders`
    entirely to Litestar (the tests compare both paths)."""
    settings = settings or Settings.from_env()
    parts = _optional_parts()
    clock_fn = clock or now_ms

    pristine: set[str] = set()

    async def _reset_state(app: Litestar) -> None:
        """Last shutdown hook (after the other modules' hooks used their state): drop everything added to
        `app.state` while running, so a restarted lifespan never sees closed clients or stale caches."""
        for key in set(app.state.dict()) - pristine:
            del app.state[key]

    @asynccontextmanager
    async def lifespan(app: Litestar) -> Any:
        own_redis = redis is None
        own_pool = pool is None and settings.database_url is not None
        client = redis
        if client is None:
            if not settings.redis_url:
                raise RuntimeError("EXCHANGE_REDIS_URL is not set and no running stack was found")
            import redis.asyncio as aioredis

            # bounded like the hot path's connection: a Redis that stops answering fails a request (503)
            # instead of holding it, and whatever waits behind it, for as long as the stall lasts
            client = aioredis.Redis.from_url(
                settings.redis_url,
                decode_responses=True,
                protocol=2,
                socket_timeout=COMMAND_TIMEOUT_S,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
            )
            from exchange.redis_check import acheck_redis

            # refuse a server that could evict engine keys (AOF is the operator's choice: `exchange up`
            # enforces it for the Redis it starts)
            await acheck_redis(client, require_aof=False)
        # the hot path (engine FCALLs, rate-limit leases) uses one auto-pipelined connection per process
        fast = PipelinedRedis.from_url(settings.redis_url) if own_redis and settings.redis_url else None
        eng = engine
        if eng is None:
            from exchange.engine.client import AsyncEngine

            eng = AsyncEngine(cast(Any, EngineRedis(client, fast)) if fast is not None else client)
        if settings.load_library:
            await eng.load()
        db_pool = pool
        if own_pool:
            from exchange.api.dbpool import DeadlinePool

            # checks each connection before lending it (none dead after a restart); bounded waits
            db_pool = DeadlinePool(
                str(settings.database_url), min_size=1, max_size=settings.db_pool_max, open=False
            )
            await db_pool.open(wait=False)
        svc = Services(
            settings=settings,
            redis=client,
            engine=eng,
            markets=MarketCache(eng),
            limiter=RateLimiter(client, fast=fast),
            tokens=TokenService(settings),
            clock=clock_fn,
            pool=db_pool,
        )
        state = app.state
        pristine.clear()
        pristine.update(state.dict())  # what the app held before this run (see _reset_state)
        state.services = svc
        if lean_orders:
            cast(ExchangeApp, app).order_route = OrderRoute(svc)
        state.settings, state.redis, state.engine, state.pool = settings, client, eng, db_pool
        state.markets, state.limiter, state.tokens, state.clock = (
            svc.markets,
            svc.limiter,
            svc.tokens,
            clock_fn,
        )
        await revocation.first_read(client, svc.tokens.revocations)
        follower = asyncio.create_task(revocation.follow(client, svc.tokens.revocations), name="revocations")
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            with contextlib.suppress(Exception):  # (a Redis gone already: the entry ages out, `confirm`)
                await asyncio.wait_for(revocation.leave(client, svc.tokens.revocations), 1.0)
            cast(ExchangeApp, app).order_route = None
            if own_pool and db_pool is not None:
                await db_pool.close()
            if fast is not None:
                await fast.aclose()
            if own_redis:
                await client.aclose()

    handlers: list[Any] = [
        OpsController,
        AuthController,
        SessionsController,
        PasswordController,
        MeController,
        ReferenceController,
        OrderController,
        ClientOrderController,
        BalancesController,
        AdminController,
        *parts.route_handlers,  # before the plain /api/orders handlers (see exchange.api.routes_trading)
        place_order_handler,
        cancel_all_handler,
        *extra_route_handlers,
    ]
    if settings.frontend_dist.is_dir() and (settings.frontend_dist / "index.html").is_file():
        handlers.extend(_spa_handlers(settings.frontend_dist))

    app = ExchangeApp(
        route_handlers=handlers,
        lifespan=[lifespan],
        on_startup=parts.on_startup,
        on_shutdown=[*parts.on_shutdown, _reset_state],
        plugins=parts.plugins,
        middleware=[metrics_middleware],
        exception_handlers={Exception: handle_exception},
        before_request=refuse_unknown_query,
        request_class=JsonRequest,
        openapi_config=_openapi_config(),
        request_max_body_size=settings.max_body_bytes,
        cors_config=None,
        debug=False,
    )
    _tighten_openapi(app)
    return app


def _tighten_openapi(app: Litestar) -> None:
    """Make the document say what the app does, where Litestar does not by itself:
    - request bodies refuse unknown fields (msgspec `forbid_unknown_fields`): `additionalProperties: false`;
    - every operation may answer the error envelope with 400, 404 and 422 (validation), and a secured
      one with 401 (routes of every module, including those that do not list them);
    - an optional query parameter sent empty (`?cursor=`) counts as absent: `allowEmptyValue: true` (not
      on the filters of `EMPTY_FILTERS`, which refuse an empty value);
    - a 204 has no body (a handler that sets cookies on it returns `Response[None]`, which Litestar
      documents as a JSON `null`).
    It also records, for `refuse_unknown_query`, the query parameters each `/api/` operation takes."""
    from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Reference

    from exchange.api import schemas

    strict = {
        name
        for name, obj in vars(schemas).items()
        if isinstance(obj, type)
        and issubclass(obj, msgspec.Struct)
        and getattr(obj.__struct_config__, "forbid_unknown_fields", False)
    }
    document = app.openapi_schema
    components = document.components
    for name, schema in (components.schemas or {}).items() if components else ():
        if name.rsplit(".", 1)[-1].rsplit("_", 1)[-1] in strict:
            schema.additional_properties = False
    if components is None or "ErrorBody" not in (components.schemas or {}):
        return
    optional_bodies = {
        handler.operation_id
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if handler.opt.get("empty_body")
    }
    query_params: dict[tuple[str, str], frozenset[str]] = {}
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            if path.startswith("/api/"):
                query_params[(path, method.upper())] = frozenset(
                    str(p.name) for p in operation.parameters or [] if getattr(p, "param_in", None) == "query"
                )
            responses = operation.responses if operation.responses is not None else {}
            wanted = ["400", "404", "422"] + (["401"] if operation.security else [])
            for status in wanted:
                if status not in responses:
                    responses[status] = OpenAPIResponse(
                        description="error (see error.code)",
                        content={
                            "application/json": OpenAPIMediaType(
                                schema=Reference(ref="#/components/schemas/ErrorBody")
                            )
                        },
                    )
            no_content = responses.get("204")
            if isinstance(no_content, OpenAPIResponse):
                no_content.content = None
            operation.responses = responses
            if operation.operation_id in optional_bodies and operation.request_body is not None:
                operation.request_body.required = False  # JsonRequest reads no body as `{}`
            for parameter in operation.parameters or []:
                # `?name=` is read as absent (ExchangeApp drops empty query values): say so
                if (
                    getattr(parameter, "param_in", None) == "query"
                    and not getattr(parameter, "required", False)
                    and parameter.name not in EMPTY_FILTERS
                ):
                    parameter.allow_empty_value = True
    if isinstance(app, ExchangeApp):
        app.query_params = query_params


def _allowed_methods(app: Litestar) -> dict[str, str]:
    """Route template -> `Allow` header value (every method of every handler on that path)."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        methods.setdefault(route.path_format, set()).update(getattr(route, "methods", ()))
    return {path: ", ".join(sorted(m)) for path, m in methods.items()}


def _fix_allow(message: Message, scope: Scope) -> None:
    """Litestar's automatic OPTIONS answer lists only the methods of the first controller registered on a
    path; answer with every method the path serves (computed once per app)."""
    app = scope.get("litestar_app")
    if app is None:
        return
    allowed = getattr(app.state, "_allowed_methods", None)
    if allowed is None:
        allowed = app.state._allowed_methods = _allowed_methods(app)
    value = allowed.get(str(scope.get("path_template", "")))
    if value:
        start = cast(dict[str, Any], message)  # an http.response.start message
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"allow"]
        headers.append((b"allow", value.encode()))
        start["headers"] = headers


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document as a dict (no server connection needed)."""
    app = create_app(Settings(jwt_secret="x" * 32, load_library=False))
    return app.openapi_schema.to_schema()


def run_openapi(args: argparse.Namespace | None = None) -> int:
    """`exchange openapi`: print the OpenAPI 3.1 JSON (the frontend generates its types from it)."""
    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
