"""Schema migrations apply in order, once, atomically, and serialize concurrent runs."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from exchange.db.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate
from exchange.servers import PostgresServer

_names = itertools.count(1)


@pytest.fixture
def empty_db(pg_server: PostgresServer) -> str:
    """URL of a brand-new database with no migrations applied."""
    return pg_server.create_database(f"migrate_{next(_names)}")


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, body in files.items():
        (directory / name).write_text(body)
    return directory


def _versions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_applies_in_order_once(empty_db: str, tmp_path: Path) -> None:
    """Files run in number order, are recorded, and a second run applies nothing."""
    d = _write(
        tmp_path / "m",
        {
            "0002_add_col.sql": "ALTER TABLE a ADD COLUMN note text;",
            "0001_create.sql": "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);",
        },
    )
    assert migrate(empty_db, d) == ["0001_create", "0002_add_col"]
    assert migrate(empty_db, d) == []
    assert _versions(empty_db) == ["0001_create", "0002_add_col"]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT id, note FROM a").fetchall() == [(1, None)]


def test_failing_migration_leaves_nothing_behind(empty_db: str, tmp_path: Path) -> None:
    """A failing file is rolled back entirely and not recorded; earlier files stay applied."""
    d = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();",
        },
    )
    with pytest.raises(MigrationError, match="0002_bad"):
        migrate(empty_db, d)
    assert _versions(empty_db) == ["0001_ok"]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)
    (d / "0002_bad.sql").write_text("CREATE TABLE half (id int);")
    assert migrate(empty_db, d) == ["0002_bad"]


def test_misnamed_and_duplicate_files_are_refused(tmp_path: Path) -> None:
    """Files not named NNNN_name.sql, or sharing a number, are rejected before anything runs."""
    with pytest.raises(MigrationError, match="not named"):
        discover(_write(tmp_path / "a", {"1_x.sql": ""}))
    with pytest.raises(MigrationError, match="share a number"):
        discover(_write(tmp_path / "b", {"0001_x.sql": "", "0001_y.sql": ""}))


def test_concurrent_runs_apply_each_file_once(empty_db: str, tmp_path: Path) -> None:
    """Runs racing on one database are serialized by the advisory lock: each file applies exactly once."""
    d = _write(
        tmp_path / "m",
        {f"000{i}_t{i}.sql": f"CREATE TABLE t{i} (id int); SELECT pg_sleep(0.05);" for i in range(1, 5)},
    )
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_db, d))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(v for r in results for v in r) == ["0001_t1", "0002_t2", "0003_t3", "0004_t4"]


def test_project_migrations_apply_cleanly(empty_db: str) -> None:
    """The repository's own migrations are well named and apply to an empty database, twice."""
    expected = [v for v, _ in discover(MIGRATIONS_DIR)]
    assert migrate(empty_db) == expected
    assert migrate(empty_db) == []


def test_cli_migrate(empty_db: str, tmp_path: Path) -> None:
    """`exchange migrate --database-url` applies pending files and exits 0."""
    d = _write(tmp_path / "m", {"0001_cli.sql": "CREATE TABLE cli (id int);"})
    cmd = [
        sys.executable,
        "-m",
        "exchange.cli",
        "migrate",
        "--database-url",
        empty_db,
        "--migrations-dir",
        str(d),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "0001_cli" in out.stdout
    assert _versions(empty_db) == ["0001_cli"]
