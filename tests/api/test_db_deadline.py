"""A PostgreSQL that stops answering without closing its connections (frozen, paused) costs a request at most
the pool's deadlines, not the stall: `exchange.api.dbpool.DeadlinePool`, through a proxy that stops
forwarding (the kernel still acknowledges every byte, as with a SIGSTOPped server)."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from exchange.api.app import create_app
from exchange.api.dbpool import DeadlinePool
from tests.api.conftest import error_code, make_settings, register, seed

STALL_S = 8.0  # how long the proxy stays frozen at most (a request without a deadline waits this long)


class FreezingProxy:
    """A TCP proxy to PostgreSQL that forwards nothing while `frozen` is set (it reads nothing either)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not self.stopped.is_set():
                if self.frozen.is_set():
                    time.sleep(0.01)
                    continue
                if not select.select([src], [], [], 0.05)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def freeze_for(self, seconds: float) -> None:
        """Freeze now; thaw after `seconds` (so a test without deadlines ends, late, instead of hanging)."""
        self.frozen.set()
        threading.Timer(seconds, self.frozen.clear).start()

    def close(self) -> None:
        self.stopped.set()
        self.frozen.clear()
        self.listener.close()


@pytest.fixture
def proxied_pg_url(pg_url: str) -> Iterator[tuple[str, FreezingProxy]]:
    parts = urlsplit(pg_url)
    proxy = FreezingProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    yield urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}")), proxy
    proxy.close()


async def test_a_lent_connection_whose_server_stops_answering_fails_at_the_hold_deadline(proxied_pg_url):
    """A statement on a connection held past `hold_deadline_s` fails then with OperationalError (the socket
    is cut), not when the server answers; the pool then lends a working connection."""
    url, proxy = proxied_pg_url
    async with DeadlinePool(url, hold_deadline_s=1.0, min_size=1, max_size=2, open=False) as pool:
        await pool.wait(timeout=10)
        start = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            async with pool.connection() as conn:
                proxy.freeze_for(STALL_S)
                await conn.execute("SELECT 1")
        took = time.monotonic() - start
        assert 0.9 < took < 3.0, f"the statement failed after {took:.1f} s (deadline 1 s, stall {STALL_S} s)"
        while proxy.frozen.is_set():
            await asyncio.sleep(0.1)
        async with pool.connection() as conn:
            assert await (await conn.execute("SELECT 41 + 1")).fetchone() == (42,)


async def test_a_request_to_a_frozen_postgresql_answers_503_at_the_deadline_and_later_ones_succeed(
    redis_url: str, proxied_pg_url
):
    """Order history while PostgreSQL is frozen: 503 UNAVAILABLE within the pool's deadlines (here 1 s each),
    not after the 8 s stall; once it answers again, the same request is 200."""
    url, proxy = proxied_pg_url
    seed(redis_url)
    pool = DeadlinePool(url, hold_deadline_s=1.0, timeout=1.0, min_size=1, max_size=4, open=False)
    await pool.open(wait=True, timeout=10)
    try:
        app = create_app(make_settings(redis_url, url), pool=pool)
        async with AsyncTestClient(app) as client:
            alice = await register(client)
            assert (await client.get("/api/orders?status=all", headers=alice.headers)).status_code == 200
            proxy.freeze_for(STALL_S)
            start = time.monotonic()
            r = await client.get("/api/orders?status=all", headers=alice.headers)
            took = time.monotonic() - start
            assert r.status_code == 503 and error_code(r) == "UNAVAILABLE", r.text
            assert took < 4.0, f"answered after {took:.1f} s of an {STALL_S} s stall"
            deadline = time.monotonic() + 20
            while True:
                r = await client.get("/api/orders?status=all", headers=alice.headers)
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert r.status_code == 200, r.text
    finally:
        await pool.close()
