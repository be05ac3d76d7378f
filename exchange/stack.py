"""`exchange up`: run the whole exchange from one command and supervise it.

Order of start: Redis (AOF, noeviction; unless EXCHANGE_REDIS_URL) -> PostgreSQL (unless
EXCHANGE_DATABASE_URL) -> migrations -> seed -> `<data_dir>/stack.json` -> API processes (uvicorn) and
persistence workers -> demo market maker once the API answers /healthz. A child that dies is restarted with
backoff. Ctrl-C or SIGTERM stops the market maker first (it cancels its quotes through the API), then the
API and workers, then PostgreSQL, then Redis, and exits 0.

Parts that do not exist yet (API, workers, market maker, seed) are skipped with a note, so the supervisor
works at every stage of the project.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from exchange.config import STACK_FILE, AuthSettings, StackSettings, jwt_secret
from exchange.servers import (
    PostgresServer,
    RedisServer,
    _pdeathsig,
    _stop_process,
    available_redis_kinds,
)

MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long gets its backoff reset
CHILD_STOP_TIMEOUT_S = 15.0
MM_STOP_TIMEOUT_S = 10.0  # the market maker's last re-quote and its cancel of every quote (5 s timeout)
DATABASE_NAME = "exchange"

WS_MAX_MESSAGE_BYTES = 1 << 20  # far above the API's own frame limit (16 KiB, EXCHANGE_WS_MAX_FRAME)


class StackError(RuntimeError):
    """`exchange up` cannot start; the message says why and what to do."""


def say(message: str) -> None:
    print(f"[exchange up] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="API listen address (EXCHANGE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="API listen port (EXCHANGE_PORT, default 8000)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="data and logs (EXCHANGE_DATA_DIR, default ./var)"
    )
    p.add_argument(
        "--api-processes", type=int, default=None, help="API processes (EXCHANGE_API_PROCESSES, default 2)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="persistence workers (EXCHANGE_WORKERS, default 1)"
    )
    p.add_argument(
        "--no-mm", action="store_true", default=None, help="no demo market maker (EXCHANGE_NO_MM=1)"
    )
    p.add_argument(
        "--no-demo",
        action="store_true",
        default=False,
        help="no demo funds for new accounts (EXCHANGE_DEMO=0)",
    )


def settings_from_args(args: argparse.Namespace) -> StackSettings:
    """Environment first, flags on top."""
    return StackSettings.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=getattr(args, "data_dir", None),
        api_processes=getattr(args, "api_processes", None),
        workers=getattr(args, "workers", None),
        no_mm=getattr(args, "no_mm", None),
        demo=False if getattr(args, "no_demo", False) else None,
    )


# ----------------------------------------------------------------------------------------- children


@dataclass
class Child:
    """One supervised process, restarted with exponential backoff when it dies."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff_s: float = MIN_BACKOFF_S
    started_at: float = 0.0
    restart_at: float | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"\n=== {stamp} exchange up: starting {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children in order
            preexec_fn=_pdeathsig(signal.SIGTERM),  # a killed supervisor leaves no orphans
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def check(self, now: float) -> bool:
        """Restart the child when due; returns True when its PID changed."""
        if self.proc is None:
            return False
        code = self.proc.poll()
        if code is None:
            if now - self.started_at >= STABLE_AFTER_S:
                self.backoff_s = MIN_BACKOFF_S
            return False
        if self.restart_at is None:
            # orphans of the dead child (e.g. uvicorn workers still holding the port) share its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.restart_at = now + self.backoff_s
            say(f"{self.name} exited ({code}); restart in {self.backoff_s:.0f}s; log {self.log_path}")
            self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
            return True
        if now >= self.restart_at:
            self.restarts += 1
            self.start()
            return True
        return False

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def finish(self, deadline: float) -> None:
        if self.proc is not None:
            _stop_process(self.proc, signal.SIGTERM, max(0.1, deadline - time.monotonic()))
        if self._log is not None:
            self._log.close()
            self._log = None


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _healthz(url: str) -> bool:
    # urllib, not httpx.get: each httpx.get builds an SSL context (~50 ms of CPU), every 0.5 s
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


# -------------------------------------------------------------------------------------------- servers


def _redis_kind(redis_dir: Path) -> str:
    """The kind that wrote this AOF before (Valkey 8's files do not load in Redis 7.0), else the default."""
    marker = redis_dir / "kind"
    kinds = available_redis_kinds()
    if marker.exists():
        previous = marker.read_text().strip()
        if previous in kinds:
            return previous
        raise StackError(f"{redis_dir} was written by {previous}, which is not available here")
    return kinds[0]


