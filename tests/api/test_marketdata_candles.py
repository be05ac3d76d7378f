"""Candles and older trades from PostgreSQL `trades` (known timestamps, hand-computed buckets)."""

from __future__ import annotations

import itertools

import pytest
from psycopg_pool import AsyncConnectionPool

from exchange.api.marketdata import MINUTE_MS, candles_from_db, trades_from_db

BASE = 1_700_006_400_000  # a day boundary (19676 * 86_400_000)


@pytest.fixture
async def pool(pg_url: str):
    p = AsyncConnectionPool(pg_url, min_size=1, max_size=2, open=False)
    await p.open(wait=True)
    yield p
    await p.close()


_ids = itertools.count(1)


async def insert_trades(pool, symbol: str, rows: list[tuple[int, int, int]]) -> list[int]:
    """Insert (ts_ms, price_ticks, qty_lots) trades with increasing ids and seqs; returns the ids."""
    ids = []
    async with pool.connection() as conn:
        for ts, price, qty in rows:
            tid = next(_ids)
            ids.append(tid)
            await conn.execute(
                "INSERT INTO trades (trade_id, symbol, seq, price_ticks, qty_lots, notional_minor,"
                " taker_side, maker_order_id, taker_order_id, maker_account, taker_account, buyer_fee_minor,"
                " seller_fee_minor, ts_ms) VALUES (%s,%s,%s,%s,%s,%s,'buy',1,2,1,2,0,0,%s)",
                (tid, symbol, tid, price, qty, price * qty, ts),
            )
    return ids


def bar(t, o, h, low, c, v):
    return (t, o, h, low, c, v)


def as_tuples(bars):
    return [(b.t, b.o, b.h, b.low, b.c, b.v) for b in bars]


async def test_one_minute_buckets_group_by_open_time_with_open_and_close_by_trade_id(pool):
    """1m bars: t = floor(ts / 60s) * 60s; o/c are the first/last trade by id; h/l/v aggregate."""
    await insert_trades(
        pool,
        "AAA-USD",
        [
            (BASE + 1_000, 100, 1),
            (BASE + 59_999, 105, 2),
            (BASE + 30_000, 95, 3),  # later id, earlier ts: still the close of the bucket
            (BASE + 60_000, 110, 4),  # first trade of the next bucket
            (BASE + 3 * MINUTE_MS + 5, 90, 5),  # a gap: minute 2 has no trade
        ],
    )
    bars = await candles_from_db(pool, "AAA-USD", MINUTE_MS, 10, BASE + 10 * MINUTE_MS)
    assert as_tuples(bars) == [
        bar(BASE, 100, 105, 95, 95, 6),
        bar(BASE + MINUTE_MS, 110, 110, 110, 110, 4),
        bar(BASE + 3 * MINUTE_MS, 90, 90, 90, 90, 5),
    ]


async def test_larger_intervals_aggregate_the_same_trades(pool):
    """5m and 1h buckets over the same trades."""
    await insert_trades(
        pool,
        "BBB-USD",
        [
            (BASE + 0, 10, 1),
            (BASE + 4 * MINUTE_MS, 12, 1),
            (BASE + 5 * MINUTE_MS, 8, 2),
            (BASE + 61 * MINUTE_MS, 9, 1),
        ],
    )
    five = await candles_from_db(pool, "BBB-USD", 5 * MINUTE_MS, 10, BASE + 2 * 60 * MINUTE_MS)
    assert as_tuples(five) == [
        bar(BASE, 10, 12, 10, 12, 2),
        bar(BASE + 5 * MINUTE_MS, 8, 8, 8, 8, 2),
        bar(BASE + 60 * MINUTE_MS, 9, 9, 9, 9, 1),
    ]
    hour = await candles_from_db(pool, "BBB-USD", 60 * MINUTE_MS, 10, BASE + 2 * 60 * MINUTE_MS)
    assert as_tuples(hour) == [bar(BASE, 10, 12, 8, 8, 4), bar(BASE + 60 * MINUTE_MS, 9, 9, 9, 9, 1)]


async def test_end_is_an_exclusive_bound_on_the_bucket_open_time_and_limit_keeps_the_newest(pool):
    """`end` = the first bar's t scrolls back; `limit` returns the newest N bars before `end`, ascending."""
    await insert_trades(pool, "CCC-USD", [(BASE + i * MINUTE_MS + 1, 100 + i, 1) for i in range(6)])
    newest_two = await candles_from_db(pool, "CCC-USD", MINUTE_MS, 2, BASE + 6 * MINUTE_MS)
    assert [b.t for b in newest_two] == [BASE + 4 * MINUTE_MS, BASE + 5 * MINUTE_MS]
    older = await candles_from_db(pool, "CCC-USD", MINUTE_MS, 2, newest_two[0].t)
    assert [b.t for b in older] == [BASE + 2 * MINUTE_MS, BASE + 3 * MINUTE_MS]
    # an `end` inside a bucket keeps that bucket (its open time is before `end`)
    inside = await candles_from_db(pool, "CCC-USD", MINUTE_MS, 1, BASE + 2 * MINUTE_MS + 1)
    assert [b.t for b in inside] == [BASE + 2 * MINUTE_MS]


async def test_limit_is_filled_across_long_gaps_and_other_markets_do_not_leak_in(pool):
    """Bars separated by a day-long gap are still found; another symbol's trades are ignored."""
    await insert_trades(pool, "DDD-USD", [(BASE, 50, 1), (BASE + 1440 * MINUTE_MS, 60, 1)])
    await insert_trades(pool, "EEE-USD", [(BASE + 10 * MINUTE_MS, 999, 9)])
    bars = await candles_from_db(pool, "DDD-USD", MINUTE_MS, 5, BASE + 2000 * MINUTE_MS)
    assert as_tuples(bars) == [bar(BASE, 50, 50, 50, 50, 1), bar(BASE + 1440 * MINUTE_MS, 60, 60, 60, 60, 1)]
    assert await candles_from_db(pool, "DDD-USD", MINUTE_MS, 5, BASE) == []


async def test_older_trades_come_newest_first_below_an_id(pool):
    """`trades_from_db` pages backwards by trade id within one market."""
    ids = await insert_trades(pool, "FFF-USD", [(BASE + i, 10 + i, 1) for i in range(5)])
    page = await trades_from_db(pool, "FFF-USD", ids[3], 2)
    assert [t["id"] for t in page] == [ids[2], ids[1]]
    assert page[0] == {"id": ids[2], "price": 12, "qty": 1, "side": "buy", "ts": BASE + 2}
    assert [t["id"] for t in await trades_from_db(pool, "FFF-USD", None, 10)] == ids[::-1]
