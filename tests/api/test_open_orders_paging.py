"""`GET /api/orders?status=open` pages (the terminal walks them all): every page is the exact keyset page
of the engine's open orders at that moment while orders come and go between pages, and a page of
sort=id (the terminal's walk) reads about its own order records, not every open order's."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.engine.client import Engine
from tests.api.conftest import make_settings, seed

ACCOUNT = 7001
T0 = 1_700_000_000_000
# engine prices (ticks) and quantities (lots) that rest as buys without crossing anything
PRICES = {"BTC-USDT": (1_000_000, 1_000_300, 1_000_600), "ETH-USDT": (200_000, 200_500)}
# sort key -> the engine order field it sorts by
FIELDS = {"id": "id", "created_at": "created_ms", "updated_at": "updated_ms", "price": "price"}


@dataclass
class Terminal:
    client: AsyncTestClient[Litestar]
    engine: Engine
    headers: dict[str, str]
    redis_url: str
    rng: random.Random

    def place(self, created_ms: int, symbol: str | None = None) -> int:
        symbol = symbol or self.rng.choice(list(PRICES))
        price = self.rng.choice(PRICES[symbol])
        order = self.engine.place(ACCOUNT, symbol, "buy", "limit", price=price, qty=100, ts_ms=created_ms)
        return int(order["order"]["id"])

    def cancel(self, order_id: int, ts_ms: int) -> None:
        self.engine.cancel(ACCOUNT, order_id, ts_ms)


@pytest.fixture
async def terminal(redis_url: str) -> AsyncIterator[Terminal]:
    """The API without PostgreSQL (status=open needs none) and an account with funds for many buys."""
    seed(redis_url)
    engine = Engine(redis_url)
    engine.deposit(ACCOUNT, "USDT", 10**14, "paging", ts_ms=1)
    app = create_app(make_settings(redis_url, None))
    async with AsyncTestClient(app) as client:
        token = app.state.tokens.issue_access(ACCOUNT)
        yield Terminal(client, engine, {"Authorization": f"Bearer {token}"}, redis_url, random.Random(11))


def _key(order: dict[str, Any], sort: str) -> tuple[int, int]:
    return int(order[FIELDS[sort]]), int(order["id"])


def _expected(
    t: Terminal, sort: str, desc: bool, mark: tuple[int, int] | None, symbol: str | None
) -> list[dict[str, Any]]:
    """The engine's open orders after `mark` in (sort value, id) order: what a page must start with."""
    orders = t.engine.open_orders(ACCOUNT, symbol)
    orders.sort(key=lambda o: _key(o, sort), reverse=desc)
    if mark is not None:
        orders = [o for o in orders if (_key(o, sort) < mark if desc else _key(o, sort) > mark)]
    return orders


async def _walk(
    t: Terminal,
    sort: str,
    order: str,
    limit: int,
    symbol: str | None = None,
    between: Callable[[int, tuple[int, int]], None] = lambda page, mark: None,
) -> list[int]:
    """The ids of every page, each checked against the engine at that moment; `between(page, mark)` runs
    after each page but the last."""
    params: dict[str, Any] = {"status": "open", "limit": limit}
    if (sort, order) != ("created_at", "desc"):  # the default: no sort param
        params |= {"sort": sort, "order": order}
    if symbol is not None:
        params["symbol"] = symbol
    seen: list[int] = []
    cursor: str | None = None
    mark: tuple[int, int] | None = None
    for page in range(1000):
        expected = _expected(t, sort, order == "desc", mark, symbol)
        query = {**params, "cursor": cursor} if cursor else params
        r = await t.client.get("/api/orders", params=query, headers=t.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        ids = [o["id"] for o in body["items"]]
        assert ids == [o["id"] for o in expected[:limit]], f"page {page}"
        assert (body["next_cursor"] is None) == (len(expected) <= limit), f"page {page}"
        seen += ids
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        mark = _key(expected[limit - 1], sort)
        between(page, mark)
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(
    ("sort", "order", "symbol"),
    [
        pytest.param("id", "desc", None, id="id-desc-terminal"),
        pytest.param("id", "asc", "BTC-USDT", id="id-asc-symbol"),
        pytest.param("created_at", "desc", None, id="created_at-desc-default"),
        pytest.param("created_at", "asc", "BTC-USDT", id="created_at-asc-symbol"),
        pytest.param("price", "asc", None, id="price-asc"),
        pytest.param("updated_at", "desc", None, id="updated_at-desc"),
    ],
)
async def test_walking_open_pages_returns_each_unchanged_order_once_in_order(
    terminal: Terminal, sort: str, order: str, symbol: str | None
) -> None:
    """Every page equals the engine's exact page at that moment, with created_ms out of id order (API
    clocks differ) and orders cancelled and placed between pages: no order shows twice, and each order
    open for the whole walk shows exactly once."""
    t = terminal
    # created_ms mostly rising with id, with small inversions and a few orders 60 ms behind their id
    stamps = [T0 + 4 * i + t.rng.randint(-6, 6) - (60 if i % 97 == 0 else 0) for i in range(700)]
    placed = [t.place(ts) for ts in stamps]
    cancelled: set[int] = set()
    added: list[int] = []

    def between(page: int, mark: tuple[int, int]) -> None:
        for order_id in t.rng.sample([i for i in placed if i not in cancelled], 4):
            t.cancel(order_id, T0 + 10**6 + page)
            cancelled.add(order_id)
        # new orders: one newer than all, some with a stamp among the orders not shown yet (a lagging
        # clock), and once more than a page of them
        in_walk = mark[0] if sort == "created_at" else T0 + 2000  # (for sort=id: new ids come last)
        behind = in_walk - 40 if order == "desc" else in_walk + 40
        for ts in [T0 + 10**6 + page, behind, behind + 1] + ([behind] * 60 if page == 2 else []):
            added.append(t.place(ts, symbol))

    seen = await _walk(t, sort, order, 50, symbol, between)
    assert len(seen) == len(set(seen))
    unchanged = {i for i in placed if i not in cancelled}
    if symbol is not None:
        unchanged = {i for i in unchanged if t.engine.get_order(i)["symbol"] == symbol}  # type: ignore[index]
    assert unchanged <= set(seen)
    assert set(seen) <= set(placed) | set(added)


def _records_read(redis_url: str) -> int:
    """Keys the Redis server has looked up so far (every GET/MGET key and SMEMBERS counts one)."""
    with redis.Redis.from_url(redis_url) as r:
        stats = r.info("stats")
    return int(stats["keyspace_hits"]) + int(stats["keyspace_misses"])


async def test_a_page_sorted_by_id_reads_about_its_own_records(terminal: Terminal) -> None:
    """The terminal's walk (status=open, sort=id desc, 100 a page) over 1,500 open orders: each page looks
    up about its own 101 order records, not all 1,500 (other sorts must read every record)."""
    t = terminal
    for i in range(1500):
        t.place(T0 + i + t.rng.randint(-3, 3))
    cursor: str | None = None
    reads: list[int] = []
    for _ in range(20):
        before = _records_read(t.redis_url)
        query: dict[str, Any] = {"status": "open", "limit": 100, "sort": "id", "order": "desc"}
        r = await t.client.get(
            "/api/orders", params=query | ({"cursor": cursor} if cursor else {}), headers=t.headers
        )
        reads.append(_records_read(t.redis_url) - before)
        assert r.status_code == 200, r.text
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(reads) == 15
    assert max(reads) < 150, reads
