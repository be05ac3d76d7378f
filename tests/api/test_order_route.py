"""The lean `POST /api/orders` (exchange.api.order_route) answers exactly as the Litestar handler does.

Differential: two apps, one with the lean route and one without (`create_app(lean_orders=False)`), each on
its own emptied Redis database (so their books and balances evolve alike) and the same PostgreSQL, get the
same request sequence from their own accounts; status, headers and body must agree byte for byte once ids
and timestamps are masked. Each case also states which path must answer: the lean route (well-formed
requests, and everything after their first effect) or Litestar (requests refused for their form).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from exchange.api import metrics
from exchange.api.app import ExchangeApp, create_app
from exchange.api.order_route import OrderRoute, _Replay
from exchange.api.settings import RateLimit, Settings
from tests.api.conftest import GENEROUS, User, make_settings, record_lean_route_decisions, register, seed
from tests.conftest import _fresh_db_url

MASKED = {"id", "trade_id", "created_at", "updated_at", "ts"}


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<masked>" if k in MASKED else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


@dataclass
class Side:
    """One app of the pair: its client, two accounts (a maker and a taker) and the lean route's decisions
    (True: the lean route answered; False: it passed the request to Litestar)."""

    client: AsyncTestClient[ExchangeApp]
    maker: User
    taker: User
    served: list[bool]


@asynccontextmanager
async def _side(settings: Settings, *, lean: bool) -> AsyncIterator[Side]:
    app = cast(ExchangeApp, create_app(settings, lean_orders=lean))
    async with AsyncTestClient(app) as client:
        served = record_lean_route_decisions(app) if lean else []
        yield Side(client, await register(client), await register(client), served)


@pytest.fixture
def pair_settings(
    redis_servers: Any, redis_kinds: list[str], pg_url: str
) -> Callable[..., tuple[Settings, Settings]]:
    def make(**overrides: Any) -> tuple[Settings, Settings]:
        out = []
        for _ in range(2):
            url = _fresh_db_url(redis_servers[redis_kinds[0]])
            seed(url)
            out.append(make_settings(url, pg_url, **overrides))
        return out[0], out[1]

    return make


@asynccontextmanager
async def _pair(lean_settings: Settings, plain_settings: Settings) -> AsyncIterator[tuple[Side, Side]]:
    async with _side(lean_settings, lean=True) as lean, _side(plain_settings, lean=False) as plain:
        yield lean, plain


@pytest.fixture
async def pair(pair_settings: Callable[..., tuple[Settings, Settings]]) -> AsyncIterator[tuple[Side, Side]]:
    async with _pair(*pair_settings(max_body_bytes=4096)) as sides:
        yield sides


Request = Callable[[Side], Awaitable[Any]]


def post(
    who: str, body: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> Request:
    """A `POST /api/orders` from the side's `who` account ("maker", "taker" or "nobody")."""

    async def send(side: Side) -> Any:
        h = dict(getattr(side, who).headers) if who != "nobody" else {}
        h.update(headers or {})
        if raw is not None:
            return await side.client.post("/api/orders", content=raw, headers=h)
        return await side.client.post("/api/orders", json=body, headers=h)

    return send


