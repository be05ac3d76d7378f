"""The `exchange` entry point: its help, one "no stack" message for every command, a closed stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.cli import SIGPIPE_EXIT, main

REPO = Path(__file__).resolve().parent.parent
REDIS = "pass --redis-url (or set EXCHANGE_REDIS_URL)"
DATABASE = "pass --database-url (or set EXCHANGE_DATABASE_URL)"
BOTH = "pass --redis-url and --database-url (or set EXCHANGE_REDIS_URL and EXCHANGE_DATABASE_URL)"


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No URL in the environment; EXCHANGE_DATA_DIR is an empty directory (no stack.json)."""
    for var in ("EXCHANGE_REDIS_URL", "EXCHANGE_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    monkeypatch.setenv("EXCHANGE_DATA_DIR", str(data_dir))
    return data_dir


def _help(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """`exchange ARGV --help`, unwrapped."""
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        pytest.param(argv, flags, id=" ".join(argv))
        for argv, flags in [
            (["book", "BTC-USDT"], REDIS),
            (["order", "1"], REDIS),
            (["seed"], REDIS),
            (["migrate"], DATABASE),
            (["user", "create", "a@example.com"], DATABASE),
            (["status"], BOTH),
            (["reconcile"], BOTH),
            (["restore"], BOTH),
            (["worker", "--burst"], BOTH),
        ]
    ],
)
def test_every_command_without_a_stack_gives_the_same_message_and_exit_2(
    no_stack: Path, capsys: pytest.CaptureFixture[str], argv: list[str], flags: str
) -> None:
    """Each command that needs the stack and finds none exits 2 (a usage error) with one message: the data
    dir it looked in, --data-dir / EXCHANGE_DATA_DIR, and the URL flags and variables it takes."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    expected = (
        f"exchange {argv[0]}: error: no running stack found in {no_stack} (no stack.json there): point "
        "--data-dir (or EXCHANGE_DATA_DIR) at the data dir of `exchange up`, or "
    )
    assert captured.err.startswith(expected), captured.err
    assert flags in captured.err


def test_the_no_stack_message_names_the_data_dir_given_and_a_stack_that_no_longer_runs(
    no_stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data-dir wins over EXCHANGE_DATA_DIR in the message too; a stack.json whose supervisor is gone is
    named as such (the stack stopped), not as a missing file."""
    other = tmp_path / "other"
    other.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    stack = {"redis_url": "redis://127.0.0.1:1/0", "supervisor_pid": int(dead.stdout)}
    (other / "stack.json").write_text(json.dumps(stack))
    assert main(["book", "BTC-USDT", "--data-dir", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"in {other} (its stack.json is from an `exchange up` that no longer runs)" in err


def test_a_closed_stdout_ends_the_command_quietly(redis_url: str, pg_url: str) -> None:
    """`exchange status --json | head -1`: when the reader closes the pipe early the command exits as a
    command killed by SIGPIPE would (141), without a BrokenPipeError traceback."""
    argv = [sys.executable, "-m", "exchange.cli", "status", "--json"]
    argv += ["--redis-url", redis_url, "--database-url", pg_url]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the command writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(60) == SIGPIPE_EXIT, err
    assert err == ""


def test_a_broken_pipe_that_is_not_stdout_is_still_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only a closed stdout is quiet: a BrokenPipeError from anything else (a socket, a child's stdin)
    still propagates."""

    def handler(_args: object) -> int:
        raise BrokenPipeError("a socket")

    monkeypatch.setattr("exchange.cli._load", lambda ref: handler)
    with (tmp_path / "out").open("w") as out:
        monkeypatch.setattr(sys, "stdout", out)
        with pytest.raises(BrokenPipeError):
            main(["status"])


def test_help_says_what_the_command_line_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange --help` says what the tool does, not "The `exchange` command line."."""
    out = _help(monkeypatch, capsys)
    assert "The `exchange` command line." not in out
    assert "The exchange's command line: run the whole stack, inspect the engine" in out


def test_help_of_mm_and_restore_match_the_docs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange mm --help` shows where --url comes from; `exchange restore --help` says what
    --open-orders-only leaves out as operations.md does (order records are strings, not hashes)."""
    monkeypatch.setenv("EXCHANGE_API_URL", "http://127.0.0.1:9999")
    expected = (
        "--url URL API base URL (default: EXCHANGE_API_URL, else the running stack's in --data-dir, else"
        " http://127.0.0.1:8000)"
    )
    assert expected in _help(monkeypatch, capsys, "mm")
    out = _help(monkeypatch, capsys, "restore")
    assert "--open-orders-only restore no closed order at all" in out and "hashes" not in out
