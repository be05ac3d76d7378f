"""Persistence lag: how far PostgreSQL is behind each engine stream.

Per stream: `head_seq` (the engine's last seq: `HGET market:{SYM} seq`, `GET seq:wallet`),
`persisted_seq` (`stream_cursors.last_seq`), `events_behind`, and `seconds_behind` (age of the oldest
event not yet persisted; 0 when caught up). `regressed` flags a stream whose head is *behind* PostgreSQL, or
whose entry at the persisted cursor is gone or not the one persisted (another `ts`): both happen only when
Redis lost acknowledged writes (see docs/operations.md, "AOF"), and the persister stops at such a stream.

`lag(redis, pg)` is sync (redis.Redis + psycopg.Connection); `lag_async(redis, pg)` the same for
redis.asyncio + psycopg.AsyncConnection (what the API's /metrics uses); `render_metrics(report)` gives
Prometheus text.
"""

from __future__ import annotations

import time
from typing import Any, cast

import psycopg
import redis
import redis.asyncio

from workers.events import WALLET_STREAM, stream_of
from workers.persist import restored_key

RECONCILE_DIFFERENCES_KEY = "reconcile:differences_total"
RECONCILE_RUNS_KEY = "reconcile:runs_total"
RECONCILE_LAST_KEY = "reconcile:last"
RECONCILE_FROZEN_KEY = "reconcile:frozen"
# market -> the status it had when reconciliation switched it to cancel_only (the set RECONCILE_FROZEN_KEY
# lists the same markets, for `exchange status` and older readers)
RECONCILE_FROZEN_PREVIOUS_KEY = "reconcile:frozen:previous"


def _as_int(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bytes):
        value = value.decode()
    return int(cast(str, value))


