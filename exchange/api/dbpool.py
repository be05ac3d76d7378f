"""The API's PostgreSQL pool: connection options, and a deadline on every connection a request borrows.

A PostgreSQL that stops answering without closing its connections (a frozen or swapped-out server, a VM
paused, a `SIGSTOP`) is invisible to TCP: the kernel still acknowledges every byte, so neither the
server's `statement_timeout` nor `tcp_user_timeout` nor keepalives end the wait, and a read would wait as
long as the stall. `DeadlinePool` bounds it on our side:

- a connection held `hold_deadline_s` (20 s) since it was handed out is cut: its socket is shut down, the
  statement waiting on it fails at once with psycopg's `OperationalError` (the request answers 503
  `UNAVAILABLE`) and the pool replaces the connection. A server that answers cancels a statement itself
  after 15 s (`PG_CONNECTION_OPTIONS`), so the cut ends only waits on one that does not;
- the check the pool runs before handing a connection out gets the pool's own `timeout` (5 s), so waiting
  for a connection is bounded too (the pool then raises `PoolTimeout`: 503).

Cutting the socket (rather than cancelling the task) answers at the deadline: psycopg meets a cancelled
query with a cancel request of its own and waits up to 10 s more for a server that may not answer. A cut
write is a dropped connection like any other: its transaction rolls back unless the server had committed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# A statement that runs 15 s is cancelled by the server (no read of the API takes that long), and a server
# cut off without a reset (a partition) is given up after 10 s of unacknowledged data or 3 unanswered
# keepalives, not the minutes of TCP's defaults.
PG_CONNECTION_OPTIONS: dict[str, Any] = {
    "options": "-c statement_timeout=15000",
    "tcp_user_timeout": 10_000,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
HOLD_DEADLINE_S = 20.0  # a hold on one connection: the server's statement timeout (15 s) and a margin
ACQUIRE_TIMEOUT_S = 5.0  # waiting for a connection, and the check of the one handed out


def cut(conn: AsyncConnection[Any], why: str) -> None:
    """Shut the connection's socket down (both ways): whatever waits on it fails now."""
    with contextlib.suppress(Exception):  # already closed, or gone
        fd = conn.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:  # shutdown acts on the socket, not on this fd
            sock.shutdown(socket.SHUT_RDWR)
        log.warning("PostgreSQL did not answer within %s: connection cut (the request answers 503)", why)


class DeadlinePool(AsyncConnectionPool):
    """An `AsyncConnectionPool` whose connections are cut when a borrower holds one `hold_deadline_s`, and
    whose pre-lending check is cut after the pool's `timeout` (see the module docstring)."""

    def __init__(self, conninfo: str, *, hold_deadline_s: float = HOLD_DEADLINE_S, **kwargs: Any) -> None:
        self.hold_deadline_s = hold_deadline_s
        kwargs.setdefault("timeout", ACQUIRE_TIMEOUT_S)
        kwargs.setdefault("kwargs", PG_CONNECTION_OPTIONS)
        super().__init__(conninfo, check=self._check, **kwargs)

    async def _check(self, conn: AsyncConnection[Any]) -> None:
        timer = asyncio.get_running_loop().call_later(self.timeout, cut, conn, f"{self.timeout:g} s (check)")
        try:
            await AsyncConnectionPool.check_connection(conn)
        finally:
            timer.cancel()

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection[Any]]:
        async with super().connection(timeout) as conn:
            why = f"{self.hold_deadline_s:g} s"
            timer = asyncio.get_running_loop().call_later(self.hold_deadline_s, cut, conn, why)
            try:
                yield conn
            finally:
                timer.cancel()
