"""Every persister gives a persisted closed order's Redis record its TTL: the worker's job, `drain()` (what
`exchange worker --burst` runs) and reconcile's catch-up, so closed orders never pile up in Redis."""

from __future__ import annotations

import redis

from tests.persistence.flow import setup_engine
from workers.persist import DEFAULT_CLOSED_TTL_S, drain


def test_drain_expires_closed_orders_but_keeps_those_a_retry_may_read(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """After drain() a cancelled order's record expires within the default TTL; an open order and a closed
    one with a client_order_id (the engine's retry check reads it) have none."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    closed = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)["order"]["id"]
    engine.cancel(1, closed, ts_ms=3_000)
    kept = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, client_order_id="c1", ts_ms=4_000)
    engine.cancel(1, kept["order"]["id"], ts_ms=5_000)
    resting = engine.place(1, "PA-PQ", "buy", "limit", price=4, qty=1, ts_ms=6_000)["order"]["id"]
    drain(redis_url, pg_url)
    assert 0 < redis_client.ttl(f"order:{closed}") <= DEFAULT_CLOSED_TTL_S
    assert redis_client.ttl(f"order:{kept['order']['id']}") == -1
    assert redis_client.ttl(f"order:{resting}") == -1
