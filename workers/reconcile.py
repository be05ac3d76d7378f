"""Reconciliation: prove that Redis (the live engine) and PostgreSQL (the durable history) agree.

1. One atomic read of Redis (a read-only Lua script): every stream head, every balance hash, every open
   order's market and remaining quantity. Nothing can change between these reads.
2. Persist until PostgreSQL has every event up to those heads (`Persister.drain`).
3. Compare *as of the heads* (rows with `seq <= head` only, so events appended meanwhile don't matter):
   - every (account, asset) balance in Redis == the sum of its ledger lines;
   - every open order in Redis is open in PostgreSQL with the same remaining quantity, and every order
     PostgreSQL believes open (as of the heads) is open in Redis;
   - per asset, the sum of all balances == deposits - withdrawals (`wallet_ops`) == the engine's supply
     counter (`asset:{SYM}` field `supply`, which caps deposits below 2^53);
   - no available or held amount is negative, in Redis or in the ledger sums (money invariant).
   Before persisting, every PostgreSQL cursor (read *before* the snapshot, so it can only be at or below
   the heads) must be at or below its Redis stream head: a cursor ahead of the head means Redis lost
   writes that PostgreSQL has (`regressed`); nothing is then persisted or compared.
4. Each difference is reported precisely, counted (`reconcile:differences_total`), recorded in
   `reconcile_runs`, and switches the affected markets (a balance of asset A: every market trading A; an
   order: its market; a regressed market stream: its market; a regressed wallet stream: every market) from
   `trading` to `cancel_only`. Only markets reconciliation itself switched are recorded (the Redis set
   `reconcile:frozen`, and the status they had in the hash `reconcile:frozen:previous`), so that
   `exchange reconcile --clear SYMBOL` puts back exactly that status and never reopens a market an operator
   had halted or set to cancel_only.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import psycopg
import redis

from exchange.engine.codec import parse_order_record
from workers.events import OPEN_STATUSES, WALLET_STREAM, stream_of
from workers.lag import (
    RECONCILE_DIFFERENCES_KEY,
    RECONCILE_FROZEN_KEY,
    RECONCILE_FROZEN_PREVIOUS_KEY,
    RECONCILE_LAST_KEY,
    RECONCILE_RUNS_KEY,
)
from workers.persist import DEFAULT_CLOSED_TTL_S, Persister, StreamRegressed

log = logging.getLogger("exchange.reconcile")

FREEZE_STATUS = "cancel_only"

# Read-only snapshot. Returns {markets: {sym: seq}, wallet_seq, supply: {asset: n}, balances: {account:
# [field, value, ...]}, orders: [[id, record], ...]} as JSON (cjson keeps integers exact below 2^53); a
# record is the engine's `order:{id}` string, parsed in Python by codec.parse_order_record (one definition
# of its layout).
SNAPSHOT_LUA = """#!lua flags=no-writes
-- ARGV: account ids. Reads only those accounts' keys (no KEYS/SCAN inside: the script stays short).
local out = {markets = {}, supply = {}, balances = {}, orders = {}}
out.wallet_seq = tonumber(redis.call('GET', 'seq:wallet') or '0')
for _, asset in ipairs(redis.call('SMEMBERS', 'assets')) do
  out.supply[asset] = redis.call('HGET', 'asset:' .. asset, 'supply') or false
end
for _, sym in ipairs(redis.call('SMEMBERS', 'markets')) do
  out.markets[sym] = tonumber(redis.call('HGET', 'market:' .. sym, 'seq') or '0')
end
for i = 1, #ARGV do
  local flat = redis.call('HGETALL', 'balance:' .. ARGV[i])
  if #flat > 0 then
    out.balances[ARGV[i]] = flat
  end
  for _, id in ipairs(redis.call('SMEMBERS', 'open:' .. ARGV[i])) do
    table.insert(out.orders, {id, redis.call('GET', 'order:' .. id) or ''})
  end
