"""The `exchange` command line.

Every subcommand lives in the module that owns its behaviour; this file only declares the commands and
imports each handler lazily, so `exchange --help` stays fast and a missing optional part cannot break the
others. A handler is `def run(args: argparse.Namespace) -> int` (the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
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


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exchange", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (_handler, help_text, adder) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if adder and name == wanted:  # only import the module of the command being run
            _load(adder)(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = _load(COMMANDS[args.command][0])
    return int(handler(args) or 0)  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