def start_redis(data_dir: Path) -> RedisServer:
    from exchange.redis_check import check_redis

    redis_dir = data_dir / "redis"
    kind = _redis_kind(redis_dir)
    server = RedisServer(kind, redis_dir, appendonly=True, appendfsync="everysec").start()
    (redis_dir / "kind").write_text(kind + "\n")
    _check(server.url, check_redis)
    return server


def _check(url: str, check: Any) -> None:
    import redis

    client = redis.Redis.from_url(url, protocol=2, socket_timeout=5)
    try:
        check(client, require_aof=True)
    finally:
        client.close()


def start_postgres(data_dir: Path) -> PostgresServer:
    server = PostgresServer(data_dir / "postgres", fsync=True).start()
    if not server.database_exists(DATABASE_NAME):
        server.create_database(DATABASE_NAME)
    return server


def prepare_data(redis_url: str, database_url: str) -> None:
    """Migrations, then the seed assets and markets (both idempotent)."""
    from exchange.db.migrate import migrate

    applied = migrate(database_url)
    say(f"migrations applied: {', '.join(applied)}" if applied else "schema is up to date")
    if not _module_exists("exchange.seed"):
        say("exchange.seed is not available yet: markets not seeded")
        return
    from exchange.seed import seed_all  # type: ignore[import-not-found,unused-ignore]

    seed_all(redis_url)
    say("assets and markets seeded")


# ---------------------------------------------------------------------------------------------- stack


@dataclass
class Stack:
    settings: StackSettings
    data_dir: Path
    redis_url: str = ""
    database_url: str = ""
    redis: RedisServer | None = None
    postgres: PostgresServer | None = None
    children: list[Child] = field(default_factory=list)
    mm: Child | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    server_retry_at: float = 0.0

    @property
    def api_url(self) -> str:
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self.settings.port}"

    def write_stack_file(self) -> None:
        info = {
            "redis_url": self.redis_url,
            "database_url": self.database_url,
            "api_url": self.api_url,
            "data_dir": str(self.data_dir),
            "log_dir": str(self.data_dir / "logs"),
            "supervisor_pid": os.getpid(),
            "redis_pid": self.redis.pid if self.redis else None,
            "postgres_pid": self.postgres.pid if self.postgres else None,
            "pids": {c.name: c.pid for c in self.all_children()},
        }
        tmp = self.data_dir / (STACK_FILE + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(self.data_dir / STACK_FILE)

    def all_children(self) -> Iterator[Child]:
        yield from self.children
        if self.mm is not None:
            yield self.mm

    def child_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "EXCHANGE_REDIS_URL": self.redis_url,
            "EXCHANGE_DATABASE_URL": self.database_url,
            "EXCHANGE_JWT_SECRET": jwt_secret(self.data_dir),
            "EXCHANGE_DEMO": "1" if self.settings.demo else "0",
            "EXCHANGE_DATA_DIR": str(self.data_dir),
            "EXCHANGE_API_URL": self.api_url,
            "PYTHONUNBUFFERED": "1",
        }

    def plan_children(self) -> None:
        s, env, logs = self.settings, self.child_env(), self.data_dir / "logs"
        if _module_exists("exchange.api.app"):
            from exchange.api.httpproto import HTTP_PROTOCOL

            argv = [
                sys.executable, "-m", "uvicorn", "exchange.api.app:create_app", "--factory",
                "--host", s.host, "--port", str(s.port), "--workers", str(max(1, s.api_processes)),
                "--no-access-log", "--timeout-graceful-shutdown", "5",
                "--http", HTTP_PROTOCOL,  # uvicorn's httptools, with a bound on request heads
                # uvicorn buffers a whole WebSocket message before the app sees it (default 16 MiB)
                "--ws-max-size", str(WS_MAX_MESSAGE_BYTES),
            ]  # fmt: skip
            self.children.append(Child("api", argv, env, logs / "api.log"))
        else:
            say("exchange.api.app is not available yet: no API started")
        if _module_exists("workers.cli"):
            for i in range(1, s.workers + 1):
                argv = [sys.executable, "-m", "exchange.cli", "worker"]
                self.children.append(Child(f"worker-{i}", argv, env, logs / f"worker-{i}.log"))
        elif s.workers:
            say("workers.cli is not available yet: no persistence workers started")
        if not s.no_mm:
            if _module_exists("exchange.mm"):
                self.mm = Child("mm", [sys.executable, "-m", "exchange.cli", "mm"], env, logs / "mm.log")
            else:
                say("exchange.mm is not available yet: no market maker started")

    def banner(self) -> None:
        s = self.settings
        names = [c.name for c in self.children if not c.name.startswith("worker-")]
        workers = sum(1 for c in self.children if c.name.startswith("worker-"))
        parts = [f"api x{s.api_processes}" if "api" in names else "no api"]
        parts.append(f"worker x{workers}")
        parts.append("mm" if self.mm else "no mm")
        redis_note = f"{self.redis.kind}, AOF, pid {self.redis.pid}" if self.redis else "external"
        pg_note = f"pid {self.postgres.pid}" if self.postgres else "external"
        lines = [
            "",
            f"  exchange is up:  {self.api_url}/",
            f"  API schema       {self.api_url}/schema",
            f"  Redis            {self.redis_url}  ({redis_note})",
            f"  PostgreSQL       {self.database_url}  ({pg_note})",
            f"  processes        {', '.join(parts)}",
            f"  data / logs      {self.data_dir}  /  {self.data_dir / 'logs'}",
            "  Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)

    def start_servers(self) -> None:
        env_redis = os.environ.get("EXCHANGE_REDIS_URL")
        if env_redis:
            from exchange.redis_check import check_redis

            _check(env_redis, check_redis)
            self.redis_url = env_redis
        else:
            self.redis = start_redis(self.data_dir)
            self.redis_url = self.redis.url
        say(f"Redis ready at {self.redis_url}")
        env_db = os.environ.get("EXCHANGE_DATABASE_URL")
        if env_db:
            self.database_url = env_db
        else:
            self.postgres = start_postgres(self.data_dir)
            self.database_url = self.postgres.url_for(DATABASE_NAME)
        say(f"PostgreSQL ready at {self.database_url}")

    def supervise(self) -> None:
        for child in self.children:
            child.start()
        self.write_stack_file()
        api = next((c for c in self.children if c.name == "api"), None)
        announced = False
        while not self.stop_requested.wait(0.5):
            now = time.monotonic()
            changed = False
            for server in (self.redis, self.postgres):
                if server is not None and not server.running and now >= self.server_retry_at:
                    say(f"{server!r} died; restarting it")
                    try:
                        server.start()
                    except Exception as exc:  # keep supervising; try again shortly
                        say(f"restart failed: {exc}")
                        self.server_retry_at = now + MAX_BACKOFF_S / 3
                    changed = True
            for child in self.all_children():
                changed |= child.check(now)
            api_up = api is not None and api.pid is not None and _healthz(self.api_url)
            if (api_up or api is None) and not announced:
                announced = True
                self.banner()
            if api_up and self.mm is not None and self.mm.proc is None:
                self.mm.start()
                changed = True
            if changed:
                self.write_stack_file()

    def shutdown(self) -> None:
        """The market maker first, waited for (at most MM_STOP_TIMEOUT_S): it cancels its quotes through
        the API, which must still run. Then the API and workers (all at once), then PostgreSQL, then
        Redis."""
        if self.mm is not None:
            self.mm.finish(time.monotonic() + MM_STOP_TIMEOUT_S)
        children = list(self.children)
        for child in children:
            child.terminate()
        deadline = time.monotonic() + CHILD_STOP_TIMEOUT_S
        for child in children:
            child.finish(deadline)
        if self.postgres is not None:
            self.postgres.stop()
        if self.redis is not None:
            self.redis.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / STACK_FILE).unlink()


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "stack.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StackError(f"another `exchange up` is already running on {data_dir}") from None
        yield


