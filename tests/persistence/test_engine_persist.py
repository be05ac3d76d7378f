"""Persistence, reconciliation and restore against the real Lua engine and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time

import psycopg
import pytest
import redis

from exchange.engine.state import state_hash, state_snapshot
from tests.persistence.flow import MARKETS, Flow, settled_flow, setup_engine
from tests.persistence.streams import assert_pg_equals_streams
from workers.persist import drain
from workers.reconcile import reconcile
from workers.restore import RestoreError, restore


@pytest.fixture
def flow(client: redis.Redis) -> Flow:
    return settled_flow(client, seed=7, commands=400)


def test_drained_history_equals_the_streams_and_the_engine(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """After a random flow and a drain, PostgreSQL holds every event once and each order's latest state."""
    assert drain(redis_url, pg_url) > 0
    assert drain(redis_url, pg_url) == 0
    with psycopg.connect(pg_url) as conn:
        assert_pg_equals_streams(client, conn)
        rows = conn.execute(
            "SELECT order_id, status, filled_lots, quote_filled_minor, hold_minor, reason FROM orders"
        ).fetchall()
        assert len(rows) == int(client.get("seq:order") or 0)
        for oid, status, filled, quote_filled, hold, reason in rows:
            live = flow.engine.get_order(oid)
            assert live is not None
            assert (status, filled, quote_filled, hold, reason) == (
                live["status"],
                live["filled"],
                live["quote_filled"],
                live["hold"],
                live["reason"],
            ), oid
        fills = conn.execute("SELECT count(*), count(DISTINCT trade_id) FROM fills").fetchone()
        assert fills == (2 * int(client.get("seq:trade") or 0), int(client.get("seq:trade") or 0))


def test_reconcile_finds_no_difference_after_a_clean_flow(
    client: redis.Redis, flow: Flow, pg_url: str
) -> None:
    """Reconciliation of an untouched engine reports nothing and freezes nothing."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        report = reconcile(client, conn)
    assert report.ok, report.differences
    assert report.checked["balances"] > 0
    assert report.frozen_markets == []
    assert all(flow.engine.market(m.symbol)["status"] == "trading" for m in MARKETS)  # type: ignore[index]


# Another process trades as fast as it can on PA-PQ (accounts 90 and 91 cross each other one lot at a time),
# so new events arrive during every persistence round, as they do on a busy exchange.
_STEADY_TRADER = """
import sys, itertools
from exchange.engine.client import Engine
engine = Engine(sys.argv[1])
ts = itertools.count(2_000_000)
for account in (90, 91):
    engine.deposit(account, "PA", 10**9, f"steady-{account}-PA", next(ts))
    engine.deposit(account, "PQ", 10**12, f"steady-{account}-PQ", next(ts))
while True:
    engine.place(90, "PA-PQ", "sell", "limit", price=100, qty=1, ts_ms=next(ts))
    engine.place(91, "PA-PQ", "buy", "limit", price=100, qty=1, ts_ms=next(ts))
"""


def test_reconcile_under_a_steady_flow_persists_up_to_its_snapshot_and_returns(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """Orders keep arriving while reconciliation runs: it persists up to the heads of its snapshot, compares
    and returns, instead of persisting until a moment with nothing new (which a busy exchange never has:
    it then persisted, unpaced, for its whole catch-up time)."""
    first = int(client.get("seq:order") or 0)
    trader = subprocess.Popen([sys.executable, "-c", _STEADY_TRADER, redis_url])
    try:
        deadline = time.monotonic() + 10
        while int(client.get("seq:order") or 0) < first + 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            report = reconcile(client, conn, freeze=False, catch_up_seconds=20)
        took = time.monotonic() - started
        still_trading = int(client.get("seq:order") or 0)
        time.sleep(0.2)
        assert int(client.get("seq:order") or 0) > still_trading  # the flow really was steady throughout
    finally:
        trader.kill()
        trader.wait()
    assert report.caught_up and report.ok, report.differences
    assert took < 10, took


def test_a_one_unit_balance_change_is_detected_and_freezes_its_markets(
    client: redis.Redis, flow: Flow, pg_url: str
) -> None:
    """A raw HINCRBY of one unit is reported with both values and puts the asset's markets in cancel_only."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert reconcile(client, conn).ok
        client.hincrby("balance:3", "PB:available", 1)
        report = reconcile(client, conn)
    assert not report.ok
    balance = [d for d in report.differences if d["kind"] == "balance"]
    assert len(balance) == 1
    d = balance[0]
    assert (d["account"], d["asset"]) == (3, "PB")
    assert d["redis"]["available"] == d["ledger"]["available"] + 1
    assert [d["asset"] for d in report.differences if d["kind"] == "total"] == ["PB"]
    assert report.frozen_markets == ["PB-PQ"]
    assert flow.engine.market("PB-PQ")["status"] == "cancel_only"  # type: ignore[index]
    assert flow.engine.market("PA-PQ")["status"] == "trading"  # type: ignore[index]
    assert int(client.get("reconcile:differences_total") or 0) == 2


