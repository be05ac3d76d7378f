"""Simulate Redis losing its last writes (a machine crash with `appendfsync everysec`): `save` what an AOF
a second old would still hold, then `roll_back` to it. Only the test's own throwaway database is touched."""

from __future__ import annotations

from typing import Any

import redis

from exchange.engine.client import Engine
from workers.persist import drain

Saved = dict[Any, tuple[Any, int]]


def save(url: str) -> Saved:
    """Every key of the database as DUMP + TTL."""
    raw = redis.Redis.from_url(url, protocol=2)
    try:
        return {k: (raw.dump(k), raw.pttl(k)) for k in raw.scan_iter()}
    finally:
        raw.close()


def roll_back(url: str, saved: Saved) -> None:
    """Redis comes back as it was when `save` ran."""
    raw = redis.Redis.from_url(url, protocol=2)
    try:
        raw.flushdb()
        for key, (value, ttl) in saved.items():
            raw.restore(key, max(ttl, 0), value)
    finally:
        raw.close()


def lose_wallet_writes(engine: Engine, redis_url: str, pg_url: str) -> None:
    """Deposits a1, a2, a3 (100, 200, 300 PQ to account 1, ts 1,000..3,000) are persisted; then Redis comes
    back holding only a1: the wallet head is 1, PostgreSQL's cursor 3."""
    engine.deposit(1, "PQ", 100, "a1", ts_ms=1_000)
    saved = save(redis_url)
    engine.deposit(1, "PQ", 200, "a2", ts_ms=2_000)
    engine.deposit(1, "PQ", 300, "a3", ts_ms=3_000)
    drain(redis_url, pg_url)
    roll_back(redis_url, saved)


def lose_market_writes(engine: Engine, redis_url: str, pg_url: str) -> None:
    """Account 1 holds 10,000 PQ; two PA-PQ limit buys (prices 5 and 6) are persisted; then Redis comes
    back without them: the PA-PQ head is 0, PostgreSQL's cursor 2."""
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    saved = save(redis_url)
    engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)
    engine.place(1, "PA-PQ", "buy", "limit", price=6, qty=1, ts_ms=3_000)
    drain(redis_url, pg_url)
    roll_back(redis_url, saved)
