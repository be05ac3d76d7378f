"""Session fixtures: throwaway Redis/Valkey and PostgreSQL servers on free loopback ports.

Fixture names are a contract other test suites code against:

- `redis_kinds`      (session)  kinds that can run here: ["redis7", "valkey8"] or ["valkey8"]
- `redis_servers`    (session)  kind -> started RedisServer (appendonly off), stopped at session end
- `redis_url`        (function) URL of an emptied logical DB on the default (first) kind
- `redis_url_each`   (function) same, parametrized over every kind (test ids `redis7` / `valkey8`)
- `redis_client`     (function) redis.Redis on `redis_url`, decode_responses=True, RESP2
- `pg_server`        (session)  a started PostgresServer
- `pg_url`           (function) URL of a fresh database with every migration applied

Everything is lazy: a server starts only when a test asks for a fixture that needs it. Servers are our own,
so FLUSHDB is safe; they get a parent-death signal, so a killed pytest leaves nothing running.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from exchange.servers import PostgresServer, RedisServer, available_redis_kinds

_db_numbers = itertools.cycle(range(16))
_pg_db_counter = itertools.count(1)
PG_TEMPLATE = "exchange_test_template"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last. Playwright's sync API leaves an event loop running in the main thread for
    as long as its session fixtures live, and every asyncio test after it would fail with "Runner.run()
    cannot be called from a running event loop"."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: order kept


def _fresh_db_url(server: RedisServer) -> str:
    """An emptied logical database on `server` (a different number each time, cycling 0..15)."""
    db = next(_db_numbers)
    url = f"redis://127.0.0.1:{server.port}/{db}"
    with redis.Redis.from_url(url, protocol=2) as client:
        client.flushdb()
    return url


@pytest.fixture(scope="session")
def redis_kinds() -> list[str]:
    """Redis kinds available on this machine, default first."""
    return list(available_redis_kinds())


@pytest.fixture(scope="session")
def redis_servers(
    redis_kinds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RedisServer]]:
    """One started server per kind (no AOF), stopped at the end of the session."""
    base = tmp_path_factory.mktemp("redis")
    servers: dict[str, RedisServer] = {}
    try:
        for kind in redis_kinds:
            servers[kind] = RedisServer(kind, base / kind).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def redis_url(redis_servers: dict[str, RedisServer], redis_kinds: list[str]) -> str:
    """URL of an emptied logical DB on the default server."""
    return _fresh_db_url(redis_servers[redis_kinds[0]])


@pytest.fixture(params=available_redis_kinds(), ids=lambda kind: str(kind))
def redis_url_each(request: pytest.FixtureRequest, redis_servers: dict[str, RedisServer]) -> str:
    """URL of an emptied logical DB, once per available Redis kind."""
    return _fresh_db_url(redis_servers[request.param])


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A decoding RESP2 client on `redis_url`."""
    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (fsync off), in a /tmp dir removed at the end."""
    # not under pytest's basetemp: that is 0700 and pytest resets its mode, which would lock out the
    # unprivileged user that runs PostgreSQL when we are root
    base = Path(tempfile.mkdtemp(prefix="exchange-test-pg-"))
    server = PostgresServer(base / "data", fsync=False)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """Name of a database with every migration applied, used as the template of each `pg_url`."""
    from exchange.db.migrate import migrate

    pg_server.drop_database(PG_TEMPLATE)
    url = pg_server.create_database(PG_TEMPLATE)
    migrate(url)
    return PG_TEMPLATE


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_template: str) -> Iterator[str]:
    """URL of a fresh, fully migrated database (dropped after the test)."""
    name = f"test_{next(_pg_db_counter)}"
    url = pg_server.create_database(name, template=pg_template)
    yield url
    if pg_server.running:
        # a test that left the server broken must not fail its teardown
        with contextlib.suppress(Exception):
            pg_server.drop_database(name)
