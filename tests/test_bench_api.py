"""`exchange bench api` end to end, tiny: starts its own stack, prints one JSON line with every key."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

KEYS = {
    "rest_p50_ms",
    "rest_p99_ms",
    "rest_p999_ms",
    "rest_max_rate",
    "ws_p50_ms",
    "ws_p99_ms",
    "ws_max_rate",
    "trivial_get_rate",
    "order_vs_trivial",
    "fanout_p50_ms",
    "fanout_p99_ms",
}


@pytest.mark.slow
def test_bench_api_smoke_run_prints_the_result_keys():
    """A short run (one rate step, 0.5 s steps, 10 fan-out clients) ends with the JSON result line."""
    env = {**os.environ, "EXCHANGE_BENCH_RATES": "200", "EXCHANGE_BENCH_PROCS": "1"}
    for key in ("EXCHANGE_REDIS_URL", "EXCHANGE_DATABASE_URL"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "bench", "api", "--duration", "0.5", "--size", "10"],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS
    for key in ("rest_p50_ms", "rest_p99_ms", "rest_p999_ms", "ws_p50_ms", "ws_p99_ms"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["rest_p50_ms"] <= result["rest_p99_ms"] <= result["rest_p999_ms"]
    for key in ("rest_max_rate", "ws_max_rate", "trivial_get_rate"):
        assert result[key] in (0, 200), key
    assert result["fanout_clients"] == 10 and result["client_processes"] == 1
    assert result["fanout_p50_ms"] is None or result["fanout_p50_ms"] <= result["fanout_p99_ms"]
    assert "[bench api] rest" in proc.stderr and "[bench api] fanout 10 clients" in proc.stderr
    assert "CPU per request: API" in proc.stderr and "persistence worker" in proc.stderr


def test_cpu_meter_charges_each_part_with_its_own_processes():
    """The per-part CPU meter charges a busy process to the part whose pid it was given, and nothing to an
    idle one, and nothing to the load generator for the stack's supervisor, although it is this process's
    child too (this is what the bench's "CPU per request" figures are built from)."""
    from exchange.bench.api import CpuMeter

    # each burner spends 0.6 s of CPU only after "go", and says when it is done: no timing guess on a
    # loaded machine (started early, the burn would fall before the first sample)
    burn = (
        "import sys, time\nsys.stdin.readline()\nt = time.process_time()\n"
        "while time.process_time() - t < 0.6: pass\nprint('done', flush=True)\ntime.sleep(30)"
    )

    def burner() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    busy = burner()
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    supervisor = burner()
    try:
        meter = CpuMeter(
            api_pid=idle.pid, redis_pid=None, worker_pids=(busy.pid,), supervisor_pid=supervisor.pid
        )
        before = meter.sample()
        for proc in (busy, supervisor):
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in (busy, supervisor):
            assert proc.stdout is not None and proc.stdout.readline().strip() == "done"
        after = meter.sample()
        assert after["worker"] - before["worker"] >= 0.5
        assert after["api"] - before["api"] < 0.1
        assert after["load"] - before["load"] < 0.3  # the supervisor's 0.6 s is not charged to the load
        assert set(after) == set(CpuMeter.PARTS)
    finally:
        for proc in (busy, idle, supervisor):
            proc.kill()
            proc.wait()


def test_settle_waits_for_a_quiet_stack_and_gives_up_after_its_limit():
    """`settle` returns once the stack's processes (not the load generator) used under QUIET_CPU of a core
    over a window, and measures anyway after SETTLE_MAX_S of a stack that stays busy."""
    from exchange.bench import api

    class Meter:
        """The stack's processes use a whole core in the first `busy_windows` windows, then nothing."""

        def __init__(self, busy_windows: int) -> None:
            self.busy_windows, self.samples = busy_windows, 0
            self.used = dict.fromkeys(api.CpuMeter.PARTS, 0.0)

        def sample(self) -> dict[str, float]:
            self.used = dict(self.used)
            self.used["load"] += 5.0  # the load generator never counts
            if 0 < self.samples <= self.busy_windows:
                self.used["postgres"] += api.QUIET_WINDOW_S
            self.samples += 1
            return self.used

    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    waited = api.settle(Meter(busy_windows=3), sleep=sleep, clock=lambda: clock[0])  # type: ignore[arg-type]
    assert waited == 4 * api.QUIET_WINDOW_S  # three busy windows, then one quiet one
    clock[0] = 0.0
    waited = api.settle(Meter(busy_windows=10**6), sleep=sleep, clock=lambda: clock[0])  # type: ignore[arg-type]
    assert waited == api.SETTLE_MAX_S
