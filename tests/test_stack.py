"""`exchange up` starts its servers and children, writes stack.json, and stops everything on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import psycopg
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exchange.config import StackSettings
from exchange.servers import free_port
from exchange.stack import WS_MAX_MESSAGE_BYTES, Child, Stack

REPO = Path(__file__).resolve().parent.parent


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _pids_mentioning(text: str) -> list[int]:
    """PIDs whose command line mentions `text` (our data dir is unique to this test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _tree(root: int) -> list[int]:
    """`root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().split(") ", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data dir outside pytest's 0700 basetemp (PostgreSQL runs as an unprivileged user)."""
    d = Path(tempfile.mkdtemp(prefix="exchange-test-up-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exchange up exited early with {proc.returncode} while waiting for {what}")
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def _start_up(data_dir: Path, port: int, *options: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """`exchange up --api-processes 2 --workers 1 <options>` on `data_dir` and `port`, without the caller's
    EXCHANGE_* variables; its output goes to <data_dir>.out (the open file is returned to close)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    argv = [sys.executable, "-m", "exchange.cli", "up", *options, "--api-processes", "2", "--workers", "1"]
    argv += ["--data-dir", str(data_dir), "--port", str(port)]
    log = open(data_dir.parent / f"{data_dir.name}.out", "wb")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), log


def _stop_up(proc: subprocess.Popen[bytes], log: IO[bytes], data_dir: Path) -> tuple[int, str]:
    """SIGTERM to `exchange up` and its exit code (killed if it takes over a minute), and its output."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    out_file = data_dir.parent / f"{data_dir.name}.out"
    out = out_file.read_text()
    out_file.unlink()
    return code, out


@pytest.mark.slow
def test_up_starts_and_stops_everything(data_dir: Path) -> None:
    """exchange up serves /healthz, restarts a killed API, and SIGTERM stops every process it started."""
    port = free_port()
    proc, log = _start_up(data_dir, port, "--no-mm")
    stack_file = data_dir / "stack.json"
    try:
        _wait_for(stack_file.exists, 90, "stack.json", proc)
        info = json.loads(stack_file.read_text())
        assert info["supervisor_pid"] == proc.pid
        assert info["api_url"] == f"http://127.0.0.1:{port}"
        client = redis.Redis.from_url(info["redis_url"], decode_responses=True, protocol=2)
        assert client.ping() is True
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.close()
        with psycopg.connect(info["database_url"]) as conn:
            row = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
            assert row is not None and row[0] >= 1

        def healthy() -> bool:
            try:
                return httpx.get(f"{info['api_url']}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(healthy, 60, "/healthz", proc)
        # a WebSocket message over --ws-max-size closes the connection (1009) before uvicorn buffers it;
        # below that, the API's own frame limit answers
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            ws.send('{"op": "ping", "pad": "' + "x" * 20_000 + '"}')
            assert json.loads(ws.recv(timeout=10))["error"]["code"] == "FRAME_TOO_LARGE"
            ws.send("x" * (WS_MAX_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        info = json.loads(stack_file.read_text())
        assert info["pids"]["worker-1"] and _alive(info["pids"]["worker-1"])
        started = _tree(proc.pid)

        # a dead API process (here: the uvicorn master, whose workers become orphans) is replaced
        dead_api = info["pids"]["api"]
        os.kill(dead_api, signal.SIGKILL)

        def api_replaced() -> bool:
            pid = json.loads(stack_file.read_text())["pids"].get("api")
            return pid not in (None, dead_api) and healthy()

        _wait_for(api_replaced, 60, "the API to be restarted", proc)
        started += _tree(proc.pid)

        # a dead Redis is restarted on the same port from its AOF
        client = redis.Redis.from_url(info["redis_url"], decode_responses=True, protocol=2)
        client.config_set("appendfsync", "always")  # everysec may put the write off while an fsync is slow
        client.set("infra:probe", "kept")
        os.kill(info["redis_pid"], signal.SIGKILL)

        def redis_back() -> bool:
            try:
                return client.get("infra:probe") == "kept"
            except redis.RedisError:
                return False

        _wait_for(redis_back, 60, "Redis to be restarted", proc)
        client.close()
        info = json.loads(stack_file.read_text())
        started += [info["redis_pid"], info["postgres_pid"]]
        assert info["redis_pid"] and info["postgres_pid"]
    finally:
        code, out = _stop_up(proc, log, data_dir)
    assert code == 0, out
    time.sleep(0.2)
    assert [p for p in started if _alive(p)] == [], out
    assert _pids_mentioning(str(data_dir)) == []
    assert not stack_file.exists()


@pytest.mark.slow
def test_stop_lets_the_market_maker_cancel_its_quotes_before_the_api_goes(data_dir: Path) -> None:
    """SIGTERM to `exchange up` while the market maker quotes: it stops first, cancels its quotes through the
    API that still runs, and its log has no warning (no "API unavailable", no quotes left resting)."""
    proc, log = _start_up(data_dir, free_port())
    mm_log = data_dir / "logs" / "mm.log"

    def quoting() -> bool:
        return mm_log.exists() and "market maker quoting" in mm_log.read_text()

    try:
        _wait_for(lambda: mm_log.exists(), 120, "the market maker to start", proc)
        # stopped at once, while it places its first ladders (60 orders at once): the moment when stopping
        # the API with it cut the market maker off
        _wait_for(quoting, 60, "the market maker to quote", proc, poll_s=0.01)
    finally:
        code, out = _stop_up(proc, log, data_dir)
    assert code == 0, out
    text = mm_log.read_text()
    assert "market maker stopped" in text, text
    assert "WARNING" not in text, text


def test_second_up_on_same_data_dir_is_refused(data_dir: Path) -> None:
    """A second `exchange up` on a data dir that is locked exits 1 with a clear message."""
    import fcntl

    with open(data_dir / "stack.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = subprocess.run(
            [sys.executable, "-m", "exchange.cli", "up", "--data-dir", str(data_dir), "--no-mm"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert "already running" in out.stderr


def test_dead_child_is_restarted_with_backoff(tmp_path: Path) -> None:
    """A supervised child that dies is restarted after its backoff, with a new PID, and logs to its file."""
    from exchange.stack import MIN_BACKOFF_S

    child = Child(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ), tmp_path / "s.log"
    )
    child.start()
    try:
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        child.proc.wait(10)  # type: ignore[union-attr]
        now = time.monotonic()
        assert child.check(now) is True  # death noticed, restart scheduled
        assert child.pid is None
        assert child.check(now + MIN_BACKOFF_S / 2) is False  # still backing off
        assert child.check(now + MIN_BACKOFF_S) is True  # restarted
        assert child.pid not in (None, first) and child.restarts == 1
        assert child.backoff_s == 2 * MIN_BACKOFF_S
    finally:
        child.finish(time.monotonic() + 5)
    assert child.pid is None
    assert "starting" in (tmp_path / "s.log").read_text()


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`exchange up` flags win over EXCHANGE_* variables; unset flags keep the environment's values."""
    import argparse

    from exchange.stack import add_arguments, settings_from_args

    for var in ("EXCHANGE_NO_MM", "EXCHANGE_DEMO", "EXCHANGE_API_PROCESSES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EXCHANGE_PORT", "9100")
    monkeypatch.setenv("EXCHANGE_WORKERS", "3")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    s = settings_from_args(parser.parse_args(["--port", "9200", "--no-mm", "--no-demo"]))
    assert (s.port, s.workers, s.no_mm, s.demo, s.api_processes) == (9200, 3, True, False, 2)
    s = settings_from_args(parser.parse_args([]))
    assert (s.port, s.no_mm, s.demo) == (9100, False, True)


# A child that, on SIGTERM, records what it saw (`argv[1]`: its name) and exits after `argv[2]` seconds, or
# never when that is "ignore" (it then ignores SIGTERM). `ready` appears once its handler is installed.
_CHILD = """
import os, signal, sys, time
name, linger, d = sys.argv[1], sys.argv[2], sys.argv[3]
def on_term(signum, frame):
    others = sorted(f for f in os.listdir(d) if f.endswith(".stopped"))
    open(os.path.join(d, name + ".saw"), "w").write(" ".join(others))
    time.sleep(float(linger))
    open(os.path.join(d, name + ".stopped"), "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if linger == "ignore" else on_term)
open(os.path.join(d, name + ".ready"), "w").close()
time.sleep(60)
"""


def _stack_of_sleepers(tmp_path: Path, mm_linger: str) -> Stack:
    def child(name: str, linger: str) -> Child:
        argv = [sys.executable, "-c", _CHILD, name, linger, str(tmp_path)]
        return Child(name, argv, dict(os.environ), tmp_path / f"{name}.log")

    stack = Stack(settings=StackSettings(data_dir=tmp_path), data_dir=tmp_path)
    stack.children = [child("api", "0"), child("worker-1", "0")]
    stack.mm = child("mm", mm_linger)
    for c in stack.all_children():
        c.start()
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"{c.name}.ready").exists() for c in stack.all_children()):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.05)
    return stack


def test_stop_ends_the_market_maker_before_the_api(tmp_path: Path) -> None:
    """On stop the market maker is stopped and waited for first (it cancels its quotes through the API);
    only then do the API and the workers get SIGTERM, so the API still answers the market maker's last
    requests."""
    stack = _stack_of_sleepers(tmp_path, mm_linger="1.0")
    stack.shutdown()
    assert (tmp_path / "mm.saw").read_text() == ""
    for name in ("api", "worker-1"):  # these two stop together
        assert "mm.stopped" in (tmp_path / f"{name}.saw").read_text().split(), name
    assert all(c.pid is None for c in stack.all_children())


def test_stop_does_not_wait_forever_for_a_market_maker_that_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A market maker that does not exit on SIGTERM is killed after MM_STOP_TIMEOUT_S, and the API and the
    workers are then stopped as usual."""
    monkeypatch.setattr("exchange.stack.MM_STOP_TIMEOUT_S", 0.5)
    stack = _stack_of_sleepers(tmp_path, mm_linger="ignore")
    began = time.monotonic()
    stack.shutdown()
    assert time.monotonic() - began < 5
    assert not (tmp_path / "mm.stopped").exists()  # killed, not stopped
    assert (tmp_path / "api.stopped").exists() and (tmp_path / "worker-1.stopped").exists()
    assert all(c.pid is None for c in stack.all_children())
