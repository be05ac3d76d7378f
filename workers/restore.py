"""`exchange restore`: rebuild the engine's Redis state from PostgreSQL after Redis was lost.

Rebuilds exactly the keys the engine keeps (docs/redis.md; the Lua library in lua/): assets and markets
(with `seq` = the persisted cursor and `book_seq`), balances (ledger sums), every order record the engine
would still hold (open orders, and closed ones unless `closed_orders=False`) in the engine's compact
encoding, books and level aggregates in time priority, `open:{account}`, `coid:{account}`, `wallet:refs`,
the recent-trades lists, the id sequences, and the persistence cursors. Streams are not rebuilt: the engine
continues them at `cursor + 1` and the workers resume from the same cursor (`persist:restored:{stream}`
tells the persister that the entry at the cursor is absent because of the restore, not a lost write). Nor
is `seq:call`: the call numbers only order the entries the streams hold, and those start afresh.

What is restored is what PostgreSQL had committed. Events the workers had not persisted when Redis died
are lost with Redis (see docs/operations.md: with `appendfsync always` and AOF intact you never need this).
A restored state hashes equal (`exchange.engine.state.state_hash(client, include_streams=False)`) to the
state it was persisted from (the hash ignores TTLs).

Closed orders without a `client_order_id` are what the workers let expire (`EXCHANGE_CLOSED_ORDER_TTL`,
`workers.persist.DEFAULT_CLOSED_TTL_S`): restore skips those closed longer than that TTL ago and gives the
others an EXPIRE for the rest of it. "Now" is the engine's clock as PostgreSQL last saw it (the latest
persisted event or order update), not this machine's. Orders with a `client_order_id` keep their record
without a TTL (the engine's retry check reads it), as live.

Logins are not engine state, but a restore must not undo a logout, nor let a token outlive its account: it
writes one entry to the stream `auth:revoked` (how the API processes learn which access tokens ended,
exchange.api.revocation) that ends every access token issued until then. Clients get new ones with their
refresh tokens, which PostgreSQL checks: a session ended (a logout, a password reset) or an account lost
with an older dump gets none. Without it, the flushed stream took every logout with it, and after loading
an older dump a token of an account created since would act as whoever is given its id next.

With `force`, reconciliation's own keys (`reconcile:*`: the markets it froze and their previous status, its
counters) survive the FLUSHDB, and a market it froze that PostgreSQL has as trading (its freeze event was
never persisted) is frozen again, so `exchange reconcile --clear` still reopens exactly those.

Restore refuses (RestoreError, before touching Redis) a state with a negative available, held or order
hold amount: PostgreSQL itself is then inconsistent, and the engine must never run on it.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any, cast

import psycopg
import redis

from exchange.api.revocation import STREAM as REVOKED_STREAM
from exchange.api.revocation import all_accounts_entry
from exchange.engine.codec import order_record
from workers.events import OPEN_STATUSES, WALLET_STREAM, stream_of
from workers.persist import DEFAULT_CLOSED_TTL_S, redis_cursor_key, restored_key

TRADES_KEPT = 200  # the engine's U.TRADES_KEPT


class RestoreError(RuntimeError):
    pass


class NegativeBalanceError(RestoreError):
    """PostgreSQL's ledger sums (or an order's hold) are negative: restoring would create money."""


EXPIRE_PREFIX = "expire:"  # build_state: ("expire:" + key) -> ("ttl", seconds), applied after the keys
NEGATIVES_SHOWN = 10


def order_object(row: dict[str, Any]) -> dict[str, Any]:
    """The engine's order object for a PostgreSQL orders row (written as its `order:{id}` record)."""
    return {
        "id": int(row["order_id"]), "account": int(row["account"]), "symbol": row["symbol"],
        "side": row["side"], "type": row["type"], "tif": row["tif"], "price": int(row["price_ticks"]),
        "qty": int(row["qty_lots"]), "quote_qty": int(row["quote_qty_minor"]),
        "filled": int(row["filled_lots"]),
        "quote_filled": int(row["quote_filled_minor"]), "hold": int(row["hold_minor"]),
        "hold_asset": row["hold_asset"], "status": row["status"], "reason": row["reason"] or "",
        "post_only": 1 if row["post_only"] else 0, "stp": row["stp"],
        "client_order_id": row["client_order_id"] or "", "created_ms": int(row["created_ms"]),
        "updated_ms": int(row["updated_ms"]),
    }  # fmt: skip


