"""PostgreSQL schema migrations: `exchange/db/migrations/NNNN_name.sql`, applied in order.

Each file runs in its own transaction and is recorded in `schema_migrations(version, applied_at)` in the
same transaction, so a failing file leaves nothing behind and is retried next time. Re-running is a no-op.
Concurrent runs (several API processes starting at once) are serialized with a session advisory lock.
The version is the file name without `.sql` (e.g. `0001_accounts`).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 0x65786368  # "exch": one key for every migration run on a database

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration file is misnamed, duplicated, or failed to apply."""


def discover(migrations_dir: Path | None = None) -> list[tuple[str, Path]]:
    """(version, path) of every migration file, in order. Raises on a misnamed or duplicate number."""
    directory = Path(migrations_dir or MIGRATIONS_DIR)
    found: list[tuple[str, Path]] = []
    numbers: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file {path.name!r} is not named NNNN_lowercase_name.sql")
        if m.group(1) in numbers:
            raise MigrationError(f"migrations {numbers[m.group(1)]!r} and {path.stem!r} share a number")
        numbers[m.group(1)] = path.stem
        found.append((path.stem, path))
    return found


def applied_versions(conn: psycopg.Connection) -> set[str]:
    """Versions recorded in schema_migrations (empty when the table does not exist yet)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(database_url: str, migrations_dir: Path | None = None) -> list[str]:
    """Apply every pending migration; returns the versions applied by this call (in order)."""
    pending_files = discover(migrations_dir)
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = applied_versions(conn)
            for version, path in pending_files:
                if version in done:
                    continue
                body = path.read_text(encoding="utf-8")
                try:
                    with conn.transaction():
                        conn.execute(body.encode())  # bytes: no client-side %-placeholder parsing
                        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {version} failed: {exc}") from exc
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: EXCHANGE_DATABASE_URL, else the running stack's, from --data-dir)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the stack's data directory, to find its database (default: EXCHANGE_DATA_DIR or ./var)",
    )
    p.add_argument("--migrations-dir", type=Path, default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """`exchange migrate`: apply pending migrations and list them."""
    from exchange.config import find_stack_urls

    _, url = find_stack_urls(
        getattr(args, "data_dir", None), database_url=args.database_url, need=("database",)
    )
    assert url  # find_stack_urls raises when it is unknown
    try:
        applied = migrate(url, args.migrations_dir)
    except (MigrationError, psycopg.Error) as exc:
        print(f"exchange migrate: {exc}", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0
