"""CLI handlers: `exchange worker`, `exchange status`, `exchange reconcile`, `exchange restore`.

Each finds the stack through `--redis-url` / `--database-url`, else the environment variables
(`EXCHANGE_REDIS_URL`, `EXCHANGE_DATABASE_URL`), else `<data-dir>/stack.json` written by `exchange up`
(`--data-dir`, default `EXCHANGE_DATA_DIR` or `./var`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange.config import find_stack_urls

if TYPE_CHECKING:
    from workers.reconcile import Cleared


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=Path, default=None, help="stack data dir (default: EXCHANGE_DATA_DIR or ./var)"
    )
    p.add_argument(
        "--redis-url", default=None, help="Redis URL (default: EXCHANGE_REDIS_URL, else stack.json)"
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default: EXCHANGE_DATABASE_URL, else stack.json)",
    )


def resolve_urls(args: argparse.Namespace) -> tuple[str, str]:
    """Both URLs (flags, else environment, else stack.json); raises `exchange.config.StackNotFound`, which
    the `exchange` entry point reports (one message and exit code for every command)."""
    redis_url, database_url = find_stack_urls(
        getattr(args, "data_dir", None),
        redis_url=getattr(args, "redis_url", None),
        database_url=getattr(args, "database_url", None),
    )
    assert redis_url and database_url  # find_stack_urls raises when either is unknown
    return redis_url, database_url


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


# --- exchange worker -----------------------------------------------------------------------------------
def add_worker_arguments(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("--burst", action="store_true", help="persist everything pending, then exit")
    p.add_argument(
        "--reconcile-interval",
        type=float,
        default=float(os.environ.get("EXCHANGE_RECONCILE_INTERVAL", "60")),
        help="seconds between scheduled reconciliations (0: never; env EXCHANGE_RECONCILE_INTERVAL)",
    )
    p.add_argument(
        "--retain",
        type=int,
        default=int(os.environ.get("EXCHANGE_STREAM_RETAIN", "100000")),
        help="persisted events kept per stream when trimming (-1: never trim; env EXCHANGE_STREAM_RETAIN)",
    )
    p.add_argument(
        "--round-ms",
        type=float,
        default=float(os.environ.get("EXCHANGE_PERSIST_ROUND_MS", "50")),
        help="while events trickle in, start a persistence round at most this often, so each writes a "
        "batch (0: back to back; env EXCHANGE_PERSIST_ROUND_MS)",
    )
    _add_closed_ttl(p)


def closed_ttl_seconds(text: str) -> int:
    """`--closed-order-ttl` / EXCHANGE_CLOSED_ORDER_TTL text: 0 (keep closed orders forever) or at least a day
    (the retry check of a `client_order_id` and the API's recent orders read them); ValueError otherwise."""
    from workers.jobs import MIN_CLOSED_TTL_S

    try:
        seconds = int(text)
    except ValueError:
        seconds = -1
    if seconds != 0 and seconds < MIN_CLOSED_TTL_S:
        raise ValueError(
            "the closed-order TTL (--closed-order-ttl or EXCHANGE_CLOSED_ORDER_TTL) is 0 (forever) or at"
            f" least {MIN_CLOSED_TTL_S} seconds (a day); got {text!r}"
        )
    return seconds


def _closed_ttl_arg(text: str) -> int:
    try:
        return closed_ttl_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_closed_ttl(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--closed-order-ttl",
        type=_closed_ttl_arg,
        default=os.environ.get("EXCHANGE_CLOSED_ORDER_TTL", str(7 * 86400)),  # (checked like the option)
        help="seconds a persisted closed order stays in Redis (0: forever, else at least 86400; default:"
        " EXCHANGE_CLOSED_ORDER_TTL, else 7 days)",
    )


def _closed_ttl(args: argparse.Namespace) -> int | None:
    """--closed-order-ttl as the persister takes it (0: None, never expire)."""
    from workers.persist import DEFAULT_CLOSED_TTL_S

    seconds = int(getattr(args, "closed_order_ttl", DEFAULT_CLOSED_TTL_S))
    return None if seconds == 0 else seconds


def run_worker(args: argparse.Namespace) -> int:
    redis_url, database_url = resolve_urls(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ttl = _closed_ttl(args)
    if args.burst:
        from workers.persist import StreamRegressed, drain

        try:
            n = drain(redis_url, database_url, closed_ttl_s=ttl)
        except StreamRegressed as exc:  # the other streams were persisted first
            return _fail(f"{exc} (see docs/operations.md, REGRESSED)")
        print(f"persisted {n} events")
        return 0
    import redis

    from workers.jobs import QUEUE_NAME, JobWorker, Scheduler

    scheduler = Scheduler(
        redis_url,
        database_url,
        reconcile_interval_s=args.reconcile_interval,
        retain=None if args.retain < 0 else args.retain,
        closed_ttl_s=ttl,
        round_s=max(0.0, args.round_ms) / 1000,
    )
    scheduler.start()
    conn = redis.Redis.from_url(redis_url, decode_responses=False, protocol=2)
    # the jobs carry no URLs: each runs on this worker's stack (`JobWorker`), whoever queued it
    worker = JobWorker([QUEUE_NAME], connection=conn, redis_url=redis_url, database_url=database_url)
    try:
        worker.work(logging_level="WARNING")
    finally:
        scheduler.stop()
    return 0


# --- exchange status -----------------------------------------------------------------------------------
def add_status_arguments(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")


def status_report(redis_url: str, database_url: str) -> dict[str, Any]:
    import psycopg
    import redis
    from rq import Worker

    from workers.lag import RECONCILE_FROZEN_KEY, RECONCILE_LAST_KEY, lag, reconcile_counters

    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            report: dict[str, Any] = {"lag": lag(client, conn)}
        report["reconcile"] = reconcile_counters(client)
        last = client.get(RECONCILE_LAST_KEY)
        report["reconcile"]["last"] = json.loads(str(last)) if last else None
        report["reconcile"]["frozen_markets"] = sorted(str(s) for s in client.smembers(RECONCILE_FROZEN_KEY))  # type: ignore[union-attr]
        rq_conn = redis.Redis.from_url(redis_url, decode_responses=False, protocol=2)
        report["workers"] = len(_live(Worker.all(connection=rq_conn)))
        rq_conn.close()
        return report
    finally:
        client.close()


def _live(workers: list[Any]) -> list[Any]:
    """The RQ workers that run: a worker killed without its clean exit stays registered until its key
    expires (minutes); one on this host counts only while its pid runs (another host's cannot be checked)."""
    import socket

    here = socket.gethostname()
    return [w for w in workers if w.hostname != here or _pid_alive(w.pid)]


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stack_processes(data_dir: Path | None) -> dict[str, Any] | None:
    """The processes `exchange up` recorded in stack.json, each with whether it is alive."""
    from exchange.config import StackSettings, read_stack_file

    stack = read_stack_file(data_dir if data_dir is not None else StackSettings.from_env().data_dir)
    if not stack:
        return None
    pids: dict[str, Any] = {"supervisor": stack.get("supervisor_pid"), "redis": stack.get("redis_pid"),
                            "postgres": stack.get("postgres_pid"), **(stack.get("pids") or {})}  # fmt: skip
    return {
        "api_url": stack.get("api_url"),
        "processes": {name: {"pid": pid, "alive": _pid_alive(pid)} for name, pid in pids.items() if pid},
    }


def run_status(args: argparse.Namespace) -> int:
    redis_url, database_url = resolve_urls(args)
    try:
        report = status_report(redis_url, database_url)
        report["stack"] = stack_processes(getattr(args, "data_dir", None))
    except Exception as exc:  # unreachable server: say which
        return _fail(f"stack not reachable: {exc}")
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    lag_report = report["lag"]
    stack = report.get("stack")
    if stack:
        print(f"stack: {stack['api_url']}")
        for name, proc in stack["processes"].items():
            print(f"  {name:<12} pid {proc['pid']:>7}  {'running' if proc['alive'] else 'NOT RUNNING'}")
    print(f"workers: {report['workers']}")
    print(
        f"persistence: {lag_report['events_behind']} events behind, {lag_report['seconds_behind']} s behind"
    )
    for stream, s in lag_report["streams"].items():
        flag = "  REGRESSED (Redis behind PostgreSQL)" if s["regressed"] else ""
        print(
            f"  {stream:<24} head {s['head_seq']:>10}  persisted {s['persisted_seq']:>10}  "
            f"behind {s['events_behind']:>7} ({s['seconds_behind']} s){flag}"
        )
    rec = report["reconcile"]
    last = rec.get("last") or {}
    print(
        f"reconciliation: {rec['runs']} runs, {rec['differences']} differences found in total; last run: "
        + (
            "never"
            if not last
            else ("ok" if last.get("ok") else f"{len(last.get('differences', []))} differences")
        )
    )
    if rec["frozen_markets"]:
        print(f"frozen by reconciliation (cancel_only): {', '.join(rec['frozen_markets'])}")
    return 0


# --- exchange reconcile --------------------------------------------------------------------------------
def add_reconcile_arguments(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument(
        "--no-freeze", action="store_true", help="report only: do not switch markets to cancel_only"
    )
    p.add_argument(
        "--clear",
        nargs="+",
        metavar="SYMBOL",
        default=None,
        help="operator: give each market that reconciliation froze the status it had before (while it is "
        "still cancel_only) and forget the freeze; no reconciliation run",
    )
    _add_closed_ttl(p)  # the workers' value, for what its catch-up persists


class _PrintedDifferences(logging.Filter):
    """The command prints each difference itself (stdout, `DIFFERENCE {...}`): the reconciliation's log line
    of the same difference (for the workers' log) is not repeated on stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("reconciliation difference")


_PRINTED_DIFFERENCES = _PrintedDifferences()


def run_reconcile(args: argparse.Namespace) -> int:
    import redis

    from workers.reconcile import RECONCILE_FROZEN_KEY, clear_frozen

    redis_url, database_url = resolve_urls(args)
    if args.clear:
        from exchange.engine.client import Engine

        client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
        symbols = [s.upper() for s in args.clear]
        engine, frozen = Engine(client), client.smembers(RECONCILE_FROZEN_KEY)
        unknown = [s for s in symbols if s not in frozen and engine.market(s) is None]  # (a typo)
        if unknown:
            known = ", ".join(sorted(m["symbol"] for m in engine.markets())) or "none"
            return _fail(f"no market {', '.join(unknown)}: the markets are {known}; nothing cleared")
        print(_clear_report(clear_frozen(client, symbols)))
        return 0
    logger = logging.getLogger("workers.reconcile")
    logger.addFilter(_PRINTED_DIFFERENCES)
    try:
        return _reconcile_and_print(args, redis_url, database_url)
    finally:
        logger.removeFilter(_PRINTED_DIFFERENCES)


def _reconcile_and_print(args: argparse.Namespace, redis_url: str, database_url: str) -> int:
    import redis

    from workers.reconcile import reconcile_urls

    try:
        report = reconcile_urls(
            redis_url, database_url, freeze=not args.no_freeze, closed_ttl_s=_closed_ttl(args)
        )
    except (redis.RedisError, OSError) as exc:
        return _fail(f"Redis not reachable: {exc}")
    except Exception as exc:
        import psycopg

        if isinstance(exc, psycopg.Error):
            return _fail(f"PostgreSQL not reachable: {exc}")
        raise
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        for d in report.differences:
            print("DIFFERENCE " + json.dumps(d, sort_keys=True))
        if not report.caught_up:
            print("persistence did not catch up with Redis: nothing compared")
        if report.frozen_markets:
            print(f"switched to cancel_only: {', '.join(report.frozen_markets)}")
        print(
            f"reconciliation {'OK' if report.ok else 'FAILED'}: {len(report.differences)} differences, "
            f"checked {report.checked.get('balances', 0)} balances and "
            f"{report.checked.get('open_orders', 0)} open orders in {report.seconds} s"
        )
    return 0 if report.ok else 1


def _clear_report(cleared: Cleared) -> str:
    """What `--clear` did, one line per outcome, in words that cannot be read as more than happened."""
    lines = [f"{sym}: back to {status}, the status it had when reconciliation froze it"
             for sym, status in cleared.restored.items()]  # fmt: skip
    lines += [f"{sym}: freeze forgotten, status left {status or 'as it is'} (no longer cancel_only)"
              for sym, status in cleared.left.items()]  # fmt: skip
    if cleared.not_frozen:
        names = ", ".join(cleared.not_frozen)
        verb = "was" if len(cleared.not_frozen) == 1 else "were"
        lines.append(f"nothing to clear: {names} {verb} not frozen by reconciliation")
    return "\n".join(lines)


# --- exchange restore ----------------------------------------------------------------------------------
def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="restore even though Redis is not empty (FLUSHDB first: destructive)",
    )
    p.add_argument(
        "--open-orders-only",
        action="store_true",
        help="restore no closed order at all, only open ones (the API serves closed orders from "
        "PostgreSQL); default: closed orders within --closed-order-ttl are restored too",
    )
    _add_closed_ttl(p)  # the workers' value: closed orders come back expiring as they would have


def run_restore(args: argparse.Namespace) -> int:
    from workers.restore import RestoreError, restore_urls

    redis_url, database_url = resolve_urls(args)
    try:
        summary = restore_urls(
            redis_url,
            database_url,
            force=args.force,
            closed_orders=not getattr(args, "open_orders_only", False),
            closed_ttl_s=_closed_ttl(args),
        )
    except RestoreError as exc:
        return _fail(str(exc))
    print("restored: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
