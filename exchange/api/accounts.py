"""Accounts, sessions and refresh tokens in PostgreSQL (`exchange/db/migrations/0001_accounts.sql`,
`0003_sessions.sql`).

Every function takes a psycopg `AsyncConnectionPool` (or anything with an async `connection()` context).
Emails are stored lower-cased.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from psycopg import errors as pg_errors

from exchange.api.errors import ApiError, ErrorCode


@dataclass(frozen=True)
class AccountRow:
    id: int
    email: str
    password_hash: str
    is_admin: bool
    created_at: datetime

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "is_admin": self.is_admin,
            "created_at": int(self.created_at.timestamp() * 1000),
        }


_COLUMNS = "id, email, password_hash, is_admin, created_at"


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_account(pool: Any, email: str, password_hash: str, is_admin: bool = False) -> AccountRow:
    """Insert an account; `EMAIL_TAKEN` (409) when the email exists."""
    try:
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO accounts (email, password_hash, is_admin) VALUES (%s, %s, %s) "
                f"RETURNING {_COLUMNS}",
                (normalize_email(email), password_hash, is_admin),
            )
            row = await cur.fetchone()
    except pg_errors.UniqueViolation:
        raise ApiError(ErrorCode.EMAIL_TAKEN, "an account with this email exists") from None
    assert row is not None
    return AccountRow(*row)


async def account_by_email(pool: Any, email: str) -> AccountRow | None:
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE email = %s", (normalize_email(email),))
        row = await cur.fetchone()
    return AccountRow(*row) if row else None


async def account_by_id(pool: Any, account_id: int) -> AccountRow | None:
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM accounts WHERE id = %s", (account_id,))
        row = await cur.fetchone()
    return AccountRow(*row) if row else None


class AccountCache:
    """Per-process memo of `account_by_id` for `GET /api/me` (an account row changes almost never): entries
    live `ttl_s` seconds, so `/api/me` costs no PostgreSQL round trip per request. Admin checks do not use
    it (a revoked admin loses the rights at once)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._rows: dict[int, tuple[float, AccountRow]] = {}

    async def get(self, pool: Any, account_id: int) -> AccountRow | None:
        now = time.monotonic()
        hit = self._rows.get(account_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        row = await account_by_id(pool, account_id)
        if row is None:
            self._rows.pop(account_id, None)
            return None
        if len(self._rows) >= self.max_entries:
            self._rows.clear()
        self._rows[account_id] = (now, row)
        return row


@dataclass(frozen=True)
class SessionRow:
    """A login's session, as `GET /api/auth/sessions` lists it."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str
    ip: str


USER_AGENT_MAX = 200  # `sessions.user_agent`'s bound: a longer header is cut
IP_MAX = 64


async def start_session(
    pool: Any, session_id: str, account_id: int, jti: str, expires_at: int, user_agent: str, ip: str
) -> None:
    """Store a login: its session and the session's first refresh token, in one transaction."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO sessions (id, account_id, user_agent, ip) VALUES (%s, %s, %s, %s)",
            (session_id, account_id, user_agent[:USER_AGENT_MAX], ip[:IP_MAX]),
        )
        await cur.execute(
            "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) VALUES (%s, %s, %s, %s)",
            (jti, account_id, session_id, datetime.fromtimestamp(expires_at, tz=UTC)),
        )


class Rotation(StrEnum):
    ROTATED = "rotated"
    INVALID = "invalid"  # unknown, expired or revoked (a reused one whose session already ended included)
    REUSED = "reused"  # rotated before while its session lives on: it leaked, and that session is ended


@dataclass(frozen=True)
class RotationResult:
    outcome: Rotation
    session_id: str | None = None  # ROTATED: the session handed on; REUSED: the session ended
    signed: tuple[str, str] | None = None  # ROTATED: what `sign` returned (the new refresh and access tokens)


# Taken first by every transaction that rotates a refresh token or ends sessions: they run one at a time per
# account. Without it a revoke-all (logout everywhere, password reset) running while a rotation holds the old
# token's row would wait, then skip that row (already revoked) and never see the new token the rotation
# inserted (READ COMMITTED): the new token would outlive the revoke-all. NO KEY UPDATE: it does not block the
# key-share locks of inserts that reference the account (a login's session).
LOCK_ACCOUNT = "SELECT 1 FROM accounts WHERE id = %s FOR NO KEY UPDATE"
# Ending every session of an account: run both, after LOCK_ACCOUNT (or another lock on the account row).
END_ALL_SESSIONS = "UPDATE sessions SET ended_at = now() WHERE account_id = %s AND ended_at IS NULL"
REVOKE_ALL = "UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL"
_END_SESSION = "UPDATE sessions SET ended_at = now() WHERE id = %s AND account_id = %s AND ended_at IS NULL"
_REVOKE_SESSION = "UPDATE refresh_tokens SET revoked_at = now() WHERE session_id = %s AND revoked_at IS NULL"


