"""`exchange bench api`: order entry and fan-out latency of the whole stack, measured open-loop.

Starts `exchange up --no-mm` in a subprocess (tmp data dir, free port, rate limits and the WebSocket
per-address caps lifted: `BENCH_ENV`) unless `--url` names a running API. Then its limits apply (start it
with the `BENCH_ENV` variables: with the default of 100 WebSocket connections per address, most of the 500
fan-out clients, all from 127.0.0.1, would be refused) and it must run in demo mode, since the benchmark
trades with freshly registered demo accounts.

Open loop: every request has a scheduled send time (`t0 + i / rate`); latency is measured from that
scheduled time to the answer, so a slow server cannot hide its backlog (no coordinated omission). Load
comes from `EXCHANGE_BENCH_PROCS` (default 2) client processes on uvloop; each speaks raw keep-alive
HTTP/1.1 or WebSocket through `asyncio.Protocol`s (`exchange.bench.api_clients`: no task per request, no
parsing of frames nobody measures) and opens more connections whenever all are busy.

Phases (each step lasts `--duration` seconds, default 3):
1. REST `POST /api/orders` at 500/s, then rising rates: p50/p99/p99.9 at 500/s, and the highest rate
   whose p99 stays under 50 ms (and which completes >= 99% of its requests without error);
2. the same over WebSocket `place` ops;
3. the same for the trivial authenticated `GET /api/me` (-> `trivial_get_rate`, `order_vs_trivial` =
   rest_max_rate / trivial_get_rate);
4. fan-out: `--size` (default 500) WebSocket clients subscribed to `book:BTC-USDT` and `trades:BTC-USDT`
   while REST orders make 200 trades/s; latency = receive time - the trade's `ts` (same machine clock),
   recorded by 50 of the clients that parse every frame; the others drain their sockets as raw bytes
   (the server does the same work for each, the load generator much less).

Orders: each client process owns two demo accounts, A and B, and cycles A buy / B sell / B buy / A sell
at one price, so every second order trades with a resting one, the book stays tiny and funds flow back
and forth instead of running out.

Each step's line also gives the CPU per request of every part of the machine (`CpuMeter`, from /proc): the
API processes, Redis, the persistence workers, PostgreSQL and the load generator itself. Before each step
the benchmark waits (`settle`, at most 30 s) until the stack's processes are quiet: the workers have
persisted the previous step's orders and PostgreSQL is idle, so a step is charged only for its own work.

Ends with one JSON line: rest_p50_ms, rest_p99_ms, rest_p999_ms, rest_max_rate, ws_p50_ms, ws_p99_ms,
ws_max_rate, trivial_get_rate, order_vs_trivial, fanout_p50_ms, fanout_p99_ms (plus a few diagnostics).
The machine has 2 cores shared by the load generator, Redis, PostgreSQL and the API processes: the
numbers measure that whole system.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvloop

from exchange.bench.api_clients import HttpLoad, Stats, WsConn, http_request, open_loop

SYMBOL = "BTC-USDT"
PRICE = "60000"
QTY = "0.0001"  # 6 USDT per trade, above the 5 USDT minimum notional
P99_BOUND_MS = 50.0
# steps about 10-25 % apart, the same for every kind: the highest passing rates (and their ratio) are
# measured to a step's width
DEFAULT_RATES = "500,750,1000,1250,1500,1750,2000,2250,2500,2750,3000,3500,4000,4500,5000,5500,6000,7000,8000"
RATES = tuple(int(r) for r in os.environ.get("EXCHANGE_BENCH_RATES", DEFAULT_RATES).split(","))
WS_CONNECTIONS_PER_ACCOUNT = 4
FANOUT_TRADES_PER_S = 200
GRACE_S = 3.0
FANOUT_MEASURED = 50  # fan-out clients that parse frames and record latencies (the rest drain raw bytes)
BENCH_ENV = {  # limits raised for a stack we start ourselves
    "EXCHANGE_RATE_ORDERS": "100000000",
    "EXCHANGE_RATE_REGISTER_IP": "100000",
    "EXCHANGE_RATE_LOGIN_IP": "100000",
    "EXCHANGE_RATE_LOGIN_EMAIL": "100000",
    "EXCHANGE_RATE_LOGIN_EMAIL_ALL": "100000",
    "EXCHANGE_RATE_READS_IP": "0",
    "EXCHANGE_RATE_READS_ACCOUNT": "0",
    "EXCHANGE_WS_FRAMES_PER_S": "1000000",
    # every client of the benchmark comes from 127.0.0.1: no per-address caps (0 = none)
    "EXCHANGE_WS_MAX_PER_IP": "0",
    "EXCHANGE_WS_MAX_PER_ACCOUNT": "0",
    "EXCHANGE_WS_SNAPSHOTS": "0",
}


def log(message: str) -> None:
    print(f"[bench api] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- stack


@contextlib.contextmanager
def running_stack(url: str | None) -> Iterator[tuple[str, Path | None]]:
    """Yield (API base URL, data dir): `url` (no data dir), or a fresh `exchange up --no-mm`."""
    if url:
        yield url.rstrip("/"), None
        return
    from exchange.servers import free_port

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="exchange-bench-api-") as data_dir:
        env = {**os.environ, **BENCH_ENV}
        for key in ("EXCHANGE_REDIS_URL", "EXCHANGE_DATABASE_URL"):
            env.pop(key, None)
        log_path = Path(data_dir) / "up.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "up", "--no-mm", "--data-dir", data_dir,
                 "--port", str(port), "--host", "127.0.0.1"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_ready(base, proc, log_path)
                yield base, Path(data_dir)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exchange up exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"the stack did not become ready:\n{log_path.read_text()[-3000:]}")


def register(base: str, label: str) -> dict[str, Any]:
    """A fresh demo account: {"id", "token"}."""
    email = f"bench-{label}-{uuid.uuid4().hex[:10]}@example.com"
    password = "bench-password-" + uuid.uuid4().hex[:8]
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.post("/api/auth/register", json={"email": email, "password": password})
        r.raise_for_status()
        r = client.post("/api/auth/login", json={"email": email, "password": password})
        r.raise_for_status()
        token = r.json()["access_token"]
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    return {"id": me.get("id"), "token": token}


def cancel_all(base: str, token: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.delete(f"{base}/api/orders", headers={"Authorization": f"Bearer {token}"}, timeout=30)


# ------------------------------------------------------------------------------------ load (workers)


def _order_body(side: str) -> bytes:
    return json.dumps(
        {"symbol": SYMBOL, "side": side, "type": "limit", "price": PRICE, "qty": QTY}, separators=(",", ":")
    ).encode()


# order i of a client process: (account index, side); every second order trades with a resting one
CYCLE = ((0, "buy"), (1, "sell"), (1, "buy"), (0, "sell"))


async def _rest_phase(spec: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(spec["base"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    hostport = f"{host}:{port}"
    load = HttpLoad(host, port)
    await load.open(min(32, max(4, int(spec["rate"] / 100))))
    if spec["kind"] == "get":
        reqs = [http_request("GET", hostport, "/api/me", spec["tokens"][0])]
        ok = 200
    else:
        reqs = [
            http_request("POST", hostport, "/api/orders", spec["tokens"][acct], _order_body(side))
            for acct, side in CYCLE
        ]
        ok = 201
    n = len(reqs)
    await open_loop(
        spec["rate"], spec["duration"], lambda i, scheduled: load.fire(reqs[i % n], scheduled, ok)
    )
    await load.drain(30)
    load.close()
    return load.stats.as_dict(load.in_flight)


_RESULT = b'{"op":"result","req_id":'
_ERROR = b'{"op":"error","req_id":'


async def _ws_phase(spec: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(spec["base"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stats = Stats()
    waiting: dict[int, float] = {}  # req_id -> scheduled time
    authenticated = 0

    def on_text(payload: bytes) -> None:
        nonlocal authenticated
        ok = payload.startswith(_RESULT)
        if ok or payload.startswith(_ERROR):
            start = len(_RESULT) if ok else len(_ERROR)
            end = payload.find(b",", start)
            try:
                scheduled = waiting.pop(int(payload[start:end]), None)
            except ValueError:
                return
            if scheduled is None:
                return
            if ok:
                stats.ok(scheduled)
            else:
                stats.errors += 1
        elif payload.startswith(b'{"op":"authenticated"'):
            authenticated += 1

    conns: list[list[WsConn]] = [[], []]
    for acct in (0, 1):
        for _ in range(WS_CONNECTIONS_PER_ACCOUNT):
            ws = await WsConn.connect(host, port, on_text)
            ws.send_text(json.dumps({"op": "auth", "token": spec["tokens"][acct]}))
            conns[acct].append(ws)
    deadline = time.monotonic() + 30
    while authenticated < 2 * WS_CONNECTIONS_PER_ACCOUNT and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    prefixes = [
        (acct, json.dumps(
            {"op": "place", "symbol": SYMBOL, "side": side, "type": "limit", "price": PRICE, "qty": QTY},
            separators=(",", ":"),
        )[:-1].encode() + b',"req_id":')
        for acct, side in CYCLE
    ]  # fmt: skip

    def fire(i: int, scheduled: float) -> None:
        acct, prefix = prefixes[i % len(prefixes)]
        waiting[i] = scheduled
        stats.sent += 1
        conns[acct][(i // len(prefixes)) % WS_CONNECTIONS_PER_ACCOUNT].send_text(prefix + b"%d}" % i)

    try:
        await open_loop(spec["rate"], spec["duration"], fire)
        deadline = time.monotonic() + 30
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return stats.as_dict(len(waiting))
    finally:
        for ws in conns[0] + conns[1]:
            ws.close()


async def _fanout_listen(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec["clients"]` subscribers, of which `spec["measure"]` parse frames and record the delivery
    latency of trades made between start_at and end_at (epoch s); the others only count bytes (the server's
    work is the same, the load generator's is far smaller)."""
    parts = urlsplit(spec["base"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    state = {"connected": 0, "closed_early": 0}
    start_at, end_at = spec["start_at"], spec["end_at"]
    prefix = f'{{"channel":"trades:{SYMBOL}"'.encode()
    subscribe = json.dumps({"op": "subscribe", "channels": [f"book:{SYMBOL}", f"trades:{SYMBOL}"]})
    start_ms, end_ms = start_at * 1000.0, end_at * 1000.0
    stop_at = end_at + GRACE_S  # trades made in the window may arrive late: keep listening a while

    def measuring(payload: bytes) -> None:
        if payload.startswith(prefix):
            now_ms = time.time() * 1000.0
            for trade in json.loads(payload)["data"]:
                if start_ms <= trade["ts"] <= end_ms:
                    latencies.append(now_ms - trade["ts"])

    def draining(payload: bytes) -> None:
        pass

    conns: list[WsConn] = []
    measure_every = max(1, spec["clients"] // max(1, spec["measure"]))
    for i in range(spec["clients"]):
        try:
            ws = await WsConn.connect(host, port, measuring if i % measure_every == 0 else draining)
        except (OSError, ConnectionError, TimeoutError):
            state["closed_early"] += 1
            continue
        ws.send_text(subscribe)
        conns.append(ws)
        state["connected"] += 1
        await asyncio.sleep(0.002)
    await asyncio.sleep(max(0.0, stop_at - time.time()))
    state["closed_early"] += sum(1 for ws in conns if ws.closed.done())
    received = sum(ws.bytes_in for ws in conns)
    for ws in conns:
        ws.close()
    return {
        "lat": latencies,
        "errors": state["closed_early"],
        "sent": state["connected"],
        "bytes": received,
    }


def run_phase(spec: dict[str, Any]) -> dict[str, Any]:
    """Client-process entry point (top level so the spawn pool can pickle it)."""
    kind = spec["kind"]
    coro = {"rest": _rest_phase, "get": _rest_phase, "ws": _ws_phase, "listen": _fanout_listen}[kind]
    return uvloop.run(coro(spec))


# ------------------------------------------------------------------------------------------ driver


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def _merge_statuses(parts: list[dict[str, Any]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for part in parts:
        for status, n in part.get("statuses", {}).items():
            merged[int(status)] = merged.get(int(status), 0) + n
    return merged


def summarize(parts: list[dict[str, Any]]) -> dict[str, Any]:
    lat = sorted(x for p in parts for x in p["lat"])
    sent = sum(p["sent"] for p in parts)
    errors = sum(p["errors"] for p in parts)
    return {
        "n": len(lat),
        "sent": sent,
        "errors": errors,
        "statuses": _merge_statuses(parts),
        "p50": percentile(lat, 0.50),
        "p99": percentile(lat, 0.99),
        "p999": percentile(lat, 0.999),
        "max": lat[-1] if lat else math.nan,
    }


def redis_ping_us(data_dir: Path | None, n: int = 2000) -> float | None:
    """Wall microseconds of one PING round trip to the stack's Redis: how busy the machine is."""
    if data_dir is None:
        return None
    try:
        import redis

        url = json.loads((data_dir / "stack.json").read_text())["redis_url"]
        with redis.Redis.from_url(url, protocol=2) as client:
            for _ in range(100):
                client.ping()
            start = time.perf_counter()
            for _ in range(n):
                client.ping()
            return (time.perf_counter() - start) * 1e6 / n
    except Exception:
        return None


class CpuMeter:
    """CPU seconds used so far by each part of the stack, read from /proc: load-independent cost per request,
    since the wall-clock numbers depend on what else runs. Parts: the API processes (uvicorn and its
    workers), Redis, the persistence workers, PostgreSQL (the postmaster, its backends, and the children it
    has reaped) and the load generator (this process and its client processes)."""

    PARTS = ("api", "redis", "worker", "postgres", "load")

    def __init__(
        self,
        api_pid: int,
        redis_pid: int | None,
        worker_pids: tuple[int, ...] = (),
        postgres_pid: int | None = None,
        supervisor_pid: int | None = None,
    ) -> None:
        self.api_pid, self.redis_pid = api_pid, redis_pid
        self.worker_pids, self.postgres_pid = set(worker_pids), postgres_pid
        self.supervisor_pid = supervisor_pid  # `exchange up`: our child, but not part of the load generator

    @classmethod
    def for_stack(cls, data_dir: Path | None) -> CpuMeter | None:
        if data_dir is None:
            return None
        try:
            info = json.loads((data_dir / "stack.json").read_text())
            pids = info["pids"]
            workers = tuple(int(pid) for name, pid in pids.items() if name.startswith("worker-"))
            return cls(
                int(pids["api"]),
                info.get("redis_pid"),
                workers,
                info.get("postgres_pid"),
                info.get("supervisor_pid"),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def _stat(pid: int) -> tuple[int, float, float]:
        """(parent pid, own CPU seconds, CPU seconds of its reaped children)."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick,
        )

    def sample(self) -> dict[str, float]:
        used = dict.fromkeys(self.PARTS, 0.0)
        roots = {self.api_pid: "api", os.getpid(): "load"}
        roots.update(dict.fromkeys(self.worker_pids, "worker"))
        if self.redis_pid:
            roots[int(self.redis_pid)] = "redis"
        if self.postgres_pid:
            roots[int(self.postgres_pid)] = "postgres"
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                pid = int(entry.name)
                if pid == self.supervisor_pid:
                    continue
                ppid, cpu, reaped = self._stat(pid)
                if pid in roots:
                    # PostgreSQL forks a backend per connection: count the ones that already exited too
                    used[roots[pid]] += cpu + (reaped if roots[pid] == "postgres" else 0.0)
                elif ppid in roots:
                    used[roots[ppid]] += cpu
        return used


_CPU_NAMES = {"api": "API", "redis": "Redis", "worker": "persistence worker", "postgres": "PostgreSQL",
              "load": "load generator"}  # fmt: skip


def _cpu_text(result: dict[str, Any]) -> str:
    parts = ", ".join(f"{_CPU_NAMES[p]} {result[f'{p}_cpu_ms']:.3f} ms" for p in CpuMeter.PARTS)
    return f"; CPU per request: {parts}"


QUIET_CPU = 0.1  # the stack is quiet when its processes use less than this share of one core ...
QUIET_WINDOW_S = 0.5  # ... over this window
SETTLE_MAX_S = 30.0


def settle(cpu: CpuMeter, sleep: Any = time.sleep, clock: Any = time.monotonic) -> float:
    """Wait until the stack is quiet (the persistence workers have caught up with the last step, PostgreSQL
    is done with what it wrote, no autovacuum is running), so no step pays for its predecessor's leftovers;
    at most SETTLE_MAX_S. Returns the seconds waited."""
    start = clock()
    before = cpu.sample()
    while True:
        sleep(QUIET_WINDOW_S)
        now = cpu.sample()
        busy = sum(now[part] - before[part] for part in CpuMeter.PARTS if part != "load")
        if busy < QUIET_CPU * QUIET_WINDOW_S:
            return clock() - start
        if clock() - start >= SETTLE_MAX_S:
            share = busy / QUIET_WINDOW_S
            log(f"the stack is still busy after {SETTLE_MAX_S:.0f} s ({share:.0%} of a core); measuring now")
            return clock() - start
        before = now


class Driver:
    def __init__(self, base: str, duration: float, procs: int, cpu: CpuMeter | None = None) -> None:
        self.cpu = cpu
        self.base = base
        self.duration = duration
        self.procs = procs
        self.pool = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"))
        self.accounts = [[register(base, f"p{w}a"), register(base, f"p{w}b")] for w in range(procs)]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def step(self, kind: str, rate: float, warmup: bool = False) -> dict[str, Any]:
        duration = min(self.duration, 1.0) if warmup else self.duration
        specs = [
            {"kind": kind, "base": self.base, "rate": rate / self.procs, "duration": duration,
             "tokens": [a["token"] for a in self.accounts[w]]}
            for w in range(self.procs)
        ]  # fmt: skip
        if self.cpu and not warmup:
            settle(self.cpu)
        before = self.cpu.sample() if self.cpu else None
        result = summarize(list(self.pool.map(run_phase, specs)))
        if self.cpu and before is not None:
            used = self.cpu.sample()
            done = max(1, result["n"])
            for part in CpuMeter.PARTS:
                result[f"{part}_cpu_ms"] = 1000 * (used[part] - before[part]) / done
        if kind != "get":
            for pair in self.accounts:
                for account in pair:
                    cancel_all(self.base, account["token"])
        log(
            f"{kind:4} {rate:>6.0f}/s{' (warm-up)' if warmup else ''}: "
            f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
            f"p99.9 {result['p999']:.2f} ms, max {result['max']:.1f} ms, "
            f"errors {result['errors']}/{result['sent']} {result['statuses'] or ''}"
            + (_cpu_text(result) if "api_cpu_ms" in result else "")
        )
        return result

    def max_rate(self, kind: str) -> tuple[float, dict[str, Any]]:
        """(highest passing rate, the first step's result) stepping up RATES until p99 >= bound or errors
        (`EXCHANGE_BENCH_RATES`, comma-separated, overrides the steps; the first should be 500)."""
        best, first = 0.0, None
        self.step(kind, min(RATES[0], 200), warmup=True)  # open connections, warm caches; not counted
        for rate in RATES:
            result = self.step(kind, rate)
            first = first or result
            ok = result["p99"] < P99_BOUND_MS and result["errors"] <= 0.01 * result["sent"]
            if not ok:
                break
            best = rate
        assert first is not None
        return best, first

    def fanout(self, clients: int, trades_per_s: float) -> dict[str, Any]:
        traders = [register(self.base, "fanout-a"), register(self.base, "fanout-b")]
        connect_s = 3.0 + clients / 150
        start_at = time.time() + connect_s
        end_at = start_at + self.duration
        per = [clients // self.procs + (1 if w < clients % self.procs else 0) for w in range(self.procs)]
        specs = [
            {
                "kind": "listen",
                "base": self.base,
                "clients": n,
                "measure": max(1, FANOUT_MEASURED * n // clients),
                "start_at": start_at,
                "end_at": end_at,
            }
            for n in per
        ]
        futures = [self.pool.submit(run_phase, spec) for spec in specs]
        time.sleep(max(0.0, start_at - time.time() - 0.2))
        gen = uvloop.run(
            _rest_phase(
                {"kind": "rest", "base": self.base, "rate": 2 * trades_per_s, "duration": self.duration + 0.4,
                 "tokens": [t["token"] for t in traders]}
            )
        )  # fmt: skip
        result = summarize([f.result() for f in futures])
        for trader in traders:
            cancel_all(self.base, trader["token"])
        log(
            f"fanout {clients} clients, {trades_per_s:.0f} trades/s: p50 {result['p50']:.1f} ms, "
            f"p99 {result['p99']:.1f} ms, {result['n']} deliveries, connected {result['sent']}, "
            f"dropped {result['errors']}, generator errors {gen['errors']}/{gen['sent']} "
            f"{gen.get('statuses')}, generator order p50 {percentile(sorted(gen['lat']), 0.5):.1f} ms "
            f"p99 {percentile(sorted(gen['lat']), 0.99):.1f} ms"
        )
        return result


def _round(value: float, digits: int = 3) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def main(args: argparse.Namespace) -> int:
    duration = float(getattr(args, "duration", None) or os.environ.get("EXCHANGE_BENCH_DURATION") or 3.0)
    clients = int(getattr(args, "size", None) or 500)
    procs = int(os.environ.get("EXCHANGE_BENCH_PROCS", "2"))
    with running_stack(getattr(args, "url", None)) as (base, data_dir):
        log(f"target {base}; {procs} client processes; {duration:g} s per step")
        calibration = redis_ping_us(data_dir)
        if calibration is not None:
            log(f"calibration: a bare Redis PING round trip takes {calibration:.0f} us here (quiet: ~50 us)")
        driver = Driver(base, duration, procs, CpuMeter.for_stack(data_dir))
        try:
            rest_max, rest = driver.max_rate("rest")
            ws_max, ws = driver.max_rate("ws")
            get_max, get = driver.max_rate("get")
            fan = driver.fanout(clients, FANOUT_TRADES_PER_S)
        finally:
            driver.close()
    result = {
        "rest_p50_ms": _round(rest["p50"]),
        "rest_p99_ms": _round(rest["p99"]),
        "rest_p999_ms": _round(rest["p999"]),
        "rest_max_rate": rest_max,
        "ws_p50_ms": _round(ws["p50"]),
        "ws_p99_ms": _round(ws["p99"]),
        "ws_max_rate": ws_max,
        "trivial_get_rate": get_max,
        "order_vs_trivial": _round(rest_max / get_max) if get_max else None,
        "fanout_p50_ms": _round(fan["p50"]),
        "fanout_p99_ms": _round(fan["p99"]),
        "fanout_clients": fan["sent"],
        "fanout_dropped": fan["errors"],
        "rest_api_cpu_ms": _round(rest.get("api_cpu_ms", math.nan), 4),
        "ws_api_cpu_ms": _round(ws.get("api_cpu_ms", math.nan), 4),
        "get_api_cpu_ms": _round(get.get("api_cpu_ms", math.nan), 4),
        "calibration_redis_ping_us": _round(calibration if calibration is not None else math.nan, 1),
        "client_processes": procs,
        "step_seconds": duration,
    }
    print(json.dumps(result), flush=True)
    return 0