def _rows(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(query.encode(), params)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _check_not_negative(negatives: list[str]) -> None:
    if negatives:
        shown = "; ".join(negatives[:NEGATIVES_SHOWN])
        more = f" (and {len(negatives) - NEGATIVES_SHOWN} more)" if len(negatives) > NEGATIVES_SHOWN else ""
        raise NegativeBalanceError(
            f"refusing to restore: PostgreSQL has negative amounts: {shown}{more}. The ledger is not a"
            " consistent state (e.g. the wallet stream was persisted past market events that were not);"
            " Redis was left untouched"
        )


def build_state(
    conn: psycopg.Connection[Any],
    closed_orders: bool = True,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
) -> dict[str, Any]:
    """Everything to write, as plain Python (key -> (type, value)); no Redis access. Keys
    `expire:{key}` -> ("ttl", seconds) are not keys: `write_state` EXPIREs `{key}` with them.
    Raises NegativeBalanceError (a RestoreError) if a balance, hold or order hold would be negative."""
    keys: dict[str, tuple[str, Any]] = {}
    cursor_rows = _rows(conn, "SELECT stream, last_seq, last_ts_ms FROM stream_cursors")
    cursors = {r["stream"]: int(r["last_seq"]) for r in cursor_rows}

    assets = _rows(conn, "SELECT symbol, name, decimals FROM assets ORDER BY symbol")
    if assets:
        keys["assets"] = ("set", [a["symbol"] for a in assets])
    for a in assets:
        keys[f"asset:{a['symbol']}"] = (
            "hash", {"symbol": a["symbol"], "name": a["name"], "decimals": str(a["decimals"])}
        )  # fmt: skip
    markets = _rows(conn, "SELECT symbol, status, spec, book_seq, book_seq_at FROM markets ORDER BY symbol")
    if markets:
        keys["markets"] = ("set", [m["symbol"] for m in markets])
    for m in markets:
        spec = m["spec"] if isinstance(m["spec"], dict) else json.loads(m["spec"])
        spec["status"] = m["status"]  # the column follows market_status events exactly
        seq = cursors.get(stream_of(m["symbol"]), 0)
        # exact when the worker saw the head at the cursor; else an upper bound (each call that changes the
        # book writes at least one event), so clients see a gap and resubscribe rather than a stale seq
        book_seq = int(m["book_seq"]) + max(0, seq - int(m["book_seq_at"]))
        keys[f"market:{m['symbol']}"] = ("hash", {**spec, "seq": str(seq), "book_seq": str(book_seq)})

    # balances: ledger sums (both fields exist for every (account, asset) the engine ever touched); the
    # supply of an asset is the sum of its balances (== deposits - withdrawals, which reconcile proves)
    balances: dict[str, dict[str, str]] = defaultdict(dict)
    supply: dict[str, int] = {a["symbol"]: 0 for a in assets}
    negatives: list[str] = []
    for r in _rows(
        conn,
        "SELECT account, asset, sum(delta_available) AS a, sum(delta_held) AS h FROM ledger"
        " GROUP BY account, asset ORDER BY account, asset",
    ):
        if int(r["a"]) < 0 or int(r["h"]) < 0:
            negatives.append(
                f"account {r['account']} asset {r['asset']} available {int(r['a'])} held {int(r['h'])}"
            )
        balances[f"balance:{r['account']}"][f"{r['asset']}:available"] = str(int(r["a"]))
        balances[f"balance:{r['account']}"][f"{r['asset']}:held"] = str(int(r["h"]))
        supply[r["asset"]] = supply.get(r["asset"], 0) + int(r["a"]) + int(r["h"])
    for key, fields in balances.items():
        keys[key] = ("hash", fields)
    for asset, total in supply.items():
        if f"asset:{asset}" in keys:
            keys[f"asset:{asset}"][1]["supply"] = str(total)

    where = "" if closed_orders else " WHERE status IN ('open', 'partially_filled')"
    orders = _rows(conn, f"SELECT * FROM orders{where} ORDER BY order_id")
    # the engine's clock as PostgreSQL last saw it (the latest persisted event or order update)
    now_ms = max(
        [int(r["last_ts_ms"] or 0) for r in cursor_rows] + [int(o["updated_ms"]) for o in orders] + [0]
    )
    books: dict[str, list[tuple[float, str]]] = defaultdict(list)
    levels: dict[str, dict[int, list[int]]] = defaultdict(dict)
    open_sets: dict[str, list[str]] = defaultdict(list)
    for o in orders:
        oid = int(o["order_id"])
        if int(o["hold_minor"]) < 0:
            negatives.append(
                f"order {oid} account {o['account']} hold {int(o['hold_minor'])} {o['hold_asset']}"
            )
        if o["status"] not in OPEN_STATUSES and not o["client_order_id"] and closed_ttl_s is not None:
            # what the workers let expire: gone if closed more than the TTL ago, else the rest of the TTL
            left_s = closed_ttl_s - (now_ms - int(o["updated_ms"])) // 1000
            if left_s <= 0:
                continue
            keys[f"{EXPIRE_PREFIX}order:{oid}"] = ("ttl", left_s)
        keys[f"order:{oid}"] = ("string", order_record(order_object(o)))
        if o["status"] not in OPEN_STATUSES:
            continue
        side = "bids" if o["side"] == "buy" else "asks"
        price = int(o["price_ticks"])
        score = -price if side == "bids" else price
        books[f"book:{o['symbol']}:{side}"].append((float(score), f"{oid:016d}"))
        level = levels[f"{o['symbol']}:{side}"].setdefault(price, [0, 0])
        level[0] += int(o["qty_lots"]) - int(o["filled_lots"])
        level[1] += 1
        open_sets[f"open:{o['account']}"].append(str(oid))
    for key, members in books.items():
        keys[key] = ("zset", members)
    for sym_side, by_price in levels.items():
        for p, (q, n) in by_price.items():
            keys[f"level:{sym_side}:{p}"] = ("string", f"{q} {n}")
        keys[f"depth:{sym_side}"] = (
            "zset",
            [(float(-p if sym_side.endswith(":bids") else p), str(p)) for p in by_price],
        )
    for key, ids in open_sets.items():
        keys[key] = ("set", ids)
    _check_not_negative(negatives)

    coids: dict[str, dict[str, str]] = defaultdict(dict)
    for r in _rows(
        conn,
        "SELECT account, client_order_id, order_id FROM orders WHERE client_order_id <> '' ORDER BY order_id",
    ):
        coids[f"coid:{r['account']}"][r["client_order_id"]] = str(r["order_id"])
    for key, fields in coids.items():
        keys[key] = ("hash", fields)

    refs = {r["ref"]: r["result"] for r in _rows(conn, "SELECT ref, result FROM wallet_ops ORDER BY seq")}
    if refs:
        keys["wallet:refs"] = ("hash", refs)

    for m in markets:
        trades = _rows(
            conn,
            "SELECT trade_id, price_ticks, qty_lots, taker_side, ts_ms FROM trades WHERE symbol = %s"
            " ORDER BY trade_id DESC LIMIT %s",
            (m["symbol"], TRADES_KEPT),
        )
        if trades:
            keys[f"trades:{m['symbol']}"] = (
                "list",
                [
                    f'{{"id":{t["trade_id"]},"price":{t["price_ticks"]},"qty":{t["qty_lots"]},'
                    f'"side":"{t["taker_side"]}","ts":{t["ts_ms"]}}}'
                    for t in trades
                ],
            )

    seqs = _rows(
        conn,
        "SELECT (SELECT max(order_id) FROM orders) AS o, (SELECT max(trade_id) FROM trades) AS t",
    )[0]
    if seqs["o"] is not None:
        keys["seq:order"] = ("string", str(seqs["o"]))
    if seqs["t"] is not None:
        keys["seq:trade"] = ("string", str(seqs["t"]))
    if cursors.get(WALLET_STREAM, 0) > 0:
        keys["seq:wallet"] = ("string", str(cursors[WALLET_STREAM]))
    for stream, seq in cursors.items():
        if seq > 0:
            keys[redis_cursor_key(stream)] = ("string", str(seq))
            # the stream restarts after the cursor: the persisted entry is legitimately absent
            keys[restored_key(stream)] = ("string", str(seq))
    return keys


def write_state(client: redis.Redis, keys: dict[str, tuple[str, Any]]) -> None:
    pipe = client.pipeline(transaction=True)
    for key, (kind, value) in keys.items():
        if kind == "ttl":
            continue  # after every key is written (below), in the same MULTI
        if kind == "string":
            pipe.set(key, value)
        elif kind == "hash":
            if value:
                pipe.hset(key, mapping=value)
        elif kind == "set":
            if value:
                pipe.sadd(key, *value)
        elif kind == "zset":
            if value:
                pipe.zadd(key, {member: score for score, member in value})
        elif kind == "list":
            if value:
                pipe.rpush(key, *value)
        else:
            raise RestoreError(f"unknown key type {kind} for {key}")
    for key, (kind, value) in keys.items():
        if kind == "ttl":
            pipe.expire(key.removeprefix(EXPIRE_PREFIX), int(value))
    pipe.execute()


# Reconciliation's own keys (which markets it froze and their status before, its counters and last report)
# describe the data; they are not data. A --force restore keeps them, so `exchange reconcile --clear` still
# knows what to reopen after it (docs/operations.md, "REGRESSED").
KEPT_PATTERN = "reconcile:*"


def _read_kept(client: redis.Redis) -> list[tuple[str, str, Any]]:
    """(key, type, value) of every string, set and hash matching KEPT_PATTERN."""
    kept: list[tuple[str, str, Any]] = []
    for key in client.scan_iter(match=KEPT_PATTERN, count=1000):
        kind = str(client.type(key))
        if kind == "string":
            kept.append((key, kind, client.get(key)))
        elif kind == "set":
            kept.append((key, kind, client.smembers(key)))
        elif kind == "hash":
            kept.append((key, kind, client.hgetall(key)))
    return kept


def _write_kept(client: redis.Redis, kept: list[tuple[str, str, Any]]) -> None:
    pipe = client.pipeline(transaction=False)
    for key, kind, value in kept:
        if kind == "string" and value is not None:
            pipe.set(key, value)
        elif kind == "set" and value:
            pipe.sadd(key, *value)
        elif kind == "hash" and value:
            pipe.hset(key, mapping=value)
    pipe.execute()


def _refreeze(client: redis.Redis, now_ms: int) -> list[str]:
    """Markets reconciliation froze that PostgreSQL has as trading (the freeze's own event was in a stream
    that regressed, so it was never persisted) are frozen again: they stay cancel_only until `--clear`."""
    from exchange.engine.client import Engine
    from workers.reconcile import FREEZE_STATUS, RECONCILE_FROZEN_KEY

    engine = Engine(client)
    again = []
    for sym in sorted(str(s) for s in cast(set[Any], client.smembers(RECONCILE_FROZEN_KEY))):
        market = engine.market(sym)
        if market is not None and market.get("status") == "trading":
            engine.set_market_status(sym, FREEZE_STATUS, ts_ms=now_ms)
            again.append(sym)
    return again


def restore(
    client: redis.Redis,
    conn: psycopg.Connection[Any],
    *,
    force: bool = False,
    closed_orders: bool = True,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
) -> dict[str, int]:
    """Rebuild the engine state in `client`'s database from PostgreSQL; returns counts per kind of key.
    `closed_ttl_s`: the workers' closed-order TTL (None: they keep closed orders forever)."""
    if cast(int, client.dbsize()) and not force:
        raise RestoreError(
            "Redis is not empty: refusing to restore over live data (use --force to FLUSHDB first)"
        )
    keys = build_state(conn, closed_orders=closed_orders, closed_ttl_s=closed_ttl_s)
    kept = _read_kept(client)
    if force:
        client.flushdb()
    from exchange.engine.client import Engine

    Engine(client).load()  # FUNCTION LOAD (functions survive FLUSHDB, not a lost server)
    write_state(client, keys)
    _write_kept(client, kept)
    now_ms = int(time.time() * 1000)
    client.xadd(REVOKED_STREAM, cast(Any, all_accounts_entry(now_ms)))
    _refreeze(client, now_ms)
    summary: dict[str, int] = defaultdict(int)
    for key, (kind, _value) in keys.items():
        if kind == "ttl":
            continue
        summary[key.split(":", 1)[0]] += 1
    return dict(sorted(summary.items()))


def restore_urls(
    redis_url: str,
    database_url: str,
    *,
    force: bool = False,
    closed_orders: bool = True,
    closed_ttl_s: int | None = DEFAULT_CLOSED_TTL_S,
) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            return restore(client, conn, force=force, closed_orders=closed_orders, closed_ttl_s=closed_ttl_s)
    finally:
        client.close()
