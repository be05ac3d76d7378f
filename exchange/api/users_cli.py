"""`exchange user create EMAIL [--admin] [--password PW]`: create an account (e.g. the first admin).

Without `--password` a random password is generated and printed once. The database comes from
`--database-url`, else `EXCHANGE_DATABASE_URL`, else the running stack (`<data-dir>/stack.json`); without
any, `exchange.config.StackNotFound` (the `exchange` entry point prints it and exits 2).

`--update` resets an existing account's password and ends every session of the old one: its refresh tokens
(PostgreSQL) and, through Redis (`EXCHANGE_REDIS_URL` or the stack's), its access tokens
(`exchange.api.revocation`): it returns once every running API process has read that, as a logout
does. Without a reachable Redis the access tokens end when they expire.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import psycopg
import redis.asyncio
from redis.exceptions import RedisError

from exchange.api.accounts import END_ALL_SESSIONS, RECENT_S, REVOKE_ALL, normalize_email
from exchange.api.auth import hash_password_sync
from exchange.api.password_policy import password_problem
from exchange.api.revocation import CONFIRM_S, revoke_from_outside
from exchange.api.settings import MAX_ACCESS_TTL_S
from exchange.config import find_stack_urls, stack_urls


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create", help="create an account (no demo funds: admin deposits fund it, POST /api/admin/deposits)"
    )
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="grant admin rights (deposits, market status)")
    create.add_argument("--password", help="the password (default: generate and print one)")
    create.add_argument(
        "--database-url", help="PostgreSQL URL (default: EXCHANGE_DATABASE_URL or the stack's)"
    )
    create.add_argument(
        "--data-dir",
        default=None,
        help="stack data dir holding stack.json (default: EXCHANGE_DATA_DIR or ./var)",
    )
    create.add_argument(
        "--update",
        action="store_true",
        help="if the email exists, set its password (and grant admin with --admin; an admin stays one"
        " without it) instead of failing",
    )


def _database_url(args: argparse.Namespace) -> str:
    """--database-url, else EXCHANGE_DATABASE_URL, else the running stack's; raises `StackNotFound`."""
    _, url = find_stack_urls(args.data_dir, database_url=args.database_url, need=("database",))
    assert url  # find_stack_urls raises when it is unknown
    return url


def end_access_tokens(args: argparse.Namespace, account_id: int, sids: list[str]) -> str | None:
    """Revoke the account's access tokens issued until now, and those of its sessions `sids` (which does not
    depend on the clocks of the processes that issued them), and wait until every running API process has
    read that (at most half a second); None when done, else why not."""
    redis_url = stack_urls(Path(args.data_dir) if args.data_dir else None)[0]
    if not redis_url:
        return "no Redis known (EXCHANGE_REDIS_URL or a running stack)"

    async def revoke() -> bool:
        client = redis.asyncio.Redis.from_url(redis_url, socket_timeout=5)
        try:
            return await revoke_from_outside(client, MAX_ACCESS_TTL_S, account_id, time.time(), sids)
        finally:
            await client.aclose()

    try:
        confirmed = asyncio.run(revoke())
    except (RedisError, OSError) as exc:
        return f"Redis unreachable ({exc})"
    if not confirmed:
        print(
            f"warning: not every API process confirmed within {CONFIRM_S:g} s that it ended the old sessions'"
            " access tokens: each does as it reads Redis (see its log)",
            file=sys.stderr,
        )
    return None


def create_user(
    database_url: str, email: str, password: str, admin: bool = False, update: bool = False
) -> int:
    """Insert (or with `update`, reset) an account; returns its id. Raises `ValueError` if it exists. A reset
    revokes the account's refresh tokens (`run` also ends its access tokens, through Redis)."""
    return save_user(database_url, email, password, admin, update)[0]


def save_user(
    database_url: str, email: str, password: str, admin: bool = False, update: bool = False
) -> tuple[int, bool, bool, list[str]]:
    """`create_user`, returning (id, created: False when `update` reset an existing account, is_admin, the
    ended sessions whose access tokens may still be live)."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise ValueError(f"not an email address: {email!r}")
    if not 8 <= len(password) <= 128:
        raise ValueError("the password must be 8..128 characters")
    problem = password_problem(password, email)
    if problem:
        raise ValueError(problem)
    password_hash = hash_password_sync(password)
    sids: list[str] = []
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        if update:
            cur.execute(
                "INSERT INTO accounts (email, password_hash, is_admin) VALUES (%s, %s, %s) "
                "ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
                "is_admin = accounts.is_admin OR EXCLUDED.is_admin RETURNING id, xmax = 0, is_admin",
                (email, password_hash, admin),
            )
        else:
            cur.execute(
                "INSERT INTO accounts (email, password_hash, is_admin) VALUES (%s, %s, %s) "
                "ON CONFLICT (email) DO NOTHING RETURNING id, true, is_admin",
                (email, password_hash, admin),
            )
        row = cur.fetchone()
        if row is not None and not row[1]:  # a reset password ends every session of the old one
            # the upsert above holds the account row's lock (as exchange.api.accounts.LOCK_ACCOUNT would): a
            # refresh rotation in progress commits first, and this revoke-all then sees the token it inserted
            cur.execute(END_ALL_SESSIONS, (row[0], RECENT_S))
            sids = [str(sid) for sid, recent in cur.fetchall() if recent]
            cur.execute(REVOKE_ALL, (row[0],))
    if row is None:
        raise ValueError(f"an account with email {email} exists (use --update to reset it)")
    return int(row[0]), bool(row[1]), bool(row[2]), sids  # xmax = 0: the row was inserted, not updated


def run(args: argparse.Namespace) -> int:
    url = _database_url(args)
    generated = args.password is None
    password = args.password or secrets.token_urlsafe(15)
    try:
        account_id, created, is_admin, sids = save_user(url, args.email, password, args.admin, args.update)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    role = "admin" if is_admin else "user"
    done = "created" if created else "updated (new password)"
    print(f"{done} {role} account {account_id} <{normalize_email(args.email)}>")
    if not created:
        problem = end_access_tokens(args, account_id, sids)
        if problem is not None:
            minutes = MAX_ACCESS_TTL_S // 60
            print(f"warning: {problem}: the old sessions' access tokens end when they expire "
                  f"(at most {minutes} min)", file=sys.stderr)  # fmt: skip
    if generated:
        print(f"password: {password}")
    return 0