async def rotate_refresh(
    pool: Any,
    jti: str,
    account_id: int,
    new_jti: str,
    new_expires_at: int,
    sign: Callable[[str], tuple[str, str]] | None = None,
) -> RotationResult:
    """Atomically retire `jti` and store `new_jti` in the same session; `sign(session_id)` (called before
    the commit) makes the tokens that go with it. INVALID when `jti` is unknown, expired or revoked;
    REUSED when it was already rotated (used before) while its session lives on: a reused refresh token has
    leaked, so that session ends (its refresh tokens here; the caller ends its access tokens). Replaying it
    again is then merely INVALID: a thief cannot end the owner's later sessions over and over with it.
    Serialized per account with the other session changes (`LOCK_ACCOUNT`)."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK_ACCOUNT, (account_id,))
        await cur.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = %s "
            "WHERE jti = %s AND account_id = %s AND revoked_at IS NULL AND expires_at > now() "
            "RETURNING session_id",
            (new_jti, jti, account_id),
        )
        row = await cur.fetchone()
        if row is None:
            await cur.execute(
                "SELECT t.session_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id "
                "WHERE t.jti = %s AND t.account_id = %s AND t.replaced_by IS NOT NULL AND s.ended_at IS NULL",
                (jti, account_id),
            )
            reused = await cur.fetchone()
            if reused is None:
                return RotationResult(Rotation.INVALID)
            await cur.execute(_END_SESSION, (reused[0], account_id))
            await cur.execute(_REVOKE_SESSION, (reused[0],))
            return RotationResult(Rotation.REUSED, reused[0])
        session_id = str(row[0])
        await cur.execute(
            "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) VALUES (%s, %s, %s, %s)",
            (new_jti, account_id, session_id, datetime.fromtimestamp(new_expires_at, tz=UTC)),
        )
        await cur.execute("UPDATE sessions SET last_used_at = now() WHERE id = %s", (session_id,))
        signed = sign(session_id) if sign is not None else None
    return RotationResult(Rotation.ROTATED, session_id, signed)


async def end_session_of_token(pool: Any, account_id: int, jti: str) -> str | None:
    """End the session of refresh token `jti` (a logout on one device); returns its id, None when the token
    is unknown or its session already ended."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK_ACCOUNT, (account_id,))
        await cur.execute(
            "SELECT session_id FROM refresh_tokens WHERE jti = %s AND account_id = %s", (jti, account_id)
        )
        row = await cur.fetchone()
        if row is None:
            return None
        return await _end_session(cur, account_id, str(row[0]))


async def end_session(pool: Any, account_id: int, session_id: str) -> str | None:
    """End one session of the account; its id, or None when it is not a live session of this account."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK_ACCOUNT, (account_id,))
        return await _end_session(cur, account_id, session_id)


async def _end_session(cur: Any, account_id: int, session_id: str) -> str | None:
    await cur.execute(_END_SESSION, (session_id, account_id))
    if not cur.rowcount:
        return None
    await cur.execute(_REVOKE_SESSION, (session_id,))
    return session_id


async def end_all_sessions(pool: Any, account_id: int) -> int:
    """End every session of the account (logout everywhere); returns how many were live."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK_ACCOUNT, (account_id,))
        await cur.execute(END_ALL_SESSIONS, (account_id,))
        ended = int(cur.rowcount or 0)
        await cur.execute(REVOKE_ALL, (account_id,))
        return ended


async def live_sessions(pool: Any, account_id: int, limit: int) -> list[SessionRow]:
    """The account's live sessions (not ended, holding an unexpired refresh token), most recently used
    first."""
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT s.id, s.created_at, s.last_used_at, s.user_agent, s.ip FROM sessions s "
            "WHERE s.account_id = %s AND s.ended_at IS NULL AND EXISTS (SELECT 1 FROM refresh_tokens t "
            "WHERE t.session_id = s.id AND t.revoked_at IS NULL AND t.expires_at > now()) "
            "ORDER BY s.last_used_at DESC, s.id LIMIT %s",
            (account_id, limit),
        )
        return [SessionRow(*row) for row in await cur.fetchall()]


KNOWN_ADDRESS_DAYS = 30


async def known_address(pool: Any, email: str, ip: str) -> bool:
    """Did the account of `email` sign in from this address, in a session used within the last
    `KNOWN_ADDRESS_DAYS` days?"""
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT 1 FROM sessions s JOIN accounts a ON a.id = s.account_id "
            "WHERE a.email = %s AND s.ip = %s "
            "AND coalesce(s.ended_at, s.last_used_at) > now() - make_interval(days => %s) LIMIT 1",
            (normalize_email(email), ip[:IP_MAX], KNOWN_ADDRESS_DAYS),
        )
        return await cur.fetchone() is not None


# Housekeeping (`workers.jobs.purge_sessions_job`, hourly): a refresh token past its expiry is refused by its
# signature check before any lookup, so its row serves nothing after a day's margin; a session is kept
# `KNOWN_ADDRESS_DAYS` after it ended or was last used (the login limit's known addresses), then deleted.
PURGE_REFRESH_TOKENS = "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"
PURGE_SESSIONS = """
DELETE FROM sessions s
 WHERE coalesce(s.ended_at, s.last_used_at) < now() - make_interval(days => %s)
   AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > now())
"""


def purge_sessions(conn: Any) -> tuple[int, int]:
    """Delete what `PURGE_REFRESH_TOKENS` and `PURGE_SESSIONS` name (a psycopg connection); returns (refresh
    tokens, sessions) deleted."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(PURGE_REFRESH_TOKENS)
        tokens = int(cur.rowcount or 0)
        cur.execute(PURGE_SESSIONS, (KNOWN_ADDRESS_DAYS,))
        return tokens, int(cur.rowcount or 0)
