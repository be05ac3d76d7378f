"""Accounts, sessions and refresh tokens in PostgreSQL (`exchange/db/migrations/0001_accounts.sql`,
`0003_sessions.sql`).

Every function takes a psycopg `AsyncConnectionPool` (or anything with an async `connection()` context).
Emails are stored lower-cased.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from psycopg import errors as pg_errors

from exchange.api.errors import ApiError, ErrorCode
from exchange.api.settings import MAX_ACCESS_TTL_S


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
MAX_LIVE_SESSIONS = 100  # per account: a login beyond it ends the least recently used session
# a session last used longer ago than this (the longest access-token lifetime, plus clock margin) has no live
# access token left: ending it needs no revocation
RECENT_S = MAX_ACCESS_TTL_S + 60
# Called inside the transaction that ends sessions, before it commits, with the account and the ended sessions
# whose access tokens may still be live: it writes their revocations (`exchange.api.revocation`). A failing
# write rolls the ending back, so the caller's error can be retried (not a 404 for a session ended in the
# database whose tokens still work elsewhere).
Revoke = Callable[[int, list[str]], Awaitable[None]]  # (account id, session ids)

# Taken first by every transaction that starts, rotates or ends sessions: they run one at a time per account.
# Without it a revoke-all (logout everywhere, password reset) running while a rotation holds the old token's
# row would wait, then skip that row (already revoked) and never see the new token the rotation inserted
# (READ COMMITTED): the new token would outlive the revoke-all. NO KEY UPDATE: it does not block the
# key-share locks of inserts that reference the account. A password reset (`exchange user create --update`)
# locks the row by updating it, so a login that verified the old password and stores its session after the
# reset sees the new hash and is refused.
LOCK_ACCOUNT = "SELECT password_hash FROM accounts WHERE id = %s FOR NO KEY UPDATE"
# Ending every session of an account: run both, after LOCK_ACCOUNT (or another lock on the account row). The
# first returns the sessions whose access tokens may still be live (second parameter: `RECENT_S`).
END_ALL_SESSIONS = (
    "UPDATE sessions SET ended_at = now() WHERE account_id = %s AND ended_at IS NULL "
    "RETURNING id, last_used_at > now() - make_interval(secs => %s)"
)
REVOKE_ALL = "UPDATE refresh_tokens SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL"
# did the session issue a token within the access-token lifetime (some may still be live)?
_RECENT = "last_used_at > now() - make_interval(secs => %(live_s)s)"
_REVOKE_SESSIONS = (
    "UPDATE refresh_tokens SET revoked_at = now() WHERE session_id = ANY(%s) AND revoked_at IS NULL"
)
# a live session `s`: not ended and holding an unexpired refresh token (one whose tokens all expired is over)
_LIVE = (
    "s.ended_at IS NULL AND EXISTS (SELECT 1 FROM refresh_tokens t "
    "WHERE t.session_id = s.id AND t.revoked_at IS NULL AND t.expires_at > now())"
)
_INSERT_REFRESH = (
    "INSERT INTO refresh_tokens (jti, account_id, session_id, expires_at) VALUES (%s, %s, %s, %s)"
)


# the refresh token's session ended (which revoked its tokens); expiry is checked before, on the token itself
_SESSION_ENDED_OF_TOKEN = (
    "SELECT 1 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id "
    "WHERE t.jti = %s AND t.account_id = %s AND s.ended_at IS NOT NULL"
)


class Rotation(StrEnum):
    ROTATED = "rotated"
    INVALID = "invalid"  # unknown or expired
    REUSED = "reused"  # rotated before while its session lives on: it leaked, and that session is ended
    ENDED = "ended"  # its session ended: a logout (here or elsewhere), an admin, a password reset, a reuse


@dataclass(frozen=True)
class RotationResult:
    outcome: Rotation
    session_id: str | None = None  # ROTATED: the session handed on; REUSED: the session ended
    signed: tuple[str, str] | None = None  # ROTATED: what `sign` returned (the new refresh and access tokens)


class Sessions:
    """Sessions and refresh tokens of accounts: every change that ends sessions writes their revocations
    through `revoke` before it commits. `live_s` is how long an access token may live (the longest any
    process issues), so sessions idle longer have none left to revoke."""

    def __init__(self, pool: Any, revoke: Revoke, live_s: int = RECENT_S) -> None:
        self.pool = pool
        self.revoke = revoke
        self.live_s = live_s

    async def _end(self, cur: Any, account_id: int, where: str, params: dict[str, Any]) -> list[str]:
        """End the live sessions `where` names (SQL over `sessions`), revoke their refresh tokens and, before
        the commit, the access tokens of those recently used; returns their ids."""
        await cur.execute(
            f"UPDATE sessions SET ended_at = now() WHERE ended_at IS NULL AND {where} "
            f"RETURNING id, {_RECENT}",
            {**params, "live_s": self.live_s},
        )
        rows = await cur.fetchall()
        ended = [str(r[0]) for r in rows]
        if ended:
            await cur.execute(_REVOKE_SESSIONS, (ended,))
            recent = [str(r[0]) for r in rows if r[1]]
            if recent:
                await self.revoke(account_id, recent)
        return ended

    async def start(
        self,
        session_id: str,
        account_id: int,
        password_hash: str,
        jti: str,
        expires_at: int,
        user_agent: str,
        ip: str,
    ) -> bool:
        """Store a login: its session and the session's first refresh token, in one transaction; False (and
        nothing stored) when the account's password is no longer `password_hash` (a reset since it was
        checked). Beyond `MAX_LIVE_SESSIONS` the least recently used sessions end."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            row = await cur.fetchone()
            if row is None or row[0] != password_hash:
                return False
            await cur.execute(
                "INSERT INTO sessions (id, account_id, user_agent, ip) VALUES (%s, %s, %s, %s)",
                (session_id, account_id, user_agent[:USER_AGENT_MAX], ip[:IP_MAX]),
            )
            await cur.execute(
                _INSERT_REFRESH,
                (jti, account_id, session_id, datetime.fromtimestamp(expires_at, tz=UTC)),
            )
            await self._end(
                cur,
                account_id,
                "id IN (SELECT id FROM sessions WHERE account_id = %(account)s AND ended_at IS NULL "
                "ORDER BY last_used_at DESC, id OFFSET %(keep)s)",
                {"account": account_id, "keep": MAX_LIVE_SESSIONS},
            )
        return True

    async def rotate(
        self,
        jti: str,
        account_id: int,
        new_jti: str,
        new_expires_at: int,
        sign: Callable[[str], tuple[str, str]] | None = None,
    ) -> RotationResult:
        """Atomically retire `jti` and store `new_jti` in the same session; `sign(session_id)` (called before
        the commit) makes the tokens that go with it. INVALID when `jti` is unknown or expired;
        REUSED when it was already rotated (used before) while its session lives on: a reused refresh token
        has leaked, so that session ends (its refresh and access tokens). ENDED when its session had ended
        already (replaying a reused token again included: a thief cannot end the owner's later sessions
        over and over with it)."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            await cur.execute(
                "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = %s "
                "WHERE jti = %s AND account_id = %s AND revoked_at IS NULL AND expires_at > now() "
                "RETURNING session_id",
                (new_jti, jti, account_id),
            )
            row = await cur.fetchone()
            if row is None:
                ended = await self._end(
                    cur,
                    account_id,
                    "id = (SELECT session_id FROM refresh_tokens WHERE jti = %(jti)s "
                    "AND account_id = %(account)s AND replaced_by IS NOT NULL)",
                    {"jti": jti, "account": account_id},
                )
                if ended:
                    return RotationResult(Rotation.REUSED, ended[0])
                await cur.execute(_SESSION_ENDED_OF_TOKEN, (jti, account_id))
                return RotationResult(Rotation.ENDED if await cur.fetchone() else Rotation.INVALID)
            session_id = str(row[0])
            await cur.execute(
                _INSERT_REFRESH,
                (new_jti, account_id, session_id, datetime.fromtimestamp(new_expires_at, tz=UTC)),
            )
            await cur.execute("UPDATE sessions SET last_used_at = now() WHERE id = %s", (session_id,))
            signed = sign(session_id) if sign is not None else None
        return RotationResult(Rotation.ROTATED, session_id, signed)

    async def end_of_token(self, account_id: int, jti: str) -> str | None:
        """End the session of refresh token `jti` (a logout on one device); its id, None when the token is
        unknown or its session already ended."""
        ended = await self._locked(
            account_id,
            "id = (SELECT session_id FROM refresh_tokens WHERE jti = %(jti)s AND account_id = %(account)s)",
            {"jti": jti, "account": account_id},
        )
        return ended[0] if ended else None

    async def end(self, account_id: int, session_id: str) -> str | None:
        """End one session of the account; its id, or None when it is not a live session of this account."""
        ended = await self._locked(
            account_id, "id = %(id)s AND account_id = %(account)s", {"id": session_id, "account": account_id}
        )
        return ended[0] if ended else None

    async def end_others(self, account_id: int, keep: str) -> list[str]:
        """End every session of the account but `keep` (log out all other devices); their ids."""
        where = "account_id = %(account)s AND id <> %(keep)s"
        return await self._locked(account_id, where, {"account": account_id, "keep": keep})

    async def change_password(
        self, account_id: int, old_hash: str, new_hash: str, keep: str
    ) -> list[str] | None:
        """Replace the password the caller verified (`old_hash`) by `new_hash` and end every session of the
        account but `keep`, in one transaction; the ids of the sessions ended, or None (nothing changed) when
        the password is no longer `old_hash` (changed or reset meanwhile)."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            row = await cur.fetchone()
            if row is None or row[0] != old_hash:
                return None
            await cur.execute("UPDATE accounts SET password_hash = %s WHERE id = %s", (new_hash, account_id))
            where = "account_id = %(account)s AND id <> %(keep)s"
            return await self._end(cur, account_id, where, {"account": account_id, "keep": keep})

    async def end_all(self, account_id: int) -> list[str]:
        """End every session of the account (logout everywhere, an admin's); their ids. The caller also
        revokes the account's access tokens issued until now (those of no session included)."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            ended = await self._end(cur, account_id, "account_id = %(account)s", {"account": account_id})
            await cur.execute(REVOKE_ALL, (account_id,))
            return ended

    async def _locked(self, account_id: int, where: str, params: dict[str, Any]) -> list[str]:
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(LOCK_ACCOUNT, (account_id,))
            return await self._end(cur, account_id, where, params)

    async def live(self, account_id: int, limit: int) -> list[SessionRow]:
        """The account's live sessions (not ended, holding an unexpired refresh token), most recently used
        first."""
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT s.id, s.created_at, s.last_used_at, s.user_agent, s.ip FROM sessions s "
                f"WHERE s.account_id = %s AND {_LIVE} ORDER BY s.last_used_at DESC, s.id LIMIT %s",
                (account_id, limit),
            )
            return [SessionRow(*row) for row in await cur.fetchall()]

    async def known_address(self, email: str, ip: str) -> bool:
        """Is the account of `email` signed in from this address now (a live session started from it)?
        Ended sessions do not count: after a password reset or a logout everywhere, an address a thief
        signed in from is no longer trusted."""
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT 1 FROM sessions s JOIN accounts a ON a.id = s.account_id "
                f"WHERE a.email = %s AND s.ip = %s AND {_LIVE} LIMIT 1",
                (normalize_email(email), ip[:IP_MAX]),
            )
            return await cur.fetchone() is not None


# Housekeeping (`workers.jobs.purge_sessions_job`, hourly): a refresh token past its expiry is refused by its
# signature check before any lookup, so its row serves nothing after a day's margin; a session is kept
# `KEEP_SESSIONS_DAYS` after it ended or was last used (an account's recent sign-ins), then deleted. Batches
# of `PURGE_BATCH` rows, each its own transaction, so a large backlog neither holds locks long nor times out.
KEEP_SESSIONS_DAYS = 30
PURGE_BATCH = 10_000
PURGE_REFRESH_TOKENS = """
DELETE FROM refresh_tokens WHERE jti IN (
    SELECT jti FROM refresh_tokens WHERE expires_at < now() - interval '1 day' LIMIT %s)
"""
PURGE_SESSIONS = """
DELETE FROM sessions WHERE id IN (
    SELECT s.id FROM sessions s
     WHERE coalesce(s.ended_at, s.last_used_at) < now() - make_interval(days => %s)
       AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.expires_at > now())
     LIMIT %s)
"""


def purge_sessions(conn: Any, batch: int = PURGE_BATCH) -> tuple[int, int]:
    """Delete what `PURGE_REFRESH_TOKENS` and `PURGE_SESSIONS` name (a psycopg connection), `batch` rows a
    transaction; returns (refresh tokens, sessions) deleted."""
    totals = [0, 0]
    for n, (sql, params) in enumerate(
        [(PURGE_REFRESH_TOKENS, (batch,)), (PURGE_SESSIONS, (KEEP_SESSIONS_DAYS, batch))]
    ):
        while True:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(sql, params)
                deleted = int(cur.rowcount or 0)
            totals[n] += deleted
            if deleted < batch:
                break
    return totals[0], totals[1]
