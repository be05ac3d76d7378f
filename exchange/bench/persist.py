"""`exchange bench persist`: how fast one worker persists, and the lag at 1,000 orders/s.

1. Throughput: build a backlog (`--size` orders, default 20,000, on BTC-USDT: resting orders, crossing
   orders that trade, cancels), then time one worker (`Persister.drain`, one process) persisting it:
   events/s.
2. Lag: the engine runs open-loop at 1,000 orders/s (orders scheduled by the clock, `ts_ms` = real time)
   for `EXCHANGE_BENCH_SECONDS` (default 10; `--size` below 20,000 shortens it) while one worker process
   persists; a sampler reads `workers.lag.lag` every 50 ms: the age of the oldest unpersisted event.
   p50/p99 of those samples.

Besides the wall-clock rate it reports `worker_cpu_events_per_s` (events per CPU second of the worker
process itself: what one worker can do when PostgreSQL and Redis keep up) and the 1-minute load average,
because on a shared 2-core machine the wall-clock numbers mostly measure the other processes.

Servers: throwaway Redis and PostgreSQL unless `--redis-url` / `--database-url` are given (they must point
at empty databases: the benchmark writes to them). The last line is JSON with `events_per_s_per_worker`,
`lag_p50_s`, `lag_p99_s` (and details). Targets (issue 4): >= 5,000 events/s, lag p99 < 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import redis

SYMBOL = "BTC-USDT"
MID_TICKS = 6_000_000  # 60,000.00 USDT
RATE = 1000
# accounts the load spreads over: 200, so even a long backlog leaves each far below the engine's 2,000 open
# orders per account (lua U.MAX_OPEN_ORDERS)
ACCOUNTS = 200


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]


class Load:
    """A reproducible mix: 60 % resting limits near the mid, 25 % crossing limits, 15 % cancels."""

    def __init__(self, engine: Any, seed: int = 1) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.open: list[tuple[int, int]] = []
        self.placed = 0

    def fund(self, accounts: range) -> None:
        for a in accounts:
            self.engine.deposit(a, "USDT", 10**13, f"bench-usdt-{a}", int(time.time() * 1000))
            self.engine.deposit(a, "BTC", 10**12, f"bench-btc-{a}", int(time.time() * 1000))

    def step(self) -> None:
        rng = self.rng
        ts = int(time.time() * 1000)
        roll = rng.random()
        account = rng.randint(1, ACCOUNTS)
        if roll < 0.15 and self.open:
            acct, oid = self.open.pop(rng.randrange(len(self.open)))
            with contextlib.suppress(Exception):  # already filled: fine
                self.engine.cancel(acct, oid, ts)
            return
        side = rng.choice(("buy", "sell"))
        offset = rng.randint(1, 200)
        if roll < 0.40:  # crossing
            price = MID_TICKS + offset if side == "buy" else MID_TICKS - offset
        else:
            price = MID_TICKS - offset if side == "buy" else MID_TICKS + offset
        r = self.engine.place(account, SYMBOL, side, "limit", price=price, qty=rng.randint(10, 60), ts_ms=ts)
        self.placed += 1
        if r["order"]["status"] in ("open", "partially_filled"):
            self.open.append((account, int(r["order"]["id"])))
            if len(self.open) > 5000:
                self.open = self.open[-5000:]


def _head(client: redis.Redis) -> int:
    return int(client.hget(f"market:{SYMBOL}", "seq") or 0) + int(client.get("seq:wallet") or 0)  # type: ignore[arg-type]


def run_bench(redis_url: str, database_url: str, backlog_orders: int, lag_seconds: float) -> dict[str, Any]:
    from exchange.seed import seed_all
    from workers.lag import lag
    from workers.persist import Persister

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    if client.dbsize():
        raise SystemExit("exchange bench persist: the Redis database is not empty (give an empty one)")
    engine = seed_all(client)
    load = Load(engine)
    load.fund(range(1, ACCOUNTS + 1))

    # 1. throughput of one worker on a backlog
    for _ in range(backlog_orders):
        load.step()
    backlog = _head(client)
    with Persister.connect(redis_url, database_url) as p:
        started, cpu_started = time.perf_counter(), time.process_time()
        persisted = p.drain(max_seconds=600)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    events_per_s = persisted / elapsed if elapsed > 0 else 0.0

    # 2. lag at 1,000 orders/s with one worker process
    code = (
        "from workers.jobs import JobStack, persist_job, running_on\n"
        f"with running_on(JobStack({redis_url!r}, {database_url!r})):\n"
        "    persist_job(run_seconds=3600.0, idle_s=0.01)"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        c = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                samples.append(float(lag(c, conn)["seconds_behind"]))
                stop.wait(0.05)

    try:
        time.sleep(1.5)  # let the worker import and connect
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        n = int(lag_seconds * RATE)
        late = 0
        for i in range(n):
            due = t0 + i / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.05:
                late += 1
            load.step()
        achieved = n / (time.perf_counter() - t0)
        # let the worker finish the tail, then stop sampling
        deadline = time.monotonic() + 10
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT coalesce(sum(last_seq), 0) FROM stream_cursors").fetchone()
                if row and int(row[0]) >= _head(client):
                    break
                time.sleep(0.05)
        stop.set()
        sampler.join(5)
    finally:
        worker.terminate()
        worker.wait(10)
    client.close()
    return {
        "events_per_s_per_worker": round(events_per_s, 1),
        "lag_p50_s": round(_percentile(samples, 50), 3),
        "lag_p99_s": round(_percentile(samples, 99), 3),
        "lag_max_s": round(max(samples, default=0.0), 3),
        "worker_cpu_events_per_s": round(persisted / cpu, 1) if cpu > 0 else 0.0,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "backlog_events": backlog,
        "backlog_seconds": round(elapsed, 3),
        "load_orders_per_s": round(achieved, 1),
        "load_late_orders": late,
        "lag_samples": len(samples),
    }


def main(args: argparse.Namespace) -> int:
    from exchange.db.migrate import migrate
    from exchange.servers import PostgresServer, RedisServer, available_redis_kinds

    size = getattr(args, "size", None) or 20_000
    lag_seconds = float(os.environ.get("EXCHANGE_BENCH_SECONDS", "10"))
    if size < 20_000:
        lag_seconds = max(2.0, min(lag_seconds, size / 1000))
    with ExitStack() as stack:
        redis_url = getattr(args, "redis_url", None)
        database_url = getattr(args, "database_url", None)
        base = Path(tempfile.mkdtemp(prefix="exchange-bench-persist-"))
        stack.callback(shutil.rmtree, base, True)
        if not redis_url:
            server = stack.enter_context(RedisServer(available_redis_kinds()[0], base / "redis"))
            redis_url = server.url
        if not database_url:
            pg = stack.enter_context(PostgresServer(base / "pg"))
            database_url = pg.create_database("bench")
        migrate(database_url)
        print(
            f"persist bench: backlog {size} orders, then {lag_seconds:.0f} s at {RATE} orders/s", flush=True
        )
        result = run_bench(redis_url, database_url, size, lag_seconds)
    print(
        f"one worker: {result['events_per_s_per_worker']:.0f} events/s; lag at "
        f"{result['load_orders_per_s']:.0f} orders/s: p50 {result['lag_p50_s']} s, "
        f"p99 {result['lag_p99_s']} s",
        flush=True,
    )
    print(json.dumps(result))
    return 0
