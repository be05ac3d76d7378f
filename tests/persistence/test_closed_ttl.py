"""Every persister gives a persisted closed order's Redis record its TTL: the worker's job, `drain()` (what
`exchange worker --burst` runs) and reconcile's catch-up, so closed orders never pile up in Redis."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis

from tests.persistence.flow import fail_batches_of, setup_engine
from workers.events import EventError
from workers.persist import DEFAULT_CLOSED_TTL_S, Persister, drain


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


def test_a_worker_killed_right_after_its_commit_leaves_no_closed_record_without_a_ttl(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies between its PostgreSQL commit and its next Redis call (where the cursor and the
    notices go): the cancelled order is in PostgreSQL and its Redis record already expires. Before, the
    EXPIRE came after the commit and such a record stayed forever."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    closed = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)["order"]["id"]
    engine.cancel(1, closed, ts_ms=3_000)

    def killed(self: Persister, batches: list[Any]) -> None:
        raise SystemExit("killed after the commit")

    monkeypatch.setattr(Persister, "_after_commit", killed)
    with Persister.connect(redis_url, pg_url) as worker, pytest.raises(SystemExit):
        worker.persist_round()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT status FROM orders WHERE order_id = %s", (closed,)).fetchone()
    assert row == ("cancelled",)
    assert 0 < redis_client.ttl(f"order:{closed}") <= DEFAULT_CLOSED_TTL_S


def test_a_failed_commit_keeps_nothing_but_the_early_ttl_and_the_retry_persists_the_order(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round whose transaction fails after the EXPIRE went out: PostgreSQL has nothing, the record keeps
    its (long) TTL, and the next round persists the order from the stream and expires it again."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    closed = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)["order"]["id"]
    engine.cancel(1, closed, ts_ms=3_000)
    engine.place(1, "PB-PQ", "buy", "limit", price=5, qty=1, ts_ms=4_000)
    undo = fail_batches_of(monkeypatch, "events:PB-PQ")  # the round fails after PA-PQ's batch
    with Persister.connect(redis_url, pg_url) as worker, pytest.raises(EventError):
        worker.persist_round()
    assert 0 < redis_client.ttl(f"order:{closed}") <= DEFAULT_CLOSED_TTL_S
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    undo()
    drain(redis_url, pg_url)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT status FROM orders WHERE order_id = %s", (closed,)).fetchone()
    assert row == ("cancelled",)
