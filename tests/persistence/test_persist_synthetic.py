"""Persistence of hand-written engine events (docs/engine.md "Events"), independent of the Lua engine."""

from __future__ import annotations

import json

import psycopg
import redis

from workers.persist import _array_literal, drain, redis_cursor_key

MARKET = "AAA-USDT"
WEIRD_REF = 'd2 "quoted" \\ back,slash {brace} NULL \t tab'  # every character arrays and CSV escape


def _xadd(r: redis.Redis, stream: str, seq: int, fields: dict[str, object]) -> None:
    """An entry as the engine writes it: type, ts and a `data` JSON object of string values."""
    data = {k: str(v) for k, v in fields.items() if k not in ("type", "ts")}
    r.xadd(stream, {"type": fields["type"], "ts": fields["ts"], "data": json.dumps(data)}, id=f"{seq}-0")


def _write_flow(r: redis.Redis) -> None:
    """Two deposits, a resting sell, a buy that fills it (trade + order_done), a cancel, a status change."""
    r.sadd("assets", "AAA", "USDT")
    r.hset("asset:AAA", mapping={"symbol": "AAA", "name": "A coin", "decimals": 8})
    r.hset("asset:USDT", mapping={"symbol": "USDT", "name": "Tether", "decimals": 6})
    r.sadd("markets", MARKET)
    r.hset(
        f"market:{MARKET}",
        mapping={
            "symbol": MARKET,
            "base": "AAA",
            "quote": "USDT",
            "status": "trading",
            "seq": 0,
            "book_seq": 0,
            "lot_minor": 100,
            "num": 1,
            "den": 1,
        },
    )
    w = "events:wallet"
    _xadd(
        r,
        w,
        1,
        {
            "type": "deposit",
            "ts": 1000,
            "account": 1,
            "asset": "AAA",
            "amount": 500,
            "ref": "d1",
            "ledger": "1,AAA,500,0",
        },
    )
    _xadd(
        r,
        w,
        2,
        {
            "type": "deposit",
            "ts": 1001,
            "account": 2,
            "asset": "USDT",
            "amount": 10000,
            "ref": WEIRD_REF,
            "ledger": "2,USDT,10000,0",
        },
    )
    r.hset("wallet:refs", mapping={"d1": '{"x":1}', WEIRD_REF: '{"x":"a\\\\b\\"c"}'})
    r.set("seq:wallet", 2)
    s = f"events:{MARKET}"
    _xadd(
        r,
        s,
        1,
        {
            "type": "order_accepted",
            "ts": 2000,
            "order_id": 1,
            "account": 1,
            "side": "sell",
            "order_type": "limit",
            "tif": "gtc",
            "price": 10,
            "qty": 3,
            "quote_qty": 0,
            "post_only": 0,
            "stp": "cancel_maker",
            "client_order_id": "abc",
            "hold_asset": "AAA",
            "hold": 300,
            "status": "open",
            "ledger": "1,AAA,-300,300",
        },
    )
    _xadd(
        r,
        s,
        2,
        {
            "type": "order_accepted",
            "ts": 2001,
            "order_id": 2,
            "account": 2,
            "side": "buy",
            "order_type": "limit",
            "tif": "gtc",
            "price": 11,
            "qty": 2,
            "quote_qty": 0,
            "post_only": 0,
            "stp": "cancel_maker",
            "client_order_id": "",
            "hold_asset": "USDT",
            "hold": 30,
            "status": "open",
            "ledger": "2,USDT,-30,30",
        },
    )
    _xadd(
        r,
        s,
        3,
        {
            "type": "trade",
            "ts": 2001,
            "trade_id": 1,
            "price": 10,
            "qty": 2,
            "taker_side": "buy",
            "maker_order_id": 1,
            "taker_order_id": 2,
            "maker_account": 1,
            "taker_account": 2,
            "notional": 20,
            "buyer_fee": 1,
            "seller_fee": 1,
            "maker_status": "partially_filled",
            "maker_filled": 2,
            "maker_hold": 100,
            "taker_status": "filled",
            "taker_filled": 2,
            "taker_hold": 9,
            "ledger": "2,USDT,0,-21;2,AAA,200,0;1,AAA,0,-200;1,USDT,19,0;0,USDT,2,0",
        },
    )
    _xadd(
        r,
        s,
        4,
        {
            "type": "order_done",
            "ts": 2001,
            "order_id": 2,
            "account": 2,
            "status": "filled",
            "filled": 2,
            "released": 9,
            "ledger": "2,USDT,9,-9",
        },
    )
    _xadd(
        r,
        s,
        5,
        {
            "type": "order_cancelled",
            "ts": 3000,
            "order_id": 1,
            "account": 1,
            "reason": "user",
            "status": "cancelled",
            "filled": 2,
            "released": 100,
            "ledger": "1,AAA,100,-100",
        },
    )
    _xadd(r, s, 6, {"type": "market_status", "ts": 4000, "status": "cancel_only", "previous": "trading"})
    r.hset(f"market:{MARKET}", mapping={"status": "cancel_only", "seq": 6, "book_seq": 4})


