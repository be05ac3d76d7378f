"""Redis lost writes that PostgreSQL had persisted (a machine crash with `appendfsync everysec`): the
persister stops at the stream instead of mixing the lost history with the new one that reuses its sequence
numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from tests.persistence.flow import setup_engine
from tests.persistence.redis_loss import lose_wallet_writes, roll_back, save
from workers.jobs import trim_streams
from workers.lag import lag
from workers.persist import Persister, StreamRegressed, drain


def wallet_refs(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url) as conn:
        return [str(r[0]) for r in conn.execute("SELECT ref FROM wallet_ops ORDER BY seq").fetchall()]


def test_a_wallet_stream_that_lost_persisted_entries_stops_instead_of_mixing_histories(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Deposits a2, a3 are persisted, then Redis loses them; new deposits reuse their sequence numbers.
    Draining raises StreamRegressed, both while the head is behind the cursor and once new events have
    passed it, and PostgreSQL keeps exactly what it had (no new deposit slips in under an old number)."""
    engine = setup_engine(redis_client)
    lose_wallet_writes(engine, redis_url, pg_url)
    assert wallet_refs(pg_url) == ["a1", "a2", "a3"]
    with pytest.raises(StreamRegressed, match="entry 3 is no longer in Redis"):
        drain(redis_url, pg_url)  # head 1 < persisted 3
    for i, ts in enumerate((4_000, 5_000, 6_000), start=1):
        engine.deposit(2, "PQ", 7, f"b{i}", ts_ms=ts)  # wallet seqs 2, 3, 4: two of them reused
    with pytest.raises(StreamRegressed, match="entry 3 has ts 5000, PostgreSQL persisted one with ts 3000"):
        drain(redis_url, pg_url)  # head 4 > 3, but entry 3 is not the one persisted
    assert wallet_refs(pg_url) == ["a1", "a2", "a3"]
    with psycopg.connect(pg_url) as conn:  # `exchange status` says so too, though the head is past the cursor
        wallet = lag(redis_client, conn)["streams"]["events:wallet"]
    assert (wallet["head_seq"], wallet["persisted_seq"], wallet["regressed"]) == (4, 3, True)


def test_a_market_stream_behind_its_cursor_stops_the_persister(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """A market stream whose head fell behind the persisted cursor raises StreamRegressed (the worker's job
    then fails visibly, every 5 s) instead of waiting quietly for the head to pass the cursor."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    saved = save(redis_url)
    engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)
    engine.place(1, "PA-PQ", "buy", "limit", price=6, qty=1, ts_ms=3_000)
    with Persister.connect(redis_url, pg_url) as worker:  # a long-lived worker, as `exchange worker` runs
        worker.drain()
        roll_back(redis_url, saved)
        with pytest.raises(StreamRegressed, match="events:PA-PQ: the engine's head 0 is behind persisted 2"):
            worker.persist_round()
    with pytest.raises(StreamRegressed, match="events:PA-PQ"):
        drain(redis_url, pg_url)  # a fresh one, from the cursor in PostgreSQL


def test_trimming_keeps_the_last_persisted_entry_for_the_check(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Even with retain 0 the entry at the cursor stays, so an intact stream keeps persisting after a trim
    (no false alarm) and the regression check always has its entry to compare."""
    engine = setup_engine(redis_client)
    for i in range(5):
        engine.deposit(1, "PQ", 10, f"t{i}", ts_ms=1_000 + i)
    drain(redis_url, pg_url)
    trim_streams(redis_client, retain=0, approximate=False)
    assert [e[0] for e in redis_client.xrange("events:wallet")] == ["5-0"]
    engine.deposit(1, "PQ", 10, "after", ts_ms=2_000)
    drain(redis_url, pg_url)
    assert wallet_refs(pg_url)[-1] == "after"
    with psycopg.connect(pg_url) as conn:
        report = lag(redis_client, conn)["streams"]
    assert not any(s["regressed"] for s in report.values()), report


def test_a_regressed_stream_does_not_hold_back_the_others_and_burst_says_so(
    redis_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """PA-PQ regressed, PB-PQ has new events: a round persists PB-PQ, then raises for PA-PQ alone; and
    `exchange worker --burst` exits 2 with a one-line error naming the stream and the procedure."""
    engine = setup_engine(redis_client)
    engine.deposit(1, "PQ", 10_000, "fund", ts_ms=1_000)
    saved = save(redis_url)
    engine.place(1, "PA-PQ", "buy", "limit", price=5, qty=1, ts_ms=2_000)
    drain(redis_url, pg_url)
    roll_back(redis_url, saved)
    engine.place(1, "PB-PQ", "buy", "limit", price=5, qty=1, ts_ms=3_000)
    with pytest.raises(StreamRegressed) as raised:
        drain(redis_url, pg_url)
    assert raised.value.streams == ["events:PA-PQ"]
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT last_seq FROM stream_cursors WHERE stream = 'events:PB-PQ'").fetchone()
    assert row is not None and row[0] == 1
    burst = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "worker", "--burst", "--redis-url", redis_url,
         "--database-url", pg_url],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert burst.returncode == 2, burst.stderr
    assert burst.stderr.startswith("error: events:PA-PQ: the engine's head 0 is behind")
    assert "REGRESSED" in burst.stderr and "Traceback" not in burst.stderr
