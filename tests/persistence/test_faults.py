"""Fault tests: kill -9 workers, a PostgreSQL outage, kill -9 Redis with AOF (bounded in time)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from exchange.servers import PostgresServer, RedisServer, available_redis_kinds
from tests.invariants import assert_invariants
from tests.persistence.flow import Flow, setup_engine
from tests.persistence.streams import assert_pg_equals_streams
from workers.persist import drain
from workers.reconcile import reconcile

pytestmark = pytest.mark.slow

EXCHANGE = [sys.executable, "-m", "exchange.cli"]


def start_worker(redis_url: str, database_url: str) -> subprocess.Popen[bytes]:
    """A real `exchange worker` (RQ SimpleWorker + scheduler) in its own process group."""
    return subprocess.Popen(
        [
            *EXCHANGE,
            "worker",
            "--redis-url",
            redis_url,
            "--database-url",
            database_url,
            "--reconcile-interval",
            "0",
            "--retain",
            "-1",
            "--closed-order-ttl",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def kill9(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def cursor_total(database_url: str) -> int:
    with psycopg.connect(database_url, connect_timeout=2) as conn:
        row = conn.execute("SELECT coalesce(sum(last_seq), 0) FROM stream_cursors").fetchone()
        return int(row[0]) if row else 0


class FlowThread(threading.Thread):
    """Runs the random flow in the background until stopped (or Redis goes away)."""

    def __init__(self, flow: Flow, pause_s: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.flow, self.pause_s = flow, pause_s
        self.stop_event = threading.Event()
        self.steps = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.flow.step()
                self.steps += 1
                if self.pause_s:
                    time.sleep(self.pause_s)
        except redis.ConnectionError as exc:
            self.error = exc

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)


@pytest.fixture
def engine_client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    yield c
    c.close()


def test_killed_workers_lose_and_duplicate_nothing(
    engine_client: redis.Redis, redis_url: str, pg_url: str
) -> None:
    """Seven kill -9 of a real worker at random moments during a flow: PostgreSQL still equals the streams."""
    rng = random.Random(11)
    flow = Flow(setup_engine(engine_client), seed=11)
    flow.fund()
    runner = FlowThread(flow, pause_s=0.001)
    runner.start()
    kills = 0
    worker = start_worker(redis_url, pg_url)
    try:
        deadline = time.monotonic() + 90
        while kills < 7 and time.monotonic() < deadline:
            # wait until this worker is persisting, then kill it at a random instant of its work
            before = cursor_total(pg_url)
            started = time.monotonic()
            while cursor_total(pg_url) == before and time.monotonic() - started < 15:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            kill9(worker)
            kills += 1
            worker = start_worker(redis_url, pg_url)
        persisted_while_killing = cursor_total(pg_url)
        runner.stop()
        flow.settle_statuses()
        # the last worker catches up on its own
        head = sum(
            int(engine_client.hget(f"market:{s}", "seq") or 0) for s in engine_client.smembers("markets")
        )
        head += int(engine_client.get("seq:wallet") or 0)
        deadline = time.monotonic() + 60
        while cursor_total(pg_url) < head and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cursor_total(pg_url) == head
    finally:
        kill9(worker)
        runner.stop()
    assert kills >= 5 and runner.steps > 100 and runner.error is None
    assert persisted_while_killing > 0  # the killed workers were really persisting
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert_pg_equals_streams(engine_client, conn)
        assert reconcile(engine_client, conn, freeze=False).ok


def test_postgres_outage_keeps_trading_and_the_backlog_drains(
    engine_client: redis.Redis, redis_url: str
) -> None:
    """PostgreSQL stopped mid-flow: orders keep flowing through Redis; after restart the worker catches up."""
    from exchange.db.migrate import migrate

    base = Path(tempfile.mkdtemp(prefix="exchange-pg-outage-"))
    pg = PostgresServer(base / "data", fsync=False)
    worker = None
    try:
        pg.start()
        db_url = pg.create_database("outage")
        migrate(db_url)
        flow = Flow(setup_engine(engine_client), seed=5)
        flow.fund()
        worker = start_worker(redis_url, db_url)
        runner = FlowThread(flow, pause_s=0.002)
        runner.start()
        time.sleep(2.0)
        pg.stop()
        steps_before = runner.steps
        deadline = time.monotonic() + 30
        while runner.steps < steps_before + 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.steps >= steps_before + 100  # order entry needs only Redis
        pg.start()
        time.sleep(1.5)
        runner.stop()
        assert runner.error is None
        flow.settle_statuses()
        head = sum(
            int(engine_client.hget(f"market:{s}", "seq") or 0) for s in engine_client.smembers("markets")
        )
        head += int(engine_client.get("seq:wallet") or 0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if cursor_total(db_url) >= head:
                    break
            except psycopg.OperationalError:
                pass
            time.sleep(0.2)
        assert cursor_total(db_url) == head
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert_pg_equals_streams(engine_client, conn)
            assert reconcile(engine_client, conn, freeze=False).ok
    finally:
        if worker is not None:
            kill9(worker)
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("kind", available_redis_kinds())
def test_redis_kill9_with_aof_keeps_every_acknowledged_change(kind: str, pg_url: str) -> None:
    """kill -9 Redis (appendfsync always) during a flow and restart it on the same files: every acknowledged
    order, cancel, fill and wallet operation is there, the invariants hold, and persistence reconciles."""
    base = Path(tempfile.mkdtemp(prefix="exchange-aof-"))
    server = RedisServer(kind, base, appendonly=True, appendfsync="always").start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        flow = Flow(setup_engine(client), seed=23)
        flow.fund()
        runner = FlowThread(flow)
        runner.start()
        deadline = time.monotonic() + 30
        while runner.steps < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.2))
        server.kill()
        runner.join(30)
        assert isinstance(runner.error, redis.ConnectionError) and runner.steps > 50
        server.start()
        client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        engine = setup_engine(client)
        for oid, acked in flow.acked_orders.items():
            now = engine.get_order(oid)
            assert now is not None, f"acknowledged order {oid} lost"
            assert now["filled"] >= acked["filled"]
            if acked["status"] not in ("open", "partially_filled"):
                assert now["status"] == acked["status"], oid
        refs = client.hgetall("wallet:refs")
        assert len(refs) >= len(flow.acked_wallet)
        assert_invariants(client)
        drain(server.url, pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert reconcile(client, conn, freeze=False).ok
        client.close()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