def test_drain_writes_every_table_once_and_replay_changes_nothing(redis_url: str, pg_url: str) -> None:
    """Draining twice persists each event exactly once with the cursor, ledger sums equal the balances."""
    r = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    _write_flow(r)
    assert drain(redis_url, pg_url) == 8
    assert drain(redis_url, pg_url) == 0
    with psycopg.connect(pg_url) as conn:
        cursors = dict(conn.execute("SELECT stream, last_seq FROM stream_cursors").fetchall())
        assert cursors == {"events:wallet": 2, f"events:{MARKET}": 6}
        assert conn.execute("SELECT trade_id, seq, notional_minor FROM trades").fetchall() == [(1, 3, 20)]
        fills = conn.execute(
            "SELECT liquidity, order_id, account, side, fee_minor, fee_asset FROM fills ORDER BY liquidity"
        ).fetchall()
        assert fills == [("maker", 1, 1, "sell", 1, "USDT"), ("taker", 2, 2, "buy", 1, "USDT")]
        orders = conn.execute(
            "SELECT order_id, status, filled_lots, quote_filled_minor, hold_minor, reason, client_order_id,"
            " created_ms, updated_ms FROM orders ORDER BY order_id"
        ).fetchall()
        assert orders == [
            (1, "cancelled", 2, 20, 0, "user", "abc", 2000, 3000),
            (2, "filled", 2, 20, 0, "", "", 2001, 2001),
        ]
        history = conn.execute(
            "SELECT seq, type, status FROM order_events WHERE order_id = 1 ORDER BY seq"
        ).fetchall()
        assert history == [
            (1, "order_accepted", "open"),
            (3, "trade", "partially_filled"),
            (5, "order_cancelled", "cancelled"),
        ]
        sums = dict(
            ((a, s), (int(da), int(dh)))
            for a, s, da, dh in conn.execute(
                "SELECT account, asset, sum(delta_available), sum(delta_held) FROM ledger GROUP BY 1, 2"
            )
        )
        assert sums == {
            (1, "AAA"): (300, 0),
            (1, "USDT"): (19, 0),
            (2, "USDT"): (9979, 0),
            (2, "AAA"): (200, 0),
            (0, "USDT"): (2, 0),
        }
        kinds = {k for (k,) in conn.execute("SELECT DISTINCT kind FROM ledger")}
        assert kinds == {"deposit", "hold", "trade", "fee", "release"}
        assert conn.execute("SELECT ref, result FROM wallet_ops ORDER BY seq").fetchall() == [
            ("d1", '{"x":1}'),
            (WEIRD_REF, '{"x":"a\\\\b\\"c"}'),
        ]
        assert conn.execute("SELECT status FROM markets").fetchall() == [("cancel_only",)]
        assert conn.execute("SELECT count(*) FROM assets").fetchone() == (2,)
    assert r.get(redis_cursor_key(f"events:{MARKET}")) == "6"


def test_batches_split_anywhere_give_the_same_rows(redis_url: str, pg_url: str) -> None:
    """Persisting one event per batch yields the same order projection as one big batch."""
    r = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    _write_flow(r)
    assert drain(redis_url, pg_url, batch_size=1) == 8
    with psycopg.connect(pg_url) as conn:
        orders = conn.execute(
            "SELECT order_id, status, filled_lots, quote_filled_minor, hold_minor FROM orders ORDER BY 1"
        ).fetchall()
        assert orders == [(1, "cancelled", 2, 20, 0), (2, "filled", 2, 20, 0)]
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (11,)


def test_array_literals_carry_every_value_exactly(pg_url: str) -> None:
    """Each column literal, fast path (plain strings, integers) or item by item (quotes, backslashes, NULL,
    booleans, mixed types), reads back in PostgreSQL as exactly the values it was built from."""
    columns: list[tuple[str, tuple[object, ...]]] = [
        ("text", ("BTC-USDT", "", "a b", "{x,y}", "NULL", "é")),  # fast path
        ("text", ("plain", WEIRD_REF, 'only "quotes"', "back\\slash")),
        ("text", ("x", None, "y")),
        ("int8", (0, -5, 2**53, 9)),  # fast path
        ("int8", (1, None)),
        ("int4", (0, 1, 2)),  # fast path
        ("bool", (True, False)),
    ]
    with psycopg.connect(pg_url) as conn:
        for kind, col in columns:
            (back,) = conn.execute(f"SELECT %s::{kind}[]", (_array_literal(kind, col),)).fetchone()  # type: ignore[misc]
            assert tuple(back) == col, (kind, col, back)