end
if next(out.supply) == nil then out.supply = nil end
if next(out.balances) == nil then out.balances = nil end
if #out.orders == 0 then out.orders = nil end
return cjson.encode(out)
"""


@dataclass
class Snapshot:
    heads: dict[str, int]
    balances: dict[tuple[int, str], tuple[int, int]]
    open_orders: dict[int, dict[str, Any]]
    supply: dict[str, int | None] = field(default_factory=dict)  # None: the counter is missing


@dataclass
class Report:
    heads: dict[str, int]
    caught_up: bool
    differences: list[dict[str, Any]] = field(default_factory=list)
    frozen_markets: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.caught_up and not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def scan_accounts(client: redis.Redis) -> set[int]:
    """Accounts with a balance or open-order key (SCAN: never blocks Redis for long)."""
    found: set[int] = set()
    for pattern in ("balance:*", "open:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            suffix = str(key).split(":", 1)[1]
            if suffix.isdigit():
                found.add(int(suffix))
    return found


def take_snapshot(client: redis.Redis, accounts: set[int]) -> Snapshot:
    """One atomic read of the stream heads and of these accounts' balances and open orders."""
    raw = json.loads(cast(str, client.eval(SNAPSHOT_LUA, 0, *sorted(accounts))))
    heads = {WALLET_STREAM: int(raw.get("wallet_seq") or 0)}
    for sym, seq in (raw.get("markets") or {}).items():
        heads[stream_of(sym)] = int(seq or 0)
    balances: dict[tuple[int, str], tuple[int, int]] = {}
    for account, flat in (raw.get("balances") or {}).items():
        if not isinstance(flat, list):  # an empty hash encodes as {}
            continue
        values = dict(zip(flat[::2], flat[1::2], strict=True))
        for name, value in values.items():
            asset, _, part = str(name).rpartition(":")
            avail, held = balances.get((int(account), asset), (0, 0))
            if part == "available":
                avail = int(value)
            elif part == "held":
                held = int(value)
            else:
                continue
            balances[(int(account), asset)] = (avail, held)
    orders: dict[int, dict[str, Any]] = {}
    for oid, record in raw.get("orders") or []:
        order = parse_order_record(int(oid), record)
        if order is None:  # an id in open:{account} without its record
            orders[int(oid)] = {"symbol": "", "side": "", "status": "", "remaining": 0}
            continue
        orders[int(oid)] = {
            "symbol": order["symbol"],
            "side": order["side"],
            "status": order["status"],
            "remaining": order["qty"] - order["filled"],
        }
    supply = {str(a): (None if n is False else int(n)) for a, n in (raw.get("supply") or {}).items()}
    return Snapshot(heads, balances, orders, supply)


def _heads_arrays(heads: dict[str, int]) -> tuple[list[str], list[int]]:
    streams = sorted(heads)
    return streams, [heads[s] for s in streams]


def ledger_balances(
    conn: psycopg.Connection[Any], heads: dict[str, int]
) -> dict[tuple[int, str], tuple[int, int]]:
    streams, seqs = _heads_arrays(heads)
    rows = conn.execute(
        "SELECT l.account, l.asset, sum(l.delta_available), sum(l.delta_held) FROM ledger l"
        " JOIN unnest(%s::text[], %s::int8[]) AS h(stream, head) ON h.stream = l.stream"
        " WHERE l.seq <= h.head GROUP BY l.account, l.asset",
        (streams, seqs),
    ).fetchall()
    return {(int(a), str(s)): (int(da), int(dh)) for a, s, da, dh in rows}


def pg_orders_as_of(
    conn: psycopg.Connection[Any], heads: dict[str, int], ids: list[int]
) -> dict[int, dict[str, Any]]:
    """Status and remaining qty of `ids` as of `heads` (the last order event at or below each head)."""
    if not ids:
        return {}
    streams, seqs = _heads_arrays(heads)
    rows = conn.execute(
        "SELECT DISTINCT ON (e.order_id) e.order_id, e.status, o.qty_lots - e.filled_lots, o.symbol"
        " FROM order_events e JOIN orders o ON o.order_id = e.order_id"
        " JOIN unnest(%s::text[], %s::int8[]) AS h(stream, head) ON h.stream = e.stream"
        " WHERE e.order_id = ANY(%s) AND e.seq <= h.head ORDER BY e.order_id, e.seq DESC",
        (streams, seqs, ids),
    ).fetchall()
    return {int(r[0]): {"status": r[1], "remaining": int(r[2]), "symbol": r[3]} for r in rows}