def _as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def build_report(
    heads: dict[str, int],
    cursors: dict[str, int],
    oldest_ts_ms: dict[str, int | None],
    now_ms: int,
    replaced: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Pure: the lag report from stream heads, persisted cursors, the ts of each oldest pending event, and
    the streams whose persisted entry Redis no longer holds as persisted (`replaced`)."""
    streams: dict[str, dict[str, Any]] = {}
    for stream in sorted(heads):
        head, done = heads[stream], cursors.get(stream, 0)
        ts = oldest_ts_ms.get(stream)
        behind = max(0, head - done)
        seconds = max(0.0, (now_ms - ts) / 1000.0) if behind and ts is not None else 0.0
        streams[stream] = {
            "head_seq": head,
            "persisted_seq": done,
            "events_behind": behind,
            "seconds_behind": round(seconds, 3),
            "regressed": head < done or stream in replaced,
        }
    return {
        "events_behind": sum(s["events_behind"] for s in streams.values()),
        "seconds_behind": max((s["seconds_behind"] for s in streams.values()), default=0.0),
        "streams": streams,
    }


def _cursors_sql() -> str:
    return "SELECT stream, last_seq, last_ts_ms FROM stream_cursors"


def _from_cursor(cursor: tuple[int, int] | None) -> str:
    """XRANGE start: the persisted entry itself (checked), then the oldest pending one."""
    return f"{cursor[0]}-0" if cursor and cursor[0] > 0 else "-"


def _pending(entries: Any, cursor: tuple[int, int] | None) -> tuple[int | None, bool]:
    """(ts of the oldest pending entry, whether the persisted entry is still the one persisted)."""
    entries = list(entries or [])
    if not cursor or cursor[0] <= 0:
        return _oldest_ts(entries), True
    seq, ts = cursor
    first = entries[0] if entries else None
    intact = first is not None and _as_str(first[0]) == f"{seq}-0" and (not ts or _oldest_ts([first]) == ts)
    return _oldest_ts(entries[1:] if intact else entries), intact


def lag(client: redis.Redis, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The lag report (sync clients)."""
    symbols = sorted(_as_str(s) for s in cast(set[Any], client.smembers("markets")))
    streams = [WALLET_STREAM, *(stream_of(s) for s in symbols)]
    pipe = client.pipeline(transaction=False)
    pipe.get("seq:wallet")
    for s in symbols:
        pipe.hget(f"market:{s}", "seq")
    heads = dict(zip(streams, (_as_int(v) for v in pipe.execute()), strict=True))
    rows = {_as_str(s): (int(v), int(t)) for s, v, t in conn.execute(_cursors_sql()).fetchall()}
    pipe = client.pipeline(transaction=False)
    for s in streams:
        pipe.xrange(s, _from_cursor(rows.get(s)), "+", count=2)
        pipe.get(restored_key(s))
    return _report(streams, heads, rows, pipe.execute())


def _report(
    streams: list[str], heads: dict[str, int], rows: dict[str, tuple[int, int]], replies: list[Any]
) -> dict[str, Any]:
    """`replies`: per stream, its XRANGE from the cursor and its `persist:restored:` value."""
    oldest: dict[str, int | None] = {}
    replaced: set[str] = set()
    for i, s in enumerate(streams):
        entries, restored_at = replies[2 * i], replies[2 * i + 1]
        oldest[s], intact = _pending(entries, rows.get(s))
        cursor = rows[s][0] if s in rows else 0
        just_restored = restored_at is not None and _as_int(restored_at) == cursor
        if not intact and not just_restored and heads[s] >= cursor:  # (behind the cursor: flagged anyway)
            replaced.add(s)
    cursors = {s: seq for s, (seq, _) in rows.items()}
    return build_report(heads, cursors, oldest, int(time.time() * 1000), frozenset(replaced))


async def lag_async(client: redis.asyncio.Redis, conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """The lag report (redis.asyncio client, psycopg AsyncConnection)."""
    symbols = sorted(_as_str(s) for s in cast(set[Any], await client.smembers("markets")))  # type: ignore[misc]
    streams = [WALLET_STREAM, *(stream_of(s) for s in symbols)]
    pipe = client.pipeline(transaction=False)
    pipe.get("seq:wallet")
    for s in symbols:
        pipe.hget(f"market:{s}", "seq")
    heads = dict(zip(streams, (_as_int(v) for v in await pipe.execute()), strict=True))
    cur = await conn.execute(_cursors_sql())
    rows = {_as_str(s): (int(v), int(t)) for s, v, t in await cur.fetchall()}
    pipe = client.pipeline(transaction=False)
    for s in streams:
        pipe.xrange(s, _from_cursor(rows.get(s)), "+", count=2)
        pipe.get(restored_key(s))
    return _report(streams, heads, rows, await pipe.execute())


def _oldest_ts(entries: Any) -> int | None:
    if not entries:
        return None
    fields = entries[0][1]
    ts = fields.get("ts", fields.get(b"ts"))
    return _as_int(ts) if ts is not None else None


def render_metrics(report: dict[str, Any], reconcile: dict[str, int] | None = None) -> str:
    """Prometheus text for a lag report (and the reconciliation counters when given)."""
    lines = [
        "# HELP exchange_persist_events_behind Engine events not yet persisted to PostgreSQL.",
        "# TYPE exchange_persist_events_behind gauge",
    ]
    for stream, s in report["streams"].items():
        lines.append(f'exchange_persist_events_behind{{stream="{stream}"}} {s["events_behind"]}')
    lines += [
        "# HELP exchange_persist_seconds_behind Age of the oldest event not yet persisted.",
        "# TYPE exchange_persist_seconds_behind gauge",
    ]
    for stream, s in report["streams"].items():
        lines.append(f'exchange_persist_seconds_behind{{stream="{stream}"}} {s["seconds_behind"]}')
    if reconcile is not None:
        lines += [
            "# HELP exchange_reconcile_differences_total Differences found by reconciliation.",
            "# TYPE exchange_reconcile_differences_total counter",
            f"exchange_reconcile_differences_total {reconcile.get('differences', 0)}",
            "# HELP exchange_reconcile_runs_total Reconciliation runs.",
            "# TYPE exchange_reconcile_runs_total counter",
            f"exchange_reconcile_runs_total {reconcile.get('runs', 0)}",
        ]
    return "\n".join(lines) + "\n"


def reconcile_counters(client: redis.Redis) -> dict[str, int]:
    differences, runs = client.mget([RECONCILE_DIFFERENCES_KEY, RECONCILE_RUNS_KEY])  # type: ignore[misc]
    return {"differences": _as_int(differences), "runs": _as_int(runs)}


async def reconcile_counters_async(client: redis.asyncio.Redis) -> dict[str, int]:
    differences, runs = await client.mget([RECONCILE_DIFFERENCES_KEY, RECONCILE_RUNS_KEY])
    return {"differences": _as_int(differences), "runs": _as_int(runs)}
