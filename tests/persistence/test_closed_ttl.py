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


@pytest.mark.parametrize("next_worker", ["cut round", "one stream"])
def test_a_worker_killed_right_after_its_commit_leaves_no_closed_record_without_a_ttl(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch, next_worker: str
) -> None:
    """The worker dies between its PostgreSQL commit and its after-commit step (cursor copy, EXPIREs,
    notices): the next worker to lock the stream (in a consistent-cut round, or persisting that stream
    alone) sees Redis's cursor behind PostgreSQL's and gives the closed orders of that gap their TTL.
    Before, such a record stayed forever."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    closed = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)["order"]["id"]
    engine.cancel(1, closed, ts_ms=3_000)
    resting = engine.place(1, "PA-PQ", "buy", "limit", price=4, qty=1, ts_ms=4_000)["order"]["id"]

    def killed(self: Persister, batches: list[Any]) -> None:
        raise SystemExit("killed after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(Persister, "_after_commit", killed)
        with Persister.connect(redis_url, pg_url) as worker, pytest.raises(SystemExit):
            worker.persist_round()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT status FROM orders WHERE order_id = %s", (closed,)).fetchone()
    assert row == ("cancelled",)
    assert redis_client.ttl(f"order:{closed}") == -1  # the dead worker's EXPIRE never went out
    with Persister.connect(redis_url, pg_url) as worker:  # nothing new to persist; the gap is repaired
        if next_worker == "cut round":
            assert worker.persist_round() == (0, 0)
        else:
            assert worker.persist_stream("events:PA-PQ").events == 0
    assert 0 < redis_client.ttl(f"order:{closed}") <= DEFAULT_CLOSED_TTL_S
    assert redis_client.ttl(f"order:{resting}") == -1


def test_a_failed_round_expires_nothing_so_a_late_retry_still_has_every_record(
    redis_client: redis.Redis, redis_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post-only buy that would cross is rejected on arrival: its Redis record is all there is of its
    side, price and qty. A round that fails (after writing its batch in the rolled-back transaction) must not
    expire it, whenever the retry comes; the retry then persists the order whole and expires it."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    engine.deposit(2, "PA", 10, "fund-a", ts_ms=1_000)
    engine.place(2, "PA-PQ", "sell", "limit", price=5, qty=1, ts_ms=2_000)
    rejected = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, post_only=True, ts_ms=2_001)
    assert rejected["order"]["status"] == "rejected"
    oid = rejected["order"]["id"]
    engine.place(1, "PB-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_002)
    undo = fail_batches_of(monkeypatch, "events:PB-PQ")  # the round fails after PA-PQ's batch
    with Persister.connect(redis_url, pg_url) as worker, pytest.raises(EventError):
        worker.persist_round()
    assert redis_client.ttl(f"order:{oid}") == -1
    undo()
    drain(redis_url, pg_url)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT side, price_ticks, qty_lots, status FROM orders WHERE order_id = %s", (oid,)
        ).fetchone()
    assert row == ("buy", 5, 1, "rejected")
    assert 0 < redis_client.ttl(f"order:{oid}") <= DEFAULT_CLOSED_TTL_S


def test_reconciliations_catch_up_uses_the_workers_ttl(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """What reconciliation persists on its way gets the workers' TTL, not the default: none when closed orders
    are kept forever (EXCHANGE_CLOSED_ORDER_TTL=0), and a two-day TTL when that is the setting."""
    from workers.reconcile import reconcile_urls

    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    kept = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)["order"]["id"]
    engine.cancel(1, kept, ts_ms=3_000)
    assert reconcile_urls(redis_url, pg_url, freeze=False, closed_ttl_s=None).ok
    assert redis_client.ttl(f"order:{kept}") == -1
    short = engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=4_000)["order"]["id"]
    engine.cancel(1, short, ts_ms=5_000)
    assert reconcile_urls(redis_url, pg_url, freeze=False, closed_ttl_s=2 * 86400).ok
    assert 86400 < redis_client.ttl(f"order:{short}") <= 2 * 86400
