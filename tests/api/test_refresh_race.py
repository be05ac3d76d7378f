"""A revoke-all of an account's refresh tokens that runs while a rotation is under way still ends the token
the rotation creates (`exchange.api.accounts.LOCK_ACCOUNT`)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool

from exchange.api import accounts


async def _waiting_on_locks(pg_url: str, n: int, timeout: float = 10.0) -> None:
    """Until `n` backends wait on a lock (the interleaving the test builds is in place)."""
    deadline = time.monotonic() + timeout
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        while True:
            cur = await conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            row = await cur.fetchone()
            if row is not None and row[0] >= n:
                return
            assert time.monotonic() < deadline, f"fewer than {n} backends waiting on a lock"
            await asyncio.sleep(0.02)


async def test_a_revoke_all_during_a_rotation_also_revokes_the_token_the_rotation_creates(
    pg_url: str,
) -> None:
    """The rotation of r1 into r2 is held just before it inserts r2 (another transaction holds r2's key);
    logout everywhere runs meanwhile. Without the per-account lock, the revoke-all waited on r1's row,
    then skipped it (revoked by the rotation) and never saw r2, which stayed a live refresh token."""
    with psycopg.connect(pg_url, autocommit=True) as setup:
        email = f"race-{time.time_ns()}@example.com"
        row = setup.execute(
            "INSERT INTO accounts (email, password_hash) VALUES (%s, 'x') RETURNING id", (email,)
        ).fetchone()
        assert row is not None
        account = int(row[0])
        setup.execute("INSERT INTO sessions (id, account_id) VALUES ('s1', %s)", (account,))
        setup.execute(
            "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) "
            "VALUES ('r1', %s, 's1', %s)",
            (account, datetime.now(tz=UTC) + timedelta(days=1)),
        )
    expires = int(time.time()) + 86400
    pool = AsyncConnectionPool(pg_url, min_size=2, max_size=4, open=False)
    await pool.open()
    blocker = psycopg.connect(pg_url)  # holds r2's key uncommitted: the rotation's INSERT waits on it
    try:
        blocker.execute(
            "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) "
            "VALUES ('r2', %s, 's1', now())",
            (account,),
        )
        revoked: list[list[str]] = []

        async def revoke(account_id: int, sids: list[str]) -> None:
            revoked.append(sids)

        sessions = accounts.Sessions(pool, revoke, 960)
        rotation = asyncio.create_task(sessions.rotate("r1", account, "r2", expires))
        await _waiting_on_locks(pg_url, 1)
        revoke_all = asyncio.create_task(sessions.end_all(account))
        await _waiting_on_locks(pg_url, 2)
        blocker.rollback()  # the rotation inserts r2 and commits; then the revoke-all runs
        assert (await rotation).outcome is accounts.Rotation.ROTATED
        assert await revoke_all == ["s1"] and revoked == [
            ["s1"]
        ]  # (its access tokens: revoked before commit)
    finally:
        blocker.close()
        await pool.close()
    with psycopg.connect(pg_url) as check:
        live = check.execute(
            "SELECT jti FROM refresh_tokens WHERE account_id = %s AND revoked_at IS NULL", (account,)
        ).fetchall()
        ended = check.execute("SELECT ended_at IS NOT NULL FROM sessions WHERE id = 's1'").fetchone()
    assert live == [] and ended == (True,)