def limit(side: str, price: str, qty: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": "BTC-USDT", "side": side, "type": "limit", "price": price, "qty": qty, **extra}


# (name, request, expected status, answered by the lean route?)
CASES: list[tuple[str, Request, int, bool]] = [
    ("resting limit buy", post("maker", limit("buy", "50000", "0.1")), 201, True),
    ("crossing sell fills at the maker price", post("taker", limit("sell", "49000", "0.04")), 201, True),
    ("ioc remainder expires", post("taker", limit("sell", "50000", "0.2", time_in_force="ioc")), 201, True),
    ("resting limit sell", post("maker", limit("sell", "51000", "0.05")), 201, True),
    (
        "market order spends a quote budget",
        post("taker", {"symbol": "BTC-USDT", "side": "buy", "type": "market", "quote_qty": "100"}),
        201,
        True,
    ),
    (
        "client order id first use",
        post("maker", limit("buy", "40000", "0.01", client_order_id="c-1")),
        201,
        True,
    ),
    ("client order id retry", post("maker", limit("buy", "40000", "0.01", client_order_id="c-1")), 201, True),
    (
        "client order id conflict",
        post("maker", limit("buy", "40001", "0.01", client_order_id="c-1")),
        409,
        True,
    ),
    ("insufficient funds", post("maker", limit("buy", "50000", "5")), 409, True),
    ("unknown market", post("maker", {**limit("buy", "1", "1"), "symbol": "XYZ-USDT"}), 404, True),
    ("price off tick", post("maker", limit("buy", "50000.001", "0.1")), 400, True),
    (
        "limit without a price",
        post("maker", {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "qty": "1"}),
        400,
        True,
    ),
    (
        "post-only that would cross is rejected",
        post("taker", limit("buy", "51000", "0.01", post_only=True)),
        201,
        True,
    ),
    (
        "text/plain body still parses",
        post(
            "maker",
            raw=json.dumps(limit("buy", "45000", "0.01")).encode(),
            headers={"content-type": "text/plain"},
        ),
        201,
        True,
    ),
    # refused for their form: Litestar answers
    ("unknown field", post("maker", {**limit("buy", "1", "1"), "colour": "red"}), 422, False),
    ("wrong enum value", post("maker", {**limit("buy", "1", "1"), "side": "up"}), 422, False),
    ("lax boolean", post("maker", limit("buy", "45000", "0.01", post_only="true")), 0, False),
    ("malformed JSON", post("maker", raw=b'{"symbol": '), 400, False),
    ("empty body", post("maker", raw=b""), 0, False),
    ("JSON array", post("maker", [1, 2]), 422, False),
    ("no token", post("nobody", limit("buy", "50000", "0.1")), 401, False),
    (
        "not a bearer token",
        post("nobody", limit("buy", "50000", "0.1"), headers={"authorization": "Basic eDp5"}),
        401,
        False,
    ),
    (
        "forged token",
        post("nobody", limit("buy", "50000", "0.1"), headers={"authorization": "Bearer a.b.c"}),
        401,
        False,
    ),
    (
        "body over the limit",
        post("maker", raw=b" " * 5000 + json.dumps(limit("buy", "1", "1")).encode()),
        413,
        False,
    ),
]


async def test_the_lean_route_answers_every_case_as_litestar_does(pair: tuple[Side, Side]) -> None:
    """Same requests, same state: the lean route and the Litestar handler give identical answers (status,
    headers, masked body), and the lean route passes on exactly the requests refused for their form."""
    lean, plain = pair
    for name, request, status, served in CASES:
        a = await request(lean)
        b = await request(plain)
        assert a.status_code == b.status_code, (name, a.text, b.text)
        if status:
            assert a.status_code == status, (name, a.text)
        assert sorted(a.headers.multi_items()) == sorted(b.headers.multi_items()), name
        assert _mask(a.json()) == _mask(b.json()), name
        assert lean.served[-1] is served, name
    assert len(lean.served) == len(CASES)


async def test_a_key_given_twice_is_422_on_both_paths_and_places_nothing(pair: tuple[Side, Side]) -> None:
    """`{"symbol": "BTC-USDT", "symbol": "ETH-USDT", ...}` placed an ETH order (the last key won) while a
    proxy or audit log reading the first saw a BTC one: it is 422 VALIDATION_ERROR naming the key, alike on
    both paths (the lean route passes it to Litestar), whatever the key's spelling; explicit defaults
    (`"post_only": false`, `null`s) are no repeat and stay on the lean route."""
    lean, plain = pair
    repeated = [
        b'{"symbol":"BTC-USDT","symbol":"ETH-USDT","side":"buy","type":"limit","price":"2000","qty":"0.01"}',
        b'{"symbol":"ETH-USDT","side":"buy","type":"limit","price":"2000","qty":"0.01","\\u0073ymbol":"ETH-USDT"}',
        b'{"symbol":"BTC-USDT","side":"buy","type":"limit","price":"40000","qty":"0.01","qty":"0.02"}',
    ]
    for raw in repeated:
        a, b = await post("maker", raw=raw)(lean), await post("maker", raw=raw)(plain)
        assert a.status_code == b.status_code == 422, (a.text, b.text)
        assert a.json() == b.json() and a.json()["error"]["code"] == "VALIDATION_ERROR"
        assert a.json()["error"]["message"].startswith("duplicate key "), a.text
        assert lean.served[-1] is False
    for side in (lean, plain):
        r = await side.client.get("/api/orders", params={"status": "all"}, headers=side.maker.headers)
        assert r.json()["items"] == []
    explicit = limit("buy", "40000", "0.01", post_only=False, time_in_force=None, client_order_id=None)
    a, b = await post("maker", explicit)(lean), await post("maker", explicit)(plain)
    assert a.status_code == b.status_code == 201 and lean.served[-1] is True


async def test_a_rate_limited_order_is_answered_alike_with_retry_after(
    pair_settings: Callable[..., tuple[Settings, Settings]],
) -> None:
    """Past the account's order limit both paths answer 429 RATE_LIMITED with the same Retry-After."""
    tight = replace(GENEROUS, orders=RateLimit(2, 60))
    async with _pair(*pair_settings(rate_limits=tight)) as (lean, plain):
        request = post("maker", limit("buy", "40000", "0.01"))
        for expected in (201, 201, 429, 429):
            a, b = await request(lean), await request(plain)
            assert (a.status_code, b.status_code) == (expected, expected), (a.text, b.text)
            assert sorted(a.headers.multi_items()) == sorted(b.headers.multi_items())
            assert _mask(a.json()) == _mask(b.json())
        assert a.json()["error"]["code"] == "RATE_LIMITED" and int(a.headers["retry-after"]) >= 1
        assert lean.served == [True, True, True, True]


class _Receive:
    """An ASGI receive over a list of messages, counting reads."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = list(messages)
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        return self.messages.pop(0)


async def _never_send(message: Any) -> None:
    raise AssertionError(f"the lean route answered: {message}")


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/api/orders", "headers": list(headers)}


async def _route(api_settings: Settings) -> tuple[OrderRoute, str]:
    from exchange.api.auth import TokenService
    from exchange.api.context import Services

    tokens = TokenService(api_settings)
    svc = Services(
        settings=api_settings,
        redis=None,
        engine=None,
        markets=cast(Any, None),
        limiter=cast(Any, None),
        tokens=tokens,
        clock=lambda: 0,
    )
    return OrderRoute(svc), tokens.issue_access(7)


async def test_a_body_without_content_length_goes_to_litestar_unread(api_settings: Settings) -> None:
    """No Content-Length (a chunked body): the route reads nothing and hands Litestar the original receive."""
    route, token = await _route(api_settings)
    receive = _Receive([{"type": "http.request", "body": b"{}", "more_body": False}])
    passed_on = await route(_scope((b"authorization", f"Bearer {token}".encode())), receive, _never_send)
    assert passed_on is receive and receive.reads == 0


async def test_a_body_longer_than_announced_is_replayed_to_litestar(api_settings: Settings) -> None:
    """A body that outgrows the limit while streaming is passed on with every message it read, in order,
    and then the rest of the stream."""
    route, token = await _route(replace(api_settings, max_body_bytes=10))
    messages = [
        {"type": "http.request", "body": b"123456", "more_body": True},
        {"type": "http.request", "body": b"789012", "more_body": True},
        {"type": "http.request", "body": b"345", "more_body": False},
    ]
    receive = _Receive(messages)
    headers = ((b"authorization", f"Bearer {token}".encode()), (b"content-length", b"8"))
    passed_on = await route(_scope(*headers), receive, _never_send)
    assert isinstance(passed_on, _Replay) and receive.reads == 2
    assert [await passed_on() for _ in range(3)] == messages


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (RedisConnectionError("connection refused"), 503, "UNAVAILABLE"),
        (RuntimeError("bug"), 500, "INTERNAL_ERROR"),
    ],
    ids=["redis-down", "bug"],
)
async def test_a_failure_after_the_rate_limit_is_answered_alike(
    pair: tuple[Side, Side], monkeypatch: pytest.MonkeyPatch, failure: Exception, status: int, code: str
) -> None:
    """An engine call that raises (Redis gone: 503 UNAVAILABLE; a bug: 500 INTERNAL_ERROR) gets the same
    envelope from the lean route as from Litestar's exception handler."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise failure

    answers = []
    for side in pair:
        engine = side.client.app.state.services.engine
        monkeypatch.setattr(engine, "place", broken)
        answers.append(await post("maker", limit("buy", "50000", "0.1"))(side))
    a, b = answers
    assert (a.status_code, a.json()["error"]["code"]) == (status, code)
    assert (b.status_code, b.json()) == (a.status_code, a.json())
    assert sorted(a.headers.multi_items()) == sorted(b.headers.multi_items())
    assert pair[0].served == [True]


def test_under_uvicorn_the_lean_route_serves_orders_and_litestar_the_rest(api_settings: Settings) -> None:
    """Through a real uvicorn server: a well-formed order is answered by the lean route (201); a chunked
    body (no Content-Length) and an unknown field go on to Litestar, which answers 201 and 422; the order
    counts under the route template either way."""
    import httpx

    from tests.api.test_ws_support import LiveServer, engine_for, fund, token

    app = cast(ExchangeApp, create_app(api_settings))
    server = LiveServer(app).start()
    try:
        served = record_lean_route_decisions(app)
        fund(engine_for(str(api_settings.redis_url)), 41)
        counted = metrics.HTTP_REQUESTS.value("POST", "/api/orders", "201")  # the registry is per process
        headers = {"authorization": f"Bearer {token(api_settings, 41)}"}
        order = limit("buy", "40000", "0.01")
        with httpx.Client(base_url=server.http_url, headers=headers, timeout=10) as http:
            lean = http.post("/api/orders", json=order)
            chunked = http.post("/api/orders", content=iter([json.dumps(order).encode()]))
            unknown = http.post("/api/orders", json={**order, "colour": "red"})
        assert (lean.status_code, chunked.status_code, unknown.status_code) == (201, 201, 422), unknown.text
        assert lean.json()["status"] == "open" and lean.headers["content-type"] == "application/json"
        assert "content-length" not in chunked.request.headers
        assert served == [True, False, False]
        assert metrics.HTTP_REQUESTS.value("POST", "/api/orders", "201") == counted + 2
    finally:
        server.stop()


async def test_an_absurd_content_length_goes_to_litestar_unread(api_settings: Settings) -> None:
    """A Content-Length of thousands of digits (int() would refuse it) is passed on, not a crash."""
    route, token = await _route(api_settings)
    receive = _Receive([{"type": "http.request", "body": b"{}", "more_body": False}])
    headers = ((b"authorization", f"Bearer {token}".encode()), (b"content-length", b"9" * 5000))
    passed_on = await route(_scope(*headers), receive, _never_send)
    assert passed_on is receive and receive.reads == 0
