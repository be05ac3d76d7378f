"""The exchange's command line: run the whole stack, inspect the engine, run persistence workers and
reconciliation, manage accounts, and benchmark.

Every subcommand lives in the module that owns its behaviour; this file only declares the commands and
imports each handler lazily, so `exchange --help` stays fast and a missing optional part cannot break the
others. A handler is `def run(args: argparse.Namespace) -> int` (the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
from collections.abc import Callable

# command -> (handler "module:function", help, argument adder "module:function" or None)
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "up": (
        "exchange.stack:run",
        "run the whole exchange (Redis, PostgreSQL, API, workers, market maker)",
        "exchange.stack:add_arguments",
    ),
    "migrate": (
        "exchange.db.migrate:run",
        "apply PostgreSQL schema migrations",
        "exchange.db.migrate:add_arguments",
    ),
    "seed": (
        "exchange.seed:run",
        "load the seed assets and markets into the engine",
        "exchange.seed:add_arguments",
    ),
    "book": (
        "exchange.engine.cli:run_book",
        "print a market's live order book from Redis",
        "exchange.engine.cli:add_book_arguments",
    ),
    "order": (
        "exchange.engine.cli:run_order",
        "print one order from Redis (its record and the order object)",
        "exchange.engine.cli:add_order_arguments",
    ),
    "user": (
        "exchange.api.users_cli:run",
        "manage accounts (exchange user create --admin EMAIL)",
        "exchange.api.users_cli:add_arguments",
    ),
    "mm": ("exchange.mm:run", "run the demo market maker against a running API", "exchange.mm:add_arguments"),
    "worker": ("workers.cli:run_worker", "run an RQ persistence worker", "workers.cli:add_worker_arguments"),
    "status": (
        "workers.cli:run_status",
        "show the running stack and persistence lag",
        "workers.cli:add_status_arguments",
    ),
    "reconcile": (
        "workers.cli:run_reconcile",
        "prove Redis and PostgreSQL agree (non-zero exit on any difference)",
        "workers.cli:add_reconcile_arguments",
    ),
    "restore": (
        "workers.cli:run_restore",
        "rebuild the Redis engine state from PostgreSQL",
        "workers.cli:add_restore_arguments",
    ),
    "openapi": ("exchange.api.app:run_openapi", "print the OpenAPI 3.1 document as JSON", None),
    "bench": (
        "exchange.bench:run",
        "run a benchmark: engine | api | persist",
        "exchange.bench:add_arguments",
    ),
}


def _load(ref: str) -> Callable[..., object]:
    module_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]


DESCRIPTION = (__doc__ or "").split("\n\n")[0].replace("\n", " ")
EPILOG = "Run `exchange COMMAND --help` for a command's options; docs/operations.md for running it all."
SIGPIPE_EXIT = 128 + 13  # what a shell reports for a process that SIGPIPE killed


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exchange", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_handler, help_text, adder) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if adder and name == wanted:  # only import the module of the command being run
            _load(adder)(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. A reader that closed our stdout early (`exchange status --json | head
    -1`) ends the command quietly, as SIGPIPE ends other Unix tools (Python ignores SIGPIPE, so it shows as
    BrokenPipeError instead)."""
    try:
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        finally:
            sys.stdout.flush()  # here, not at the interpreter's exit, where it could no longer be caught
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe (a socket, a child's stdin): a real error
        # the interpreter flushes stdout once more at exit: let that write go nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_EXIT


def _run(argv: list[str]) -> int:
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = _load(COMMANDS[args.command][0])
    from exchange.config import StackNotFound  # not at the top: `exchange --help` stays fast

    try:
        return int(handler(args) or 0)  # type: ignore[call-overload]
    except StackNotFound as exc:  # one message and one exit code for every command that needs the stack
        print(f"exchange {args.command}: error: {exc}", file=sys.stderr)
        return StackNotFound.EXIT_CODE


def _stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has gone away."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _fd, events in poller.poll(0))
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
