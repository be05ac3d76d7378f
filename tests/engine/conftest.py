"""Engine test fixtures: an `Engine` on every server kind with the library loaded, the seed assets and
markets plus small test markets with readable numbers, and the invariant check after every test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from exchange.engine import Engine
from exchange.engine.codec import event_fields
from exchange.money import MarketSpec
from exchange.seed import seed_all
from tests.invariants import assert_invariants

# XB-XQ: tick 1, lot 1, both assets 0 decimals: one lot at price p costs p quote units plus fees.
SIMPLE = MarketSpec("XB-XQ", "XB", "XQ", "1", "1", "1", "1000000", "0", "1000000", 10, 20)
# YB-XQ: tick 0.1 of a 0-decimal quote, so num/den = 1/10 and notionals round.
FRACTION = MarketSpec("YB-XQ", "YB", "XQ", "0.1", "1", "1", "1000000", "0", "1000000", 10, 20)


class Exchange:
    """The engine plus conveniences for readable scenarios."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.redis: redis.Redis = engine.redis
        self._ts = itertools.count(1_000)
        self._refs = itertools.count(1)

    def ts(self) -> int:
        return next(self._ts)

    def fund(self, account: int, asset: str, amount: int) -> None:
        self.engine.deposit(account, asset, amount, f"fund-{next(self._refs)}", self.ts())

    def place(
        self, account: int, side: str, price: int = 0, qty: int = 0, symbol: str = "XB-XQ", **kw: Any
    ) -> dict[str, Any]:
        kw.setdefault("type", "limit" if price else "market")
        otype = kw.pop("type")
        return self.engine.place(account, symbol, side, otype, price=price, qty=qty, ts_ms=self.ts(), **kw)

    def balance(self, account: int, asset: str) -> tuple[int, int]:
        return self.engine.balances(account).get(asset, (0, 0))

    def events(self, symbol: str = "XB-XQ") -> list[dict[str, str]]:
        return [event_fields(eid, f) for eid, f in self.redis.xrange(f"events:{symbol}")]


@pytest.fixture
def engine(redis_url_each: str) -> Iterator[Engine]:
    client = redis.Redis.from_url(redis_url_each, decode_responses=True, protocol=2)
    eng = seed_all(client)
    eng.create_asset("XB", "Test base", 0)
    eng.create_asset("YB", "Test base 2", 0)
    eng.create_asset("XQ", "Test quote", 0)
    eng.create_market(SIMPLE)
    eng.create_market(FRACTION)
    yield eng
    client.close()


@pytest.fixture
def ex(engine: Engine) -> Exchange:
    return Exchange(engine)


@pytest.fixture(autouse=True)
def _invariants_after_test(engine: Engine) -> Iterator[None]:
    yield
    assert_invariants(engine.redis)