def pg_open_orders(conn: psycopg.Connection[Any], heads: dict[str, int]) -> dict[tuple[int, str], int]:
    """Orders open in PostgreSQL whose last event is at or below the heads (so open as of the heads):
    (order id, symbol) -> account."""
    streams, seqs = _heads_arrays(heads)
    rows = conn.execute(
        "SELECT o.order_id, o.symbol, o.account FROM orders o"
        " JOIN unnest(%s::text[], %s::int8[]) AS h(stream, head) ON h.stream = 'events:' || o.symbol"
        " WHERE o.status IN ('open', 'partially_filled') AND o.last_seq <= h.head",
        (streams, seqs),
    ).fetchall()
    return {(int(oid), str(sym)): int(acct) for oid, sym, acct in rows}


def pg_open_ids(pg_open: dict[tuple[int, str], int]) -> dict[int, str]:
    return {oid: sym for oid, sym in pg_open}


def wallet_totals(conn: psycopg.Connection[Any], wallet_head: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT asset, sum(CASE WHEN type = 'deposit' THEN amount_minor ELSE -amount_minor END)"
        " FROM wallet_ops WHERE seq <= %s GROUP BY asset",
        (wallet_head,),
    ).fetchall()
    return {str(a): int(t) for a, t in rows}


def compare(
    snap: Snapshot,
    ledger: dict[tuple[int, str], tuple[int, int]],
    pg_orders: dict[int, dict[str, Any]],
    pg_open: dict[int, str],
    totals: dict[str, int],
) -> list[dict[str, Any]]:
    """Pure: every difference between the Redis snapshot and PostgreSQL as of the same heads."""
    diffs: list[dict[str, Any]] = []
    for key in sorted(set(snap.balances) | set(ledger)):
        r, p = snap.balances.get(key, (0, 0)), ledger.get(key, (0, 0))
        if r != p:
            diffs.append({
                "kind": "balance", "account": key[0], "asset": key[1],
                "redis": {"available": r[0], "held": r[1]}, "ledger": {"available": p[0], "held": p[1]},
            })  # fmt: skip
    for oid in sorted(snap.open_orders):
        r_o = snap.open_orders[oid]
        p_o = pg_orders.get(oid)
        if p_o is None or p_o["status"] not in OPEN_STATUSES or p_o["remaining"] != r_o["remaining"]:
            diffs.append({
                "kind": "order", "order_id": oid, "symbol": r_o["symbol"],
                "redis": {"status": r_o["status"], "remaining": r_o["remaining"]},
                "postgres": None if p_o is None else {"status": p_o["status"], "remaining": p_o["remaining"]},
            })  # fmt: skip
    for oid in sorted(set(pg_open) - set(snap.open_orders)):
        diffs.append({
            "kind": "order", "order_id": oid, "symbol": pg_open[oid], "redis": None,
            "postgres": {"status": "open"},
        })  # fmt: skip
    redis_totals: dict[str, int] = {}
    for (_account, asset), (a, h) in snap.balances.items():
        redis_totals[asset] = redis_totals.get(asset, 0) + a + h
    for asset in sorted(set(redis_totals) | set(totals)):
        r_t, w_t = redis_totals.get(asset, 0), totals.get(asset, 0)
        if r_t != w_t:
            diffs.append({"kind": "total", "asset": asset, "redis": r_t, "deposits_minus_withdrawals": w_t})
    for asset in sorted(snap.supply):
        s_t, w_t = snap.supply[asset], totals.get(asset, 0)
        if s_t != w_t:
            diffs.append({"kind": "supply", "asset": asset, "redis": s_t, "deposits_minus_withdrawals": w_t})
    diffs.extend(negative_balances(snap.balances, ledger))
    return diffs


def negative_balances(
    redis_balances: dict[tuple[int, str], tuple[int, int]],
    ledger: dict[tuple[int, str], tuple[int, int]],
) -> list[dict[str, Any]]:
    """Money invariant: no available or held amount below zero, in Redis or in the ledger sums (one
    difference per source and (account, asset), even when both sides agree on the negative value)."""
    diffs: list[dict[str, Any]] = []
    for source, balances in (("redis", redis_balances), ("ledger", ledger)):
        for (account, asset), (avail, held) in sorted(balances.items()):
            if avail < 0 or held < 0:
                diffs.append({
                    "kind": "negative", "source": source, "account": account, "asset": asset,
                    "available": avail, "held": held,
                })  # fmt: skip
    return diffs