def test_a_changed_supply_counter_is_detected_and_freezes_its_markets(
    client: redis.Redis, flow: Flow, pg_url: str
) -> None:
    """The supply counter that caps deposits must equal deposits - withdrawals: a raw HINCRBY on it (or a
    missing counter) is a difference of kind supply, and the asset's markets stop trading."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert reconcile(client, conn).ok
        supply = int(client.hget("asset:PB", "supply") or 0)
        assert supply > 0
        client.hincrby("asset:PB", "supply", -1)
        report = reconcile(client, conn)
        assert [(d["kind"], d["asset"], d["redis"]) for d in report.differences] == [
            ("supply", "PB", supply - 1)
        ]
        assert report.differences[0]["deposits_minus_withdrawals"] == supply
        assert report.frozen_markets == ["PB-PQ"]
        client.hdel("asset:PQ", "supply")
        report = reconcile(client, conn, freeze=False)
    assert [(d["asset"], d["redis"]) for d in report.differences] == [("PB", supply - 1), ("PQ", None)]


def test_restore_rebuilds_the_same_engine_state(
    client: redis.Redis, flow: Flow, redis_url: str, pg_url: str
) -> None:
    """Drain, hash, FLUSHDB, restore: the state hash (streams aside) is equal, and trading goes on."""
    drain(redis_url, pg_url)
    before = state_snapshot(client, include_streams=False)
    expected = state_hash(client, include_streams=False)
    client.flushdb()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn)
        after = state_snapshot(client, include_streams=False)
        diff = {
            k: (before.get(k), after.get(k))
            for k in set(before) | set(after)
            if before.get(k) != after.get(k)
        }
        assert diff == {}
        assert state_hash(client, include_streams=False) == expected
        with pytest.raises(RestoreError):
            restore(client, conn)
        # the engine continues the sequences, and persistence continues the cursors
        flow.run(150)
        flow.settle_statuses()
        assert drain(redis_url, pg_url) > 0
        assert reconcile(client, conn).ok


def test_reconcile_includes_accounts_the_scan_missed(
    client: redis.Redis, flow: Flow, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account created while SCAN ran (simulated: the scan misses two) is still compared, exactly."""
    import workers.reconcile as rec

    real = rec.scan_accounts
    monkeypatch.setattr(rec, "scan_accounts", lambda c: real(c) - {4, 5})
    client.hincrby("balance:5", "PQ:available", 1)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        report = reconcile(client, conn, freeze=False)
    assert [(d["kind"], d.get("account"), d["asset"]) for d in report.differences] == [
        ("balance", 5, "PQ"),
        ("total", None, "PQ"),
    ]


@pytest.mark.slow
def test_restore_after_a_long_flow_keeps_the_recent_trades_window(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """With more than 200 trades per market (the engine's recent-trades list is capped), restore is exact."""
    flow = Flow(setup_engine(client), seed=99)
    while int(client.get("seq:trade") or 0) <= 450:
        flow.fund()
        flow.run(300)
        flow.settle_statuses()
    drain(redis_url, pg_url)
    expected = state_hash(client, include_streams=False)
    client.flushdb()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        restore(client, conn)
    assert client.llen("trades:PA-PQ") == 200
    assert state_hash(client, include_streams=False) == expected


def test_a_buy_by_quote_that_spends_its_whole_budget_is_persisted_filled(
    client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Its trades report it partially filled and no hold is left to release: the order_done that still says
    `filled` is what PostgreSQL needs; without it the row stayed open, and reconcile froze the market."""
    engine = setup_engine(client)
    engine.deposit(1, "PA", 10, "exact-1", ts_ms=1)
    engine.deposit(2, "PQ", 1_000, "exact-2", ts_ms=1)
    engine.place(1, "PA-PQ", "sell", "limit", price=100, qty=5, ts_ms=2)
    # 3 lots at 100 = 300 PQ, plus the 20 bps taker fee rounded up: 301
    order = engine.place(2, "PA-PQ", "buy", "market", quote_qty=301, ts_ms=3)["order"]
    assert (order["status"], order["filled"], order["hold"]) == ("filled", 3, 0)
    drain(redis_url, pg_url)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT status, filled_lots, hold_minor FROM orders WHERE order_id = %s", (order["id"],)
        ).fetchone()
        assert row == ("filled", 3, 0)
        report = reconcile(client, conn)
    assert report.ok, report.differences
    assert report.frozen_markets == []
