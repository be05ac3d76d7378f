"""Accounts and refresh tokens in PostgreSQL (tables of `exchange/db/migrations/0001_accounts.sql`).

Every function takes a psycopg `AsyncConnectionPool` (or anything with an async `connection()` context).
Emails are stored lower-cased.
"""

from __future__ import annotations

import time
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


async def store_refresh(pool: Any, jti: str, account_id: int, expires_at: int) -> None:
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO refresh_tokens (jti, account_id, expires_at) VALUES (%s, %s, %s)",
            (jti, account_id, datetime.fromtimestamp(expires_at, tz=UTC)),
        )


class Rotation(StrEnum):
    ROTATED = "rotated"
    INVALID = "invalid"  # unknown, expired or revoked (a reused one whose session already ended included)
    REUSED = "reused"  # rotated before while its session lives on: it leaked, every refresh token is revoked


# Taken first by every transaction that rotates a refresh token or revokes all of an account's: they run one
# at a time per account. Without it a revoke-all (logout everywhere, password reset, reuse) running while a
# rotation holds the old token's row would wait, then skip that row (already revoked) and never see the new
# token the rotation inserted (READ COMMITTED): the new token would outlive the revoke-all. NO KEY UPDATE:
# it does not block the key-share locks of inserts that reference the account (a login's refresh token).
LOCK_ACCOUNT = "SELECT 1 FROM accounts WHERE id = %s FOR NO KEY UPDATE"
REVOKE_ALL = "UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL"
# Does a rotated refresh token still have a live successor (the session it was rotated into, followed down
# `replaced_by`)? Only then is presenting it again a theft to answer by ending every session: once that was
# done, the chain holds no live token, and replaying the old token again is merely INVALID, so a thief
# cannot end the owner's later sessions (or write revocations) over and over with it.
LIVE_SUCCESSOR = """
WITH RECURSIVE chain (jti, replaced_by, live, depth) AS (
    SELECT jti, replaced_by, false, 0 FROM refresh_tokens
     WHERE jti = %s AND account_id = %s AND replaced_by IS NOT NULL
    UNION ALL
    SELECT t.jti, t.replaced_by, t.revoked_at IS NULL AND t.expires_at > now(), c.depth + 1
      FROM refresh_tokens t JOIN chain c ON t.jti = c.replaced_by
     WHERE c.depth < 100000
)
SELECT bool_or(live) FROM chain
"""


async def rotate_refresh(pool: Any, jti: str, account_id: int, new_jti: str, new_expires_at: int) -> Rotation:
    """Atomically retire `jti` and store `new_jti`. INVALID when `jti` is unknown, expired or revoked; REUSED
    when it was already rotated (used before) and the session it was rotated into is still live: every
    refresh token of the account is revoked too, since a reused refresh token means it leaked (the caller
    ends the access tokens). Serialized per account with revoke-alls (`LOCK_ACCOUNT`)."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(LOCK_ACCOUNT, (account_id,))
        await cur.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = %s "
            "WHERE jti = %s AND account_id = %s AND revoked_at IS NULL AND expires_at > now() RETURNING jti",
            (new_jti, jti, account_id),
        )
        if await cur.fetchone() is None:
            await cur.execute(LIVE_SUCCESSOR, (jti, account_id))
            reused = await cur.fetchone()
            if reused is not None and reused[0]:
                await cur.execute(REVOKE_ALL, (account_id,))
                return Rotation.REUSED
            return Rotation.INVALID
        await cur.execute(
            "INSERT INTO refresh_tokens (jti, account_id, expires_at) VALUES (%s, %s, %s)",
            (new_jti, account_id, datetime.fromtimestamp(new_expires_at, tz=UTC)),
        )
    return Rotation.ROTATED


async def revoke_refresh(pool: Any, account_id: int, jti: str | None = None) -> int:
    """Revoke one refresh token of the account (or all of them when `jti` is None, after `LOCK_ACCOUNT`);
    returns how many."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        if jti is None:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            await cur.execute(REVOKE_ALL, (account_id,))
        else:
            await cur.execute(
                "UPDATE refresh_tokens SET revoked_at = now() "
                "WHERE account_id = %s AND jti = %s AND revoked_at IS NULL",
                (account_id, jti),
            )
        return int(cur.rowcount or 0)