def regressed_streams(cursors: dict[str, int], heads: dict[str, int]) -> list[dict[str, Any]]:
    """Streams whose PostgreSQL cursor is ahead of the Redis head: Redis lost writes PostgreSQL has.
    `cursors` must be read before the heads (then a cursor can only be at or below its head)."""
    return [
        {"kind": "regressed", "stream": s, "cursor": c, "head": heads.get(s, 0)}
        for s, c in sorted(cursors.items())
        if c > heads.get(s, 0)
    ]


def affected_markets(diffs: list[dict[str, Any]], markets: dict[str, tuple[str, str]]) -> list[str]:
    """Markets to freeze: those trading an asset with a balance/total/supply/negative difference, those of
    bad orders, the market of a regressed market stream, and every market when the wallet stream
    regressed (any balance may then be wrong)."""
    hit: set[str] = set()
    for d in diffs:
        if d["kind"] == "order":
            hit.add(d["symbol"])
        elif d["kind"] == "regressed":
            if d["stream"] == WALLET_STREAM:
                hit.update(markets)
            else:
                hit.update(sym for sym in markets if stream_of(sym) == d["stream"])
        else:
            hit.update(sym for sym, (base, quote) in markets.items() if d["asset"] in (base, quote))
    return sorted(hit)


def _market_assets(client: redis.Redis) -> dict[str, tuple[str, str]]:
    symbols = sorted(str(s) for s in cast(set[Any], client.smembers("markets")))
    pipe = client.pipeline(transaction=False)
    for s in symbols:
        pipe.hmget(f"market:{s}", "base", "quote")
    return {s: (str(b), str(q)) for s, (b, q) in zip(symbols, pipe.execute(), strict=True)}


def freeze_markets(client: redis.Redis, symbols: list[str]) -> list[str]:
    """Switch trading markets to cancel_only (engine set_market_status); returns the ones switched.

    Only those are recorded in `reconcile:frozen` (+ their previous status in `reconcile:frozen:previous`):
    a market an operator had already halted or set to cancel_only is left alone, so `--clear` never
    reopens it. A market still frozen by an earlier run is cancel_only: not switched again, entry kept."""
    from exchange.engine.client import Engine

    engine = Engine(client)
    switched = []
    for sym in symbols:
        market = engine.market(sym)
        if market is None or market.get("status") != "trading":
            continue
        result = engine.set_market_status(sym, FREEZE_STATUS, ts_ms=int(time.time() * 1000))
        previous = str(result.get("previous") or "trading")
        if previous == FREEZE_STATUS:
            continue  # someone else switched it between the read and the call: not ours to clear
        pipe = client.pipeline(transaction=True)
        pipe.sadd(RECONCILE_FROZEN_KEY, sym)
        pipe.hset(RECONCILE_FROZEN_PREVIOUS_KEY, sym, previous)
        pipe.execute()
        switched.append(sym)
    return switched


@dataclass
class Cleared:
    """What `clear_frozen` did with each market it was given."""

    restored: dict[str, str] = field(default_factory=dict)  # market -> the status it got back
    left: dict[str, str] = field(default_factory=dict)  # forgotten, no longer cancel_only: its status now
    not_frozen: list[str] = field(default_factory=list)  # not frozen by reconciliation: untouched


def clear_markets(client: redis.Redis, symbols: list[str]) -> list[str]:
    """`clear_frozen`, returning only the markets put back."""
    return list(clear_frozen(client, symbols).restored)


def clear_frozen(client: redis.Redis, symbols: list[str]) -> Cleared:
    """Operator action: put markets frozen by reconciliation back to the status they had before (trading)
    and forget them.

    A market's status is changed only while it is still `cancel_only`: one an operator has halted (or
    reopened) since is forgotten but left as it is. An entry without a recorded previous
    status (written by an older version, which only ever switched `trading` markets) goes back to trading.
    """
    from exchange.engine.client import Engine

    engine = Engine(client)
    cleared = Cleared()
    for sym in symbols:
        pipe = client.pipeline(transaction=True)
        pipe.hget(RECONCILE_FROZEN_PREVIOUS_KEY, sym)
        pipe.srem(RECONCILE_FROZEN_KEY, sym)
        pipe.hdel(RECONCILE_FROZEN_PREVIOUS_KEY, sym)
        previous, in_set, in_hash = pipe.execute()
        if not in_set and not in_hash:
            cleared.not_frozen.append(sym)
            continue
        market = engine.market(sym)
        if market is None or market.get("status") != FREEZE_STATUS:
            log.warning("%s: no longer %s, status left as it is", sym, FREEZE_STATUS)
            cleared.left[sym] = str(market.get("status", "")) if market else ""
            continue
        status = str(previous or "trading")
        if status != FREEZE_STATUS:
            engine.set_market_status(sym, status, ts_ms=int(time.time() * 1000))
        cleared.restored[sym] = status
    return cleared


