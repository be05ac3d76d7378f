"""`exchange bench engine|api|persist`: run one benchmark module's `main(args) -> int`.

Each benchmark lives in `exchange/bench/<which>.py` (engine: engine helper, api: API helper, persist:
persistence helper) and reads the shared options below from `args`.

SIGTERM (`kill`, `timeout`) ends a benchmark as Ctrl-C does: it raises `SystemExit`, so every server and
stack the benchmark started is stopped by its context manager instead of being left running.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from types import FrameType

BENCHMARKS = ("engine", "api", "persist")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("which", choices=BENCHMARKS, help="what to measure")
    p.add_argument("--size", type=int, default=None, help="workload size (benchmark-specific default)")
    p.add_argument(
        "--redis-url", default=None, help="Redis to use (default: a throwaway server the benchmark starts)"
    )
    p.add_argument(
        "--server",
        default=None,
        help="kind of throwaway Redis (engine benchmark): redis7 or valkey8 (default: the first available)",
    )
    p.add_argument("--url", default=None, help="API base URL (api benchmark; default: start one)")
    p.add_argument("--database-url", default=None, help="PostgreSQL URL (persist benchmark)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument(
        "--duration", type=float, default=None, help="seconds per measurement step (api benchmark; default 3)"
    )


def run(args: argparse.Namespace) -> int:
    """Import `exchange.bench.<which>` and run its `main(args)`."""
    module_name = f"exchange.bench.{args.which}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(
            f"exchange bench: the {args.which} benchmark is not available yet ({module_name})",
            file=sys.stderr,
        )
        return 2
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return int(module.main(args) or 0)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