def run(args: argparse.Namespace) -> int:
    """`exchange up`: start, supervise until Ctrl-C / SIGTERM, stop cleanly; 0 on a clean stop."""
    try:
        settings = settings_from_args(args)
        AuthSettings.from_env()  # refuses a JWT secret too short, before anything starts
        if "EXCHANGE_CLOSED_ORDER_TTL" in os.environ:  # the workers' (they would exit at each restart)
            from workers.cli import closed_ttl_seconds

            closed_ttl_seconds(os.environ["EXCHANGE_CLOSED_ORDER_TTL"])
    except ValueError as exc:
        say(str(exc))
        return 2
    stack = Stack(settings=settings, data_dir=settings.data_dir.resolve())

    def on_signal(signum: int, _frame: object) -> None:
        stack.stop_requested.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _data_dir_lock(stack.data_dir):
            try:
                if _module_exists("exchange.api.app") and not _port_free(settings.host, settings.port):
                    raise StackError(f"port {settings.port} on {settings.host} is in use: pass --port")
                stack.start_servers()
                prepare_data(stack.redis_url, stack.database_url)
                stack.plan_children()
                if not stack.stop_requested.is_set():
                    stack.supervise()
                say("stopping")
            except Exception as exc:
                say(f"cannot run: {exc}")
                return 1
            finally:
                stack.shutdown()
    except StackError as exc:
        say(str(exc))
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("stopped")
    return 0