def _cursors(conn: psycopg.Connection[Any]) -> dict[str, int]:
    return {str(s): int(v) for s, v in conn.execute("SELECT stream, last_seq FROM stream_cursors").fetchall()}


def _regressed_from(
    exc: StreamRegressed, cursors: dict[str, int], heads: dict[str, int]
) -> list[dict[str, Any]]:
    """The differences for a StreamRegressed the persister raised (the entry at the cursor is gone or is
    another one, though the head may be past the cursor): one per stream it names."""
    return [
        {"kind": "regressed", "stream": stream, "cursor": cursors.get(stream, 0),
         "head": heads.get(stream, 0), "detail": str(exc)}
        for stream in exc.streams
    ]  # fmt: skip


def reconcile(
    client: redis.Redis,
    conn: psycopg.Connection[Any],
    *,
    freeze: bool = True,
    catch_up_seconds: float = 60.0,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
) -> Report:
    """Run one reconciliation (see module docstring). `client` must use decode_responses=True."""
    started = time.monotonic()
    # Accounts come from a SCAN; one created during the SCAN may be missed, so when PostgreSQL knows an
    # account the snapshot lacks, the snapshot is taken again including it (exact, and never a KEYS).
    accounts = scan_accounts(client)
    for _attempt in range(5):
        # cursors before the snapshot: the workers persist only what Redis had, so each is <= its head
        # unless Redis lost writes PostgreSQL has (then persisting on would mix two histories)
        before = _cursors(conn)
        snap = take_snapshot(client, accounts)
        regressed = regressed_streams(before, snap.heads)
        if not regressed:
            try:
                catch_up = Persister(client, conn)
                catch_up.closed_ttl_s = closed_ttl_s  # the workers' TTL for what it persists
                catch_up.drain(max_seconds=catch_up_seconds, until=snap.heads)
            except StreamRegressed as exc:
                regressed = _regressed_from(exc, _cursors(conn), snap.heads)
        if regressed:
            caught_up = False
            report = Report(heads=snap.heads, caught_up=False, differences=regressed)
            break
        cursors = _cursors(conn)
        caught_up = all(cursors.get(s, 0) >= h for s, h in snap.heads.items())
        report = Report(heads=snap.heads, caught_up=caught_up)
        if not caught_up:
            break
        ledger = ledger_balances(conn, snap.heads)
        pg_open = pg_open_orders(conn, snap.heads)
        missing = ({a for a, _asset in ledger} | set(pg_open.values())) - accounts
        if not missing:
            break
        accounts |= missing
    if caught_up:
        pg_orders = pg_orders_as_of(conn, snap.heads, sorted(snap.open_orders))
        totals = wallet_totals(conn, snap.heads[WALLET_STREAM])
        report.differences = compare(snap, ledger, pg_orders, pg_open_ids(pg_open), totals)
        report.checked = {
            "balances": len(set(snap.balances) | set(ledger)),
            "open_orders": len(snap.open_orders),
        }
    if report.differences:
        for d in report.differences:
            log.error("reconciliation difference: %s", json.dumps(d, sort_keys=True))
        client.incrby(RECONCILE_DIFFERENCES_KEY, len(report.differences))
        if freeze:
            markets = affected_markets(report.differences, _market_assets(client))
            report.frozen_markets = freeze_markets(client, markets)
    report.seconds = round(time.monotonic() - started, 3)
    client.incr(RECONCILE_RUNS_KEY)
    client.set(RECONCILE_LAST_KEY, json.dumps(report.to_dict(), default=str))
    with conn.transaction():
        conn.execute(
            "INSERT INTO reconcile_runs (heads, differences, report) VALUES (%s, %s, %s)",
            (json.dumps(report.heads), len(report.differences), json.dumps(report.to_dict(), default=str)),
        )
    return report


def reconcile_urls(
    redis_url: str, database_url: str, freeze: bool = True, closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S
) -> Report:
    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            return reconcile(client, conn, freeze=freeze, closed_ttl_s=closed_ttl_s)
    finally:
        client.close()
